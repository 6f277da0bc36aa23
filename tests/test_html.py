"""Pure parts of the server-rendered status page: header text contrast and what a preview adds."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from app import html
from app.snapshot import PageInfo, assemble

AA = 4.5


@pytest.mark.parametrize(("background", "text"), [
    ("#ffffff", html.NEAR_BLACK), ("#fde047", html.NEAR_BLACK), ("#0f172a", html.WHITE), ("#2563eb", html.WHITE),
    ("#CF222E", html.WHITE), ("#abc", html.NEAR_BLACK),
])
def test_header_text_is_white_on_dark_colours_and_near_black_on_light_ones(background, text):
    assert html.header_text_color(background) == text


def test_header_text_meets_aa_contrast_on_every_header_colour():
    shades = "0123456789abcdef"
    worst = min(html.contrast_ratio(f"#{r}{g}{b}", html.header_text_color(f"#{r}{g}{b}"))
                for r, g, b in itertools.product(shades, repeat=3))
    assert worst >= AA


def test_contrast_ratio_matches_the_wcag_extremes():
    assert html.contrast_ratio("#000", "#fff") == pytest.approx(21.0)
    assert html.contrast_ratio("#777", "#777") == pytest.approx(1.0)


def _snapshot(**page_options):
    options = {"id": 1, "slug": "acme", "title": "Acme <Cloud>", "description": "", "public": True, "active": True,
               "custom_domain": None, "time_zone": "UTC", "theme": "dark", "brand_color": "#2563eb",
               "footer_text": "", "updated_at": datetime.now(UTC), **page_options}
    return assemble(PageInfo(**options), "http://test/status/acme", [], [])


def test_a_header_colour_sets_the_header_and_its_readable_text():
    body = html.status_page(_snapshot(header_color="#0f172a"), live_url="/status/acme/live")

    assert "--header-bg: #0f172a; --header-fg: #ffffff;" in body
    assert '<header class="branded">' in body
    assert 'data-theme="dark"' in body


def test_a_broken_stored_colour_is_left_out_of_the_stylesheet():
    body = html.status_page(_snapshot(header_color="red;}</style><script>", brand_color="x"),
                            live_url="/status/acme/live")

    assert "red;}" not in body
    assert "--header-bg:" not in body and '<header class="branded">' not in body
    assert "--brand: #2563eb;" in body


@pytest.mark.parametrize(("options", "says"), [
    ({"active": False}, "this page is a draft: visitors cannot see it until it is activated."),
    ({"public": False}, "this page is private: only signed-in staff can see it."),
    ({"active": False, "public": False}, "this page is a draft and private"),
])
def test_a_preview_has_a_banner_saying_why_visitors_cannot_see_it_and_no_live_script(options, says):
    preview = html.status_page(_snapshot(**options), live_url="", preview=True)
    public = html.status_page(_snapshot(), live_url="/status/acme/live")

    assert "Preview —" in preview and says in preview
    assert "EventSource" not in preview
    assert "Preview —" not in public and "EventSource" in public


def test_a_preview_takes_images_from_the_staff_route():
    preview = html.status_page(_snapshot(logo_file="a" * 32 + ".png", active=False), live_url="", preview=True)

    assert f'src="/admin/uploads/{"a" * 32}.png" alt="Acme &lt;Cloud&gt;"' in preview

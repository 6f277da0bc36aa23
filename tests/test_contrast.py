"""WCAG AA contrast of the public status page's colours, read from the stylesheet that is served, in the light
and the dark theme: text 4.5:1 on every background it sits on, status colours and the "no data" grey 3:1 as
graphics (the uptime bars, the incident borders) and 4.5:1 where they colour text (the status pills)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.html import contrast_ratio

CSS = (Path(__file__).parent.parent / "app" / "templates" / "status.css").read_text()
TEXT = 4.5
GRAPHIC = 3.0
STATUSES = ("ok", "degraded", "partial", "major", "maintenance")


def _variables(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([\w-]+):\s*(#[0-9a-fA-F]{6})", block))


def _block(selector: str) -> str:
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert match, f"{selector} is missing from status.css"
    return match.group(1)


LIGHT = _variables(_block(":root"))
DARK = {**LIGHT, **_variables(_block('html[data-theme="dark"]'))}
THEMES = pytest.mark.parametrize("theme", [LIGHT, DARK], ids=["light", "dark"])


def test_following_the_visitors_dark_preference_uses_the_dark_theme_colours():
    auto = _variables(_block('@media (prefers-color-scheme: dark) { html[data-theme="auto"]'))

    assert auto == _variables(_block('html[data-theme="dark"]'))


@THEMES
@pytest.mark.parametrize("background", ["bg", "card"])
@pytest.mark.parametrize("text", ["fg", "muted", "link", *STATUSES])
def test_text_is_readable_on_the_page_and_on_cards(theme: dict[str, str], background: str, text: str):
    assert contrast_ratio(theme[text], theme[background]) >= TEXT


@THEMES
@pytest.mark.parametrize("colour", [*STATUSES, "nodata"])
def test_uptime_bars_stand_out_from_the_card_they_sit_on(theme: dict[str, str], colour: str):
    assert contrast_ratio(theme[colour], theme["card"]) >= GRAPHIC


@THEMES
@pytest.mark.parametrize("status", STATUSES)
def test_white_text_is_readable_on_the_banner_and_tags(theme: dict[str, str], status: str):
    assert contrast_ratio("#ffffff", theme[f"{status}-solid"]) >= TEXT


@THEMES
def test_bar_tooltips_are_readable(theme: dict[str, str]):
    # the tooltip swaps the page's colours: --bg text on an --fg box
    assert contrast_ratio(theme["bg"], theme["fg"]) >= TEXT


@THEMES
def test_a_hovered_bar_outline_stands_out_from_the_card(theme: dict[str, str]):
    assert contrast_ratio(theme["fg"], theme["card"]) >= GRAPHIC

"""The page editor and the staff preview through NiceGUI's simulated user (no browser, no JavaScript)."""

from __future__ import annotations

import asyncio
import time

from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing import User

from app.auth import Actor
from app.runtime import state
from app.services import pages, users
from app.snapshot import store
from storage.models import AuditEntryRow
from tests.conftest import settle
from tests.images import SVG, png

SYSTEM = Actor.system("test")
EMAIL, PASSWORD = "owner@example.com", "correct horse"
PREVIEW_DEADLINE_SECONDS = 3.0


async def _signed_in(user: User) -> None:
    await users.create_first_owner(email=EMAIL, password=PASSWORD)
    state.has_owner = True
    await user.open("/login")
    user.find("E-mail").type(EMAIL)
    user.find("Password").type(PASSWORD)
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)


async def _page(**options):
    page = await pages.create_page(SYSTEM, title="Acme Cloud", slug="acme", **options)
    await settle()
    return page


def _pick_colour(user: User, label: str, value: str) -> None:
    """What typing or the colour picker does (the simulated user cannot type into a colour input)."""
    with user:
        next(iter(user.find(label).elements)).set_value(value)


def _upload(user: User, kind: str) -> ui.upload:
    return next(iter(user.find(marker=f"upload-{kind}").elements))


async def _preview_shows(user: User, text: str) -> str:
    """The preview's HTML once it contains ``text`` (it is rendered after a pause in typing)."""
    iframe = next(iter(user.find(marker="preview").elements))
    deadline = time.monotonic() + PREVIEW_DEADLINE_SECONDS
    while text not in iframe.props.get("srcdoc", ""):
        assert time.monotonic() < deadline, f"the preview never showed {text!r}"
        await asyncio.sleep(0.05)
    return iframe.props["srcdoc"]


async def test_the_editor_requires_sign_in(user: User):
    await users.create_first_owner(email=EMAIL, password=PASSWORD)
    state.has_owner = True
    page = await _page()

    await user.open(f"/admin/pages/{page.id}")

    await user.should_see("Sign in to Beacon")


async def test_editing_settings_and_saving_changes_the_public_page(user: User):
    await _signed_in(user)
    page = await _page()
    await user.open(f"/admin/pages/{page.id}")
    await user.should_see("Appearance")

    user.find("Title").clear().type("Acme Platform")
    user.find("Footer text").type("© Acme Inc.")
    _pick_colour(user, "Header colour", "#0f172a")
    user.find("Theme").click()
    user.find("Dark").click()
    user.find("30 days").click()
    user.find("Show response times").click()
    user.find("Incident history (days)").clear().type("30")
    user.find("Save").click()
    await user.should_see("Page settings saved")
    await settle()

    shown = store.by_slug("acme").page
    assert (shown.title, shown.footer_text, shown.header_color, shown.theme) == \
        ("Acme Platform", "© Acme Inc.", "#0f172a", "dark")
    assert (shown.uptime_days, shown.show_response_times, shown.incident_history_days) == (30, False, 30)
    entry = await AuditEntryRow.filter(action="page.update").order_by("-seq").first()
    assert entry.actor_label == EMAIL


async def test_a_bad_value_shows_its_message_on_the_field_when_it_is_left(user: User):
    await _signed_in(user)
    page = await _page()
    await user.open(f"/admin/pages/{page.id}")

    user.find("Slug").clear().type("Acme Cloud").trigger("blur")
    _pick_colour(user, "Brand colour", "blue")
    user.find("Brand colour").trigger("blur")
    user.find("Incident history (days)").clear().type("500").trigger("blur")

    await user.should_see("A slug cannot contain spaces")
    await user.should_see("Use a colour such as #2563eb or #26e.")
    await user.should_see("Keep between 1 and 365 days of incident history.")
    user.find("Save").click()
    await user.should_see("Some settings need attention")
    assert (await pages.get_page(page.id)).slug == "acme"

    user.find("Slug").clear().type("acme-cloud")  # fixing the value takes the message away at once
    await user.should_not_see("A slug cannot contain spaces")


async def test_a_slug_another_page_uses_is_refused_on_save_with_the_message_on_the_slug(user: User):
    await _signed_in(user)
    page = await _page()
    await pages.create_page(SYSTEM, title="Other", slug="other")
    await user.open(f"/admin/pages/{page.id}")

    user.find("Slug").clear().type("other").trigger("blur")
    user.find("Save").click()

    await user.should_see("The slug 'other' is already used by another page.")
    assert (await pages.get_page(page.id)).slug == "acme"


async def test_activate_publishes_a_draft(user: User):
    await _signed_in(user)
    page = await _page(active=False)
    await user.open(f"/admin/pages/{page.id}")
    await user.should_see("Draft")
    await user.should_see("A draft is visible only to signed-in staff")

    user.find(kind=ui.button, content="Activate").click()

    await user.should_see("'Acme Cloud' is active")
    await user.should_see("/status/acme")
    await user.should_not_see("A draft is visible only to signed-in staff")
    await settle()
    assert store.by_slug("acme").visible


async def test_the_preview_shows_unsaved_edits_without_saving_them(user: User):
    await _signed_in(user)
    page = await _page()
    await user.open(f"/admin/pages/{page.id}")
    await _preview_shows(user, "Acme Cloud")

    user.find("Title").clear().type("Acme Next")
    _pick_colour(user, "Header colour", "#fde047")

    srcdoc = await _preview_shows(user, "<h1>Acme Next</h1>")
    assert "--header-bg: #fde047; --header-fg: #1f2328;" in srcdoc
    assert "Preview —" in srcdoc
    assert (await pages.get_page(page.id)).title == "Acme Cloud"


async def test_uploading_a_logo_shows_it_and_a_refused_file_says_why(user: User):
    await _signed_in(user)
    page = await _page()
    await user.open(f"/admin/pages/{page.id}")
    await _upload(user, "logo").handle_uploads([SmallFileUpload("logo.png", "image/png", png(40, 20))])
    await user.should_see("Logo uploaded")
    await user.should_see(marker="remove-logo")
    await settle()
    name = (await pages.get_page(page.id)).logo_file
    assert name and name in await _preview_shows(user, name)

    await _upload(user, "logo").handle_uploads([SmallFileUpload("evil.svg", "image/svg+xml", SVG)])
    await user.should_see("SVG images are not accepted because they can carry scripts")
    assert (await pages.get_page(page.id)).logo_file == name

    user.find(marker="remove-logo").click()
    await user.should_see("Logo removed")
    assert (await pages.get_page(page.id)).logo_file is None


async def test_an_oversized_favicon_is_refused_before_it_is_read(user: User):
    await _signed_in(user)
    page = await _page()
    await user.open(f"/admin/pages/{page.id}")
    await _upload(user, "favicon").handle_uploads([SmallFileUpload("big.png", "image/png", png(pad_to=200 * 1024))])

    await user.should_see("The favicon can be at most 128 KiB; this file is 200 KiB.")
    assert (await pages.get_page(page.id)).favicon_file is None


async def test_signed_in_staff_see_a_drafts_preview_and_others_get_404(user: User):
    page = await _page(active=False)
    await pages.set_page_image(SYSTEM, page.id, "logo", "logo.png", png())

    anonymous = await user.http_client.get("/admin/preview/acme")
    anonymous_image = await user.http_client.get(f"/admin/uploads/{(await pages.get_page(page.id)).logo_file}")
    await _signed_in(user)
    staff = await user.http_client.get("/admin/preview/acme")
    staff_image = await user.http_client.get(f"/admin/uploads/{(await pages.get_page(page.id)).logo_file}")
    unknown = await user.http_client.get("/admin/preview/nothing-here")

    assert (anonymous.status_code, anonymous_image.status_code) == (404, 404)
    assert "Acme" not in anonymous.text
    assert staff.status_code == 200
    assert "Preview — this page is a draft" in staff.text
    assert staff.headers["cache-control"] == "private, no-store"
    assert staff_image.status_code == 200 and staff_image.headers["content-type"] == "image/png"
    assert unknown.status_code == 404

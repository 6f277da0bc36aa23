"""Page settings, activation and brand images through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import audit, events
from app.auth import Actor
from app.enums import Role
from app.events import bus
from app.services import pages
from app.services.errors import Forbidden, Invalid, NotFound
from app.snapshot import store
from storage.models import AuditEntryRow, StatusPage
from tests.conftest import settle
from tests.images import GIF, ICO_HEAD, JPEG_HEAD, SVG, WEBP_HEAD, png

OWNER = Actor.system("test")
READ_ONLY = Actor(kind="user", id=1, label="ro@x", role=Role.READ_ONLY)
KIB = 1024


async def _page(**options) -> StatusPage:
    page = await pages.create_page(OWNER, title="Acme", slug="acme", **options)
    await settle()
    return page


def _uploads(settings) -> list[Path]:
    folder = settings.data_dir / "uploads"
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


@pytest.fixture
async def page_events():
    seen: list[events.Event] = []

    async def record(event: events.Event) -> None:
        seen.append(event)

    bus.subscribe(record, [events.PAGE_UPDATED])
    try:
        yield seen
    finally:
        bus.unsubscribe(record)


BAD_SETTINGS = [
    ("title", "   ", "Enter a title."),
    ("slug", "Acme", "A slug must be lowercase."),
    ("slug", "admin", "'admin' is reserved"),
    ("time_zone", "Mars/Olympus_Mons", "Choose a time zone from the list"),
    ("time_zone", "../../etc/passwd", "Choose a time zone from the list"),
    ("theme", "sepia", "Choose light, dark or auto"),
    ("brand_color", "blue", "Use a colour such as #2563eb"),
    ("brand_color", "#12345", "Use a colour such as #2563eb"),
    ("brand_color", "", "Use a colour such as #2563eb"),
    ("header_color", "#ggg", "Use a colour such as #2563eb"),
    ("header_color", "red; background: url(x)", "Use a colour such as #2563eb"),
    ("uptime_days", 45, "Show 30, 60 or 90 days of uptime."),
    ("uptime_days", "ninety", "Show 30, 60 or 90 days of uptime."),
    ("incident_history_days", 0, "Keep between 1 and 365 days of incident history."),
    ("incident_history_days", 366, "Keep between 1 and 365 days of incident history."),
    ("incident_history_days", 7.5, "Keep between 1 and 365 days of incident history."),
    ("footer_text", "x" * 1001, "The footer text can be at most 1000 characters."),
    ("description", "x" * 1001, "The description can be at most 1000 characters."),
    ("show_response_times", "yes", "Choose on or off."),
    ("public", None, "Choose on or off."),
    ("custom_domain", "https://status.example.com", "Enter a host name"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_SETTINGS,
                         ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD_SETTINGS])
async def test_each_bad_setting_is_refused_with_a_message_on_its_field_and_nothing_changes(
        beacon, field, value, message):
    page = await _page()
    before = (await StatusPage.filter(id=page.id).values(*pages.EDITABLE))[0]
    audit_count = await AuditEntryRow.all().count()

    with pytest.raises(Invalid) as refused:
        await pages.update_page(OWNER, page.id, **{field: value})

    assert list(refused.value.errors) == [field]
    assert message in refused.value.errors[field]
    assert pages.setting_problem(field, value) is not None  # the editor shows the same message on the spot
    assert (await StatusPage.filter(id=page.id).values(*pages.EDITABLE))[0] == before
    assert await AuditEntryRow.all().count() == audit_count


async def test_good_settings_are_saved_tidied_and_shown_on_the_page(beacon, page_events):
    page = await _page()

    saved = await pages.update_page(
        OWNER, page.id, time_zone=" Europe/Berlin ", theme="dark", brand_color="#AbC", header_color="#0F172A",
        footer_text="© Acme Inc.\nAll rights reserved.", uptime_days=30.0, incident_history_days="30",
        show_response_times=False, custom_domain="Status.Acme.test.")
    await settle()

    assert (saved.time_zone, saved.theme, saved.brand_color, saved.header_color) == \
        ("Europe/Berlin", "dark", "#abc", "#0f172a")
    assert (saved.uptime_days, saved.incident_history_days, saved.show_response_times) == (30, 30, False)
    assert saved.custom_domain == "status.acme.test"
    shown = store.by_slug("acme").page
    assert (shown.theme, shown.header_color, shown.uptime_days, shown.footer_text) == \
        ("dark", "#0f172a", 30, "© Acme Inc.\nAll rights reserved.")
    entry = await AuditEntryRow.filter(action="page.update").order_by("-seq").first()
    assert entry.changes["theme"] == {"old": "auto", "new": "dark"}
    assert [e.data["page_id"] for e in page_events] == [page.id]


async def test_an_empty_header_colour_means_a_plain_header(beacon):
    page = await _page()
    await pages.update_page(OWNER, page.id, header_color="#123456")

    cleared = await pages.update_page(OWNER, page.id, header_color="  ")

    assert cleared.header_color is None


async def test_activating_a_draft_publishes_it_once_with_an_audit_entry(beacon, page_events):
    page = await _page(active=False)
    assert not store.by_slug("acme").visible

    activated = await pages.activate(OWNER, page.id)
    await settle()
    again = await pages.activate(OWNER, page.id)
    await settle()

    assert activated.active and again.active
    assert store.by_slug("acme").visible
    entries = await AuditEntryRow.filter(action="page.activate")
    assert len(entries) == 1  # activating an active page changes nothing
    assert entries[0].changes == {"active": {"old": False, "new": True}}
    assert [e.data["changes"] for e in page_events] == [{"active": {"old": False, "new": True}}]


async def test_read_only_staff_can_neither_activate_nor_upload(beacon, settings):
    page = await _page(active=False)

    with pytest.raises(Forbidden):
        await pages.activate(READ_ONLY, page.id)
    with pytest.raises(Forbidden):
        await pages.set_page_image(READ_ONLY, page.id, "logo", "logo.png", png())

    assert not (await pages.get_page(page.id)).active
    assert _uploads(settings) == []


async def test_activating_a_missing_page_says_so(beacon):
    with pytest.raises(NotFound):
        await pages.activate(OWNER, 999)


@pytest.mark.parametrize(("data", "extension"), [
    (png(), "png"), (JPEG_HEAD + b"\x00" * 64, "jpg"), (GIF, "gif"), (WEBP_HEAD + b"\x00" * 32, "webp"),
    (ICO_HEAD, "ico"),
], ids=["png", "jpeg", "gif", "webp", "ico"])
async def test_a_logo_of_each_accepted_type_is_stored_under_its_content_hash(beacon, settings, data, extension):
    page = await _page()

    saved = await pages.set_page_image(OWNER, page.id, "logo", "whatever.name", data)
    await settle()

    assert saved.logo_file.endswith(f".{extension}")
    stored = settings.data_dir / "uploads" / saved.logo_file
    assert stored.read_bytes() == data
    assert store.by_slug("acme").page.logo_file == saved.logo_file
    entry = await AuditEntryRow.filter(action="page.update").order_by("-seq").first()
    assert entry.changes["logo_file"] == {"old": None, "new": saved.logo_file, "uploaded": "whatever.name"}


async def test_the_same_image_twice_is_one_file_and_one_change(beacon, settings):
    page = await _page()
    first = await pages.set_page_image(OWNER, page.id, "favicon", "a.png", png())
    audit_count = await AuditEntryRow.all().count()

    second = await pages.set_page_image(OWNER, page.id, "favicon", "b.png", png())

    assert first.favicon_file == second.favicon_file
    assert len(_uploads(settings)) == 1
    assert await AuditEntryRow.all().count() == audit_count


REFUSED_IMAGES = [
    ("logo", SVG, "SVG images are not accepted because they can carry scripts"),
    ("favicon", b"  <svg xmlns='http://www.w3.org/2000/svg'/>", "SVG images are not accepted"),
    ("logo", b"<html><script>alert(1)</script></html>", "This file is not an image Beacon accepts"),
    ("logo", b"", "The file is empty."),
    ("logo", png(pad_to=512 * KIB + 1), "The logo can be at most 512 KiB; this file is 513 KiB."),
    ("favicon", png(pad_to=128 * KIB + 1), "The favicon can be at most 128 KiB; this file is 129 KiB."),
]


@pytest.mark.parametrize(("kind", "data", "message"), REFUSED_IMAGES,
                         ids=["svg", "svg-favicon", "html", "empty", "big-logo", "big-favicon"])
async def test_a_refused_image_gets_a_clear_message_and_writes_nothing(beacon, settings, kind, data, message):
    page = await _page()
    audit_count = await AuditEntryRow.all().count()

    with pytest.raises(Invalid) as refused:
        await pages.set_page_image(OWNER, page.id, kind, "upload", data)

    assert refused.value.errors == {kind: refused.value.errors[kind]}
    assert message in refused.value.errors[kind]
    assert _uploads(settings) == []
    assert getattr(await pages.get_page(page.id), f"{kind}_file") is None
    assert await AuditEntryRow.all().count() == audit_count


async def test_images_at_exactly_the_size_limit_are_accepted(beacon):
    page = await _page()

    logo = await pages.set_page_image(OWNER, page.id, "logo", "logo.png", png(pad_to=512 * KIB))
    favicon = await pages.set_page_image(OWNER, page.id, "favicon", "icon.png", png(pad_to=128 * KIB))

    assert logo.logo_file and favicon.favicon_file


async def test_an_unknown_image_kind_is_refused(beacon, settings):
    page = await _page()

    with pytest.raises(Invalid) as refused:
        await pages.set_page_image(OWNER, page.id, "banner", "b.png", png())

    assert list(refused.value.errors) == ["kind"]
    assert _uploads(settings) == []


async def test_an_upload_for_a_missing_page_writes_no_file(beacon, settings):
    with pytest.raises(NotFound):
        await pages.set_page_image(OWNER, 999, "logo", "logo.png", png())

    assert _uploads(settings) == []


async def test_a_failed_save_leaves_the_page_naming_its_previous_logo(beacon, settings, monkeypatch):
    page = await _page()
    old = await pages.set_page_image(OWNER, page.id, "logo", "old.png", png(rgb=(1, 2, 3)))

    async def broken_append(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "append", broken_append)
    with pytest.raises(RuntimeError):
        await pages.set_page_image(OWNER, page.id, "logo", "new.png", png(rgb=(4, 5, 6)))

    assert (await pages.get_page(page.id)).logo_file == old.logo_file
    assert (settings.data_dir / "uploads" / old.logo_file).exists()  # the page never names a missing file


async def test_removing_a_logo_clears_it_from_the_page(beacon):
    page = await _page()
    await pages.set_page_image(OWNER, page.id, "logo", "logo.png", png())

    cleared = await pages.clear_page_image(OWNER, page.id, "logo")
    await settle()

    assert cleared.logo_file is None
    assert store.by_slug("acme").page.logo_file is None
    entry = await AuditEntryRow.filter(action="page.update").order_by("-seq").first()
    assert entry.changes["logo_file"]["new"] is None

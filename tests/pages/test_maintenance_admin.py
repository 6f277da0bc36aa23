"""The maintenance screens through NiceGUI's simulated user (no browser): scheduling a window in the page's time
zone, refusing a bad one, starting, extending, completing, cancelling, posting updates and the recurrence preview."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nicegui import ui
from nicegui.testing import User

from app.enums import ComponentStatus, MaintenanceState
from app.services import maintenance
from storage.models import Component, Maintenance, MaintenanceComponent, MaintenanceUpdate
from tests.pages.screens import ELSEWHERE, acme, click, element, set_value

BERLIN = ZoneInfo("Europe/Berlin")


def _next_january() -> int:
    return datetime.now(UTC).year + 1


async def _window(page_id: int, component_ids: list[int], **extra) -> Maintenance:
    start = datetime.now(UTC) + timedelta(days=2)
    return await maintenance.schedule_maintenance(
        ELSEWHERE, page=page_id, name="Database upgrade", body="Upgrading to v16.", starts_at=start,
        ends_at=start + timedelta(hours=2), components=component_ids, **extra)


async def test_scheduling_a_window_reads_its_times_in_the_pages_zone(signed_in: User):
    _, ids = await acme("Europe/Berlin")
    year = _next_january()
    await signed_in.open("/admin/maintenance/new")
    await signed_in.should_see("Database")
    assert element(signed_in, "time_zone").value == "Europe/Berlin"  # the page's zone by default

    signed_in.find(marker="title").type("Database upgrade")
    signed_in.find(marker="body").type("Upgrading to **v16**.")
    set_value(signed_in, "starts_at", f"{year}-01-15T02:00")
    set_value(signed_in, "ends_at", f"{year}-01-15T04:30")
    signed_in.find(marker=f"component-{ids['Database']}").click()
    click(signed_in, "Schedule")

    await signed_in.should_see("Start now")
    m = await Maintenance.get(name="Database upgrade")
    assert (m.scheduled_for, m.scheduled_until) == (datetime(year, 1, 15, 1, 0, tzinfo=UTC),
                                                    datetime(year, 1, 15, 3, 30, tzinfo=UTC))  # Berlin is UTC+1
    assert (m.state, m.time_zone, m.remind_minutes) == (MaintenanceState.SCHEDULED, "Europe/Berlin", 60)
    assert await MaintenanceComponent.filter(maintenance_id=m.id).values_list("component_id", flat=True) == [
        ids["Database"]]
    await signed_in.should_see(f"Window: 15 Jan {year}, 02:00 – 04:30 UTC+01:00")
    await signed_in.should_see("Components: Database")


async def test_an_end_before_the_start_shows_on_the_end_and_writes_nothing(signed_in: User):
    await acme("Europe/Berlin")
    year = _next_january()
    await signed_in.open("/admin/maintenance/new")
    await signed_in.should_see("Database")

    signed_in.find(marker="title").type("Database upgrade")
    set_value(signed_in, "starts_at", f"{year}-01-15T04:00")
    set_value(signed_in, "ends_at", f"{year}-01-15T02:00")
    click(signed_in, "Schedule")

    await signed_in.should_see("The end must be after the start.")
    assert element(signed_in, "title").value == "Database upgrade"
    assert await Maintenance.all().count() == 0


async def test_start_now_puts_components_under_maintenance_and_complete_now_restores_them(signed_in: User):
    page_id, ids = await acme("Europe/Berlin")
    m = await _window(page_id, [ids["Database"]])
    await signed_in.open(f"/admin/maintenance/{m.id}")
    await signed_in.should_see("Start now")

    click(signed_in, "Start now")

    await signed_in.should_see("Maintenance started")
    await signed_in.should_see("Complete now")
    assert (await Maintenance.get(id=m.id)).state == MaintenanceState.IN_PROGRESS
    assert (await Component.get(id=ids["Database"])).status == ComponentStatus.MAINTENANCE
    assert (await Component.get(id=ids["API"])).status == ComponentStatus.OPERATIONAL

    click(signed_in, "Complete now")

    await signed_in.should_see("Maintenance completed")
    await signed_in.should_not_see(kind=ui.button, content="Complete now")
    assert (await Maintenance.get(id=m.id)).state == MaintenanceState.COMPLETED
    assert (await Component.get(id=ids["Database"])).status == ComponentStatus.OPERATIONAL


async def test_extending_and_posting_an_update(signed_in: User):
    page_id, ids = await acme("Europe/Berlin")
    m = await _window(page_id, [ids["Database"]])
    new_end = (m.scheduled_until + timedelta(hours=1)).astimezone(BERLIN)
    await signed_in.open(f"/admin/maintenance/{m.id}")
    await signed_in.should_see("Post an update")

    click(signed_in, "Extend")
    set_value(signed_in, "new-end", new_end.strftime("%Y-%m-%dT%H:%M"))
    click(signed_in, "Save end")
    await signed_in.should_see("New end saved")
    assert (await Maintenance.get(id=m.id)).scheduled_until == new_end.replace(second=0, microsecond=0)

    signed_in.find(marker="update-body").type("Backups are done; the *upgrade* starts on time.")
    assert "<em>upgrade</em>" in element(signed_in, "update-body-preview").content
    click(signed_in, "Post update")
    await signed_in.should_see("Update posted")
    await signed_in.should_see("by owner@example.com")
    assert await MaintenanceUpdate.filter(maintenance_id=m.id).values_list("body", flat=True) == [
        "Backups are done; the *upgrade* starts on time."]


async def test_the_weekly_recurrence_preview_shows_the_next_occurrences_or_what_is_wrong(signed_in: User):
    await acme("Europe/Berlin")
    await signed_in.open("/admin/maintenance/new")
    await signed_in.should_see("Database")

    signed_in.find("Weekly").click()
    await signed_in.should_see("Give at least one weekday.")
    signed_in.find(marker="day-1").click()  # Tuesday
    set_value(signed_in, "weekly-time", "03:00")
    set_value(signed_in, "duration", 90)

    occurrences = [e.text for e in signed_in.find(marker="occurrence").elements]
    assert len(occurrences) == 3
    for text in occurrences:
        day = datetime.strptime(text.split(",")[0], "%d %b %Y")
        assert day.weekday() == 1
        assert ", 03:00 – 04:30 UTC+0" in text
    await signed_in.should_not_see("Give at least one weekday.")

    set_value(signed_in, "weekly-time", "25:00")
    await signed_in.should_see("Give the time as HH:MM on a 24-hour clock")


async def test_scheduling_a_recurring_window_and_cancelling_one_occurrence_keeps_the_series(signed_in: User):
    await acme("Europe/Berlin")
    await signed_in.open("/admin/maintenance/new")
    await signed_in.should_see("Database")
    signed_in.find(marker="title").type("Weekly restart")
    set_value(signed_in, "recurrence-kind", "weekly")
    signed_in.find(marker="day-5").click()  # Saturday
    click(signed_in, "Schedule")

    await signed_in.should_see("Repeats: Every Saturday at 02:00 for 1 h")
    first = await Maintenance.get(name="Weekly restart")
    assert first.scheduled_for.astimezone(BERLIN).weekday() == 5

    click(signed_in, "Cancel")
    click(signed_in, "This occurrence")

    await signed_in.should_see("Upcoming")
    (following,) = await Maintenance.filter(name="Weekly restart")
    assert following.id != first.id
    assert following.series_id == first.id
    was, now = first.scheduled_for.astimezone(BERLIN), following.scheduled_for.astimezone(BERLIN)
    assert (now.date(), now.time()) == (was.date() + timedelta(days=7), time(2, 0))


async def test_cancelling_a_one_off_window_removes_it(signed_in: User):
    page_id, ids = await acme("Europe/Berlin")
    m = await _window(page_id, [ids["API"]])
    await signed_in.open(f"/admin/maintenance/{m.id}")
    await signed_in.should_see("Start now")

    click(signed_in, "Cancel")
    click(signed_in, "Cancel maintenance")

    await signed_in.should_see("No maintenance scheduled.")
    assert await Maintenance.all().count() == 0


async def test_the_list_groups_windows_by_state_in_the_pages_zone(signed_in: User):
    page_id, ids = await acme("Europe/Berlin")
    upcoming = await _window(page_id, [ids["API"]])
    running = await _window(page_id, [ids["Database"]])
    await maintenance.start_maintenance(ELSEWHERE, running.id)
    await maintenance.schedule_maintenance(
        ELSEWHERE, page=page_id, name="Weekly restart", starts_at=None, ends_at=None,
        recurrence_rule={"kind": "weekly", "days": [5], "time": "02:00", "duration_minutes": 60})

    await signed_in.open("/admin/maintenance")

    await signed_in.should_see("In progress")
    await signed_in.should_see("Upcoming")
    await signed_in.should_see("Every Saturday at 02:00 for 1 h")
    await signed_in.should_see(content=upcoming.scheduled_for.astimezone(BERLIN).strftime(", %H:%M"))
    assert signed_in.client is not None
    order = [e.props.get("data-maintenance") for e in signed_in.client.layout.descendants()
             if "data-maintenance" in e.props]
    assert order[0] == str(running.id)


async def test_an_unknown_maintenance_says_so_with_a_way_back(signed_in: User):
    for address in ("/admin/maintenance/999", "/admin/maintenance/x1"):
        await signed_in.open(address)
        await signed_in.should_see("No such maintenance.")
        await signed_in.should_see("Back to maintenance")

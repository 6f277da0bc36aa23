"""Scheduled maintenance through the services and the timer with an injected clock, on SQLite and PostgreSQL:
scheduling, starting and completing on time, early start, extension, early completion, recurring windows across a
daylight-saving change, reminders, catch-up on boot, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import events
from app.auth import Actor
from app.enums import ComponentStatus, MaintenanceState, Role
from app.lifecycle import Due
from app.maintenance_timer import MaintenanceTimer
from app.services import components, incidents, maintenance, pages
from app.services.errors import Forbidden, Invalid
from app.snapshot import store
from storage.models import AuditEntryRow, Component, Maintenance, MaintenanceComponent
from tests.conftest import settle

OWNER = Actor.system("test")
MEMBER = Actor(kind="user", id=None, label="member@x", role=Role.MEMBER)
READ_ONLY = Actor(kind="user", id=None, label="ro@x", role=Role.READ_ONLY)
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def acme(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    page = await pages.update_page(OWNER, page.id, time_zone="Europe/Berlin")
    db = await components.create_component(OWNER, name="Database", pages=[page.id])
    api = await components.create_component(OWNER, name="API", pages=[page.id])
    return page, db, api


async def status_of(component) -> ComponentStatus:
    return (await Component.get(id=component.id)).status


async def schedule(acme, hours_ahead=2, hours=1, **extra):
    page, db, _ = acme
    return await maintenance.schedule_maintenance(
        MEMBER, page="acme", name="Database upgrade", body="Upgrading to v16.",
        starts_at=NOW + timedelta(hours=hours_ahead), ends_at=NOW + timedelta(hours=hours_ahead + hours),
        components=[db.id], now=NOW, **extra)


async def test_the_timer_starts_and_completes_a_window_on_time(acme, published):
    _, db, api = acme
    window = await schedule(acme)
    clock = Clock(NOW)
    timer = MaintenanceTimer(clock)

    assert await timer.tick() == []
    assert await timer.seconds_to_next() == 30.0  # never sleeps longer than that
    clock.now = NOW + timedelta(hours=2)
    assert await timer.tick() == [(window.id, Due.START)]
    await settle()
    assert await status_of(db) == ComponentStatus.MAINTENANCE
    assert await status_of(api) == ComponentStatus.OPERATIONAL
    assert store.by_slug("acme").indicator.indicator == "maintenance"
    assert [m.name for m in store.by_slug("acme").active_maintenances] == ["Database upgrade"]

    clock.now = NOW + timedelta(hours=3)
    assert await timer.tick() == [(window.id, Due.COMPLETE)]
    await settle()

    stored = await Maintenance.get(id=window.id)
    assert stored.state == MaintenanceState.COMPLETED
    assert (stored.started_at, stored.completed_at) == (NOW + timedelta(hours=2), NOW + timedelta(hours=3))
    assert await status_of(db) == ComponentStatus.OPERATIONAL
    assert store.by_slug("acme").indicator.indicator == "none"
    names = [e.name for e in published if e.name.startswith("maintenance.")]
    # no reminder: the clock jumped past its moment straight to the start, and a late reminder is noise
    assert names == [events.MAINTENANCE_SCHEDULED, events.MAINTENANCE_STARTED, events.MAINTENANCE_COMPLETED]


async def test_a_reminder_goes_out_once_the_configured_time_before_the_start(acme, published):
    window = await schedule(acme, hours_ahead=3, remind_minutes=90)
    clock = Clock(NOW + timedelta(hours=1))
    timer = MaintenanceTimer(clock)

    assert await timer.tick() == []
    assert await timer.seconds_to_next() == 30.0
    clock.now = NOW + timedelta(hours=1, minutes=30)
    assert await timer.tick() == [(window.id, Due.REMIND)]
    clock.now += timedelta(minutes=10)
    assert await timer.tick() == []  # only once

    reminders = [e for e in published if e.name == events.MAINTENANCE_REMINDER]
    assert len(reminders) == 1
    assert reminders[0].data["maintenance_id"] == window.id
    assert reminders[0].data["starts_in_minutes"] == 90


async def test_a_window_that_passed_while_the_server_was_down_is_handled_on_boot(acme, published):
    _, db, api = acme
    missed = await schedule(acme, hours_ahead=1, hours=1)
    running = await maintenance.schedule_maintenance(
        MEMBER, page="acme", name="API migration", starts_at=NOW + timedelta(hours=1),
        ends_at=NOW + timedelta(hours=10), components=[api.id], now=NOW)

    # the server comes back five hours later: one window is over, the other should be running
    done = await MaintenanceTimer(Clock(NOW + timedelta(hours=5))).tick()

    assert sorted(done) == sorted([(missed.id, Due.COMPLETE), (running.id, Due.START)])
    first = await Maintenance.get(id=missed.id)
    assert first.state == MaintenanceState.COMPLETED
    assert (first.started_at, first.completed_at) == (NOW + timedelta(hours=1), NOW + timedelta(hours=2))
    assert await status_of(db) == ComponentStatus.OPERATIONAL
    assert (await Maintenance.get(id=running.id)).state == MaintenanceState.IN_PROGRESS
    assert await status_of(api) == ComponentStatus.MAINTENANCE
    assert events.MAINTENANCE_REMINDER not in [e.name for e in published]  # too late to remind of either


async def test_staff_can_start_early_extend_and_complete_early(acme, published):
    _, db, _ = acme
    window = await schedule(acme, hours_ahead=2, hours=1)

    await maintenance.start_maintenance(MEMBER, window.id, body="Starting a little early.", now=NOW)
    assert await status_of(db) == ComponentStatus.MAINTENANCE
    await maintenance.extend_maintenance(MEMBER, window.id, NOW + timedelta(hours=5), body="Taking longer.",
                                         now=NOW + timedelta(minutes=30))
    # the timer leaves it running past the original end
    assert await MaintenanceTimer(Clock(NOW + timedelta(hours=3, minutes=30))).tick() == []
    assert await status_of(db) == ComponentStatus.MAINTENANCE
    await maintenance.complete_maintenance(MEMBER, window.id, body="All done.", now=NOW + timedelta(hours=4))
    await settle()

    stored = await Maintenance.get(id=window.id)
    assert stored.state == MaintenanceState.COMPLETED
    assert stored.scheduled_until == NOW + timedelta(hours=5)
    assert (stored.started_at, stored.completed_at) == (NOW, NOW + timedelta(hours=4))
    assert await status_of(db) == ComponentStatus.OPERATIONAL
    notes = [(u.state, u.body) for u in await maintenance.maintenance_updates(window.id)]
    assert notes == [(MaintenanceState.COMPLETED, "All done."), (MaintenanceState.IN_PROGRESS, "Taking longer."),
                     (MaintenanceState.IN_PROGRESS, "Starting a little early.")]
    started = next(e for e in published if e.name == events.MAINTENANCE_STARTED)
    assert started.data["early"] is True


async def test_completing_leaves_a_component_that_an_incident_still_holds(acme):
    _, db, _ = acme
    window = await schedule(acme, hours_ahead=0, hours=2)
    await maintenance.start_maintenance(MEMBER, window.id, now=NOW)
    incident = await incidents.create_incident(MEMBER, page="acme", name="Replica lag", impact="DEGRADED",
                                               body="Lagging.", components={db.id: "DEGRADED"})
    assert await status_of(db) == ComponentStatus.DEGRADED

    await maintenance.complete_maintenance(MEMBER, window.id, now=NOW + timedelta(hours=1))
    assert await status_of(db) == ComponentStatus.DEGRADED
    await incidents.resolve_incident(MEMBER, incident.id)
    assert await status_of(db) == ComponentStatus.OPERATIONAL


async def test_components_in_maintenance_are_known_to_monitoring(acme):
    _, db, api = acme
    window = await schedule(acme, hours_ahead=0, hours=2)
    assert await maintenance.components_in_maintenance() == set()

    await maintenance.start_maintenance(MEMBER, window.id, now=NOW)

    assert await maintenance.components_in_maintenance() == {db.id}
    assert await maintenance.components_in_maintenance([api.id]) == set()


async def test_a_weekly_window_schedules_its_next_occurrence_across_a_dst_change(acme):
    """Every Sunday 02:30-03:30 Berlin time. On 28 March 2027 clocks jump from 02:00 to 03:00: that night's window
    starts when the clock jumps (03:30 CEST = 01:30 UTC); the week after, 02:30 CEST = 00:30 UTC."""
    _, db, _ = acme
    now = datetime(2027, 3, 15, 12, 0, tzinfo=UTC)
    rule = {"kind": "weekly", "days": [6], "time": "02:30", "duration_minutes": 60}
    first = await maintenance.schedule_maintenance(MEMBER, page="acme", name="Weekly patching",
                                                   components=[db.id], recurrence_rule=rule, now=now)
    assert first.scheduled_for == datetime(2027, 3, 21, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert first.time_zone == "Europe/Berlin"

    clock = Clock(datetime(2027, 3, 21, 1, 30, tzinfo=UTC))
    timer = MaintenanceTimer(clock)
    await timer.tick()
    clock.now = datetime(2027, 3, 21, 2, 30, tzinfo=UTC)
    await timer.tick()

    series = await Maintenance.filter(series_id=first.id).order_by("scheduled_for")
    utc = lambda day, hour, minute: datetime(2027, 3, day, hour, minute, tzinfo=UTC)  # noqa: E731
    assert [(m.state, m.scheduled_for, m.scheduled_until) for m in series] == [
        (MaintenanceState.COMPLETED, utc(21, 1, 30), utc(21, 2, 30)),
        (MaintenanceState.SCHEDULED, utc(28, 1, 30), utc(28, 2, 30)),
    ]
    assert await MaintenanceComponent.filter(maintenance_id=series[1].id).values_list("component_id", flat=True) == [
        db.id]

    clock.now = datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    await timer.tick()
    clock.now = datetime(2027, 3, 28, 2, 30, tzinfo=UTC)
    await timer.tick()
    following = await Maintenance.filter(series_id=first.id, state=MaintenanceState.SCHEDULED).first()
    assert following.scheduled_for == datetime(2027, 4, 4, 0, 30, tzinfo=UTC)  # 02:30 CEST


async def test_a_cron_window_recurs_and_cancelling_one_occurrence_keeps_the_series(acme):
    _, db, _ = acme
    rule = {"kind": "cron", "expression": "0 3 * * SAT", "duration_minutes": 90}
    first = await maintenance.schedule_maintenance(MEMBER, page="acme", name="Backups", components=[db.id],
                                                   recurrence_rule=rule, now=NOW)
    assert first.scheduled_for == datetime(2027, 3, 6, 2, 0, tzinfo=UTC)  # Saturday 03:00 CET
    assert first.scheduled_until - first.scheduled_for == timedelta(minutes=90)

    await maintenance.cancel_maintenance(MEMBER, first.id, now=NOW)
    upcoming = await Maintenance.filter(series_id=first.id)
    assert [m.scheduled_for for m in upcoming] == [datetime(2027, 3, 13, 2, 0, tzinfo=UTC)]

    await maintenance.cancel_maintenance(MEMBER, upcoming[0].id, end_series=True, now=NOW)
    assert await Maintenance.all().count() == 0


async def test_a_backfilled_maintenance_is_recorded_completed_and_notifies_nobody(acme, published):
    _, db, _ = acme
    window = await maintenance.schedule_maintenance(
        MEMBER, page="acme", name="Past upgrade", starts_at="2027-02-01T02:00", ends_at="2027-02-01T04:00",
        components=[db.id], backfill=True, now=NOW)
    await settle()

    assert window.state == MaintenanceState.COMPLETED
    # times without an offset are read in the page's zone (Berlin, UTC+1 in February)
    assert window.scheduled_for == datetime(2027, 2, 1, 1, 0, tzinfo=UTC)
    assert await status_of(db) == ComponentStatus.OPERATIONAL
    assert {e.name for e in published} == {events.MAINTENANCE_BACKFILLED}


@pytest.mark.parametrize(("fields", "errors"), [
    ({"name": ""}, {"name"}),
    ({"ends_at": NOW + timedelta(hours=1)}, {"ends_at"}),  # end before start
    ({"ends_at": NOW + timedelta(hours=2)}, {"ends_at"}),  # end equal to start
    ({"starts_at": NOW - timedelta(hours=3), "ends_at": NOW - timedelta(hours=1)}, {"ends_at"}),  # in the past
    ({"starts_at": NOW - timedelta(hours=3)}, {"starts_at"}),  # started long ago: backfill or now
    ({"starts_at": "next tuesday"}, {"starts_at"}),
    ({"starts_at": None, "ends_at": None}, {"starts_at", "ends_at"}),
    ({"components": [999999]}, {"components"}),
    ({"components": "db"}, {"components"}),
    ({"page": "nope"}, {"page"}),
    ({"time_zone": "Mars/Olympus"}, {"time_zone"}),
    ({"remind_minutes": -5}, {"remind_minutes"}),
    ({"ends_at": NOW + timedelta(days=40)}, {"ends_at"}),
    ({"recurrence_rule": {"kind": "weekly", "days": [], "time": "02:00", "duration_minutes": 60}}, {"recurrence"}),
    ({"backfill": True}, {"ends_at"}),  # a backfilled window must be over
])
async def test_bad_maintenance_input_names_each_field_and_writes_nothing(acme, fields, errors):
    _, db, _ = acme
    good = {"page": "acme", "name": "Upgrade", "starts_at": NOW + timedelta(hours=2),
            "ends_at": NOW + timedelta(hours=3), "components": [db.id]}
    audit_before = await AuditEntryRow.all().count()

    with pytest.raises(Invalid) as caught:
        await maintenance.schedule_maintenance(MEMBER, now=NOW, **{**good, **fields})

    assert set(caught.value.errors) == errors
    assert all(caught.value.errors.values())
    assert await Maintenance.all().count() == 0
    assert await AuditEntryRow.all().count() == audit_before


async def test_transitions_that_make_no_sense_are_refused(acme):
    window = await schedule(acme, hours_ahead=2, hours=1)

    with pytest.raises(Invalid, match="not started"):
        await maintenance.complete_maintenance(MEMBER, window.id, now=NOW)
    with pytest.raises(Invalid, match="future"):
        await maintenance.extend_maintenance(MEMBER, window.id, NOW - timedelta(hours=1), now=NOW)
    with pytest.raises(Invalid, match="message"):
        await maintenance.post_maintenance_update(MEMBER, window.id, "  ", now=NOW)
    await maintenance.start_maintenance(MEMBER, window.id, now=NOW)
    with pytest.raises(Invalid, match="only a scheduled one"):
        await maintenance.start_maintenance(MEMBER, window.id, now=NOW)
    with pytest.raises(Invalid, match="not started"):
        await maintenance.cancel_maintenance(MEMBER, window.id, now=NOW)
    with pytest.raises(Forbidden):
        await maintenance.complete_maintenance(READ_ONLY, window.id, now=NOW)
    assert (await Maintenance.get(id=window.id)).state == MaintenanceState.IN_PROGRESS


async def test_the_running_timer_wakes_when_a_window_is_scheduled(acme):
    """The real task: a window starting in a second is started without waiting for the 30-second poll."""
    import asyncio

    _, db, _ = acme
    timer = MaintenanceTimer()
    timer.start()
    try:
        await asyncio.sleep(0.1)  # let it take its first look and go to sleep
        start = datetime.now(UTC) + timedelta(seconds=1)
        await maintenance.schedule_maintenance(MEMBER, page="acme", name="Soon", starts_at=start,
                                               ends_at=start + timedelta(hours=1), components=[db.id])
        deadline = asyncio.get_running_loop().time() + 5
        while await status_of(db) != ComponentStatus.MAINTENANCE:
            assert asyncio.get_running_loop().time() < deadline, "the window did not start on time"
            await asyncio.sleep(0.05)
    finally:
        timer.stop()


async def test_starting_beacon_completes_a_window_that_ended_while_it_was_down(beacon, acme):
    """The real start-up path: runtime.start runs the timer, whose first pass catches up."""
    import asyncio
    from dataclasses import replace

    from app import runtime

    _, db, _ = acme
    past = datetime.now(UTC) - timedelta(hours=3)
    window = await maintenance.schedule_maintenance(MEMBER, page="acme", name="Overnight", starts_at=past,
                                                    ends_at=past + timedelta(hours=1), components=[db.id], now=past)
    await runtime.stop()

    await runtime.start(replace(beacon, maintenance_timer=True))
    deadline = asyncio.get_running_loop().time() + 5
    while (await Maintenance.get(id=window.id)).state != MaintenanceState.COMPLETED:
        assert asyncio.get_running_loop().time() < deadline, "the missed window was not completed on start"
        await asyncio.sleep(0.05)

    stored = await Maintenance.get(id=window.id)
    assert (stored.started_at, stored.completed_at) == (past, past + timedelta(hours=1))
    assert await status_of(db) == ComponentStatus.OPERATIONAL

"""The monitor engine through the services, on SQLite and PostgreSQL: results become heartbeats, rollups,
component status and automatic incidents; retries, maintenance, flapping, restarts and push monitors.

The engine is fed ``CheckResult``s here (its input); the kinds themselves are tested against real servers in
tests/monitors/, and tests/services/test_monitor_journey.py runs the scheduler against a live HTTP server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import events
from app.auth import Actor
from app.enums import ComponentStatus, IncidentStatus, Role
from app.services import components, groups, incidents, maintenance, monitoring, pages
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.monitor_engine import Batch, engine
from monitors.base import CheckResult, Outcome
from storage import timeseries as ts
from storage.models import AuditEntryRow, Component, DailyUptime, Incident, Monitor
from tests.conftest import settle

OWNER = Actor.system("test")
MEMBER = Actor(kind="user", id=None, label="member@x", role=Role.MEMBER)
READ_ONLY = Actor(kind="user", id=None, label="ro@x", role=Role.READ_ONLY)
# the start of the current hour: the fake clock stays in today (for the daily rollups) and windows scheduled from
# it still end in the real future
T0 = float(int(__import__("time").time()) // 3600 * 3600)

UP = CheckResult(Outcome.UP, 42.0, "200 OK")
SLOW = CheckResult(Outcome.DEGRADED, 900.0, "200 OK (slow: 900 ms > 500 ms)")
DOWN = CheckResult(Outcome.DOWN, None, "Connection refused by 127.0.0.1:9")


class Clock:
    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def eng(beacon):
    """The process-wide engine with a clock the test moves (the scheduler is not started: results are fed in)."""
    clock = Clock()
    engine.clock, engine.live, engine.batch, engine.in_maintenance = clock, {}, Batch(), set()
    yield clock
    engine.clock, engine.live, engine.batch, engine.in_maintenance = __import__("time").time, {}, Batch(), set()


@pytest.fixture
async def acme(eng):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    api = await components.create_component(OWNER, name="API", pages=[page.id])
    return page, api


async def feed(monitor_id: int, *results: CheckResult, clock: Clock | None = None, step: float = 60.0) -> None:
    for result in results:
        live = engine.live[monitor_id]
        await engine.process(live, result)
        if clock is not None:
            clock.now += step
    await engine.flush()
    await settle()


def soon() -> datetime:
    return datetime.now(UTC) + timedelta(minutes=1)


def in_an_hour() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


async def status_of(component) -> ComponentStatus:
    return (await Component.get(id=component.id)).status


async def new_monitor(component=None, **extra) -> Monitor:
    values = {"name": "API health", "kind": "manual", "config": {"status": "up"}, "interval": 60, "timeout": 10}
    values.update(extra)
    return await monitoring.create_monitor(OWNER, component_id=component.id if component else None, **values)


async def test_a_failing_check_takes_the_component_down_and_recovery_brings_it_back(acme, eng):
    _, api = acme
    monitor = await new_monitor(api)
    seen: list[events.Event] = []

    async def listen(event: events.Event) -> None:
        seen.append(event)

    events.bus.subscribe(listen, [events.COMPONENT_STATUS_CHANGED, events.MONITOR_STATE_CHANGED])
    await feed(monitor.id, UP, clock=eng)
    assert await status_of(api) == ComponentStatus.OPERATIONAL
    await feed(monitor.id, DOWN, clock=eng)
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE
    row = await Monitor.get(id=monitor.id)
    assert (row.state, row.last_message, row.held_status) == ("down", DOWN.message, ComponentStatus.MAJOR_OUTAGE)
    await feed(monitor.id, SLOW, clock=eng)
    assert await status_of(api) == ComponentStatus.DEGRADED
    await feed(monitor.id, UP, clock=eng)
    assert await status_of(api) == ComponentStatus.OPERATIONAL
    history = [(e.old_state, e.new_state) for e in reversed(await monitoring.events_of(monitor.id))]
    assert history == [("pending", "up"), ("up", "down"), ("down", "degraded"), ("degraded", "up")]
    await events.bus.drain()
    names = [e.name for e in seen]
    assert names.count(events.COMPONENT_STATUS_CHANGED) == 3 and names.count(events.MONITOR_STATE_CHANGED) == 4


async def test_a_monitor_can_take_its_component_to_partial_outage_instead(acme, eng):
    _, api = acme
    monitor = await new_monitor(api, down_status="PARTIAL_OUTAGE")
    await feed(monitor.id, DOWN, clock=eng)
    assert await status_of(api) == ComponentStatus.PARTIAL_OUTAGE


async def test_retries_keep_the_component_up_until_the_failures_are_confirmed(acme, eng):
    _, api = acme
    monitor = await new_monitor(api, retries=2, retry_interval=10)
    await feed(monitor.id, UP, clock=eng)
    assert await engine.process(engine.live[monitor.id], DOWN) == 10.0  # next run after the retry interval
    eng.now += 10
    await engine.process(engine.live[monitor.id], DOWN)
    eng.now += 10
    await engine.flush()
    await settle()
    assert await status_of(api) == ComponentStatus.OPERATIONAL
    assert (await Monitor.get(id=monitor.id)).consecutive_failures == 2
    await feed(monitor.id, DOWN)
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE
    beats = await monitoring.heartbeats_of(monitor.id)
    assert [b.status for b in reversed(beats)] == ["up", "pending", "pending", "down"]


async def test_an_open_incident_or_maintenance_outranks_what_the_monitor_found(acme, eng):
    page, api = acme
    monitor = await new_monitor(api)
    incident = await incidents.create_incident(OWNER, page=page.id, name="Slow API", impact="DEGRADED",
                                               body="Slow answers.", components={api.id: "DEGRADED"})
    await feed(monitor.id, DOWN, clock=eng)
    assert await status_of(api) == ComponentStatus.DEGRADED  # people said DEGRADED; that stands
    await incidents.resolve_incident(OWNER, incident.id, body="Fixed.")
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE  # and now the monitor speaks
    window = await maintenance.schedule_maintenance(OWNER, page=page.id, name="Upgrade", starts_at=soon(),
                                                    ends_at=in_an_hour(),
                                                    components=[api.id])
    await maintenance.start_maintenance(OWNER, window.id)
    assert await status_of(api) == ComponentStatus.MAINTENANCE
    await maintenance.complete_maintenance(OWNER, window.id)
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE


async def test_checks_during_maintenance_do_not_count_against_uptime_or_open_incidents(acme, eng):
    page, api = acme
    monitor = await new_monitor(api, auto_incident=True, auto_incident_after=1)
    window = await maintenance.schedule_maintenance(OWNER, page=page.id, name="Upgrade", starts_at=soon(),
                                                    ends_at=in_an_hour(),
                                                    components=[api.id])
    await maintenance.start_maintenance(OWNER, window.id)
    await engine.refresh_maintenance()
    await feed(monitor.id, DOWN, DOWN, UP, clock=eng)
    assert await Incident.all().count() == 0
    await maintenance.complete_maintenance(OWNER, window.id)
    await engine.refresh_maintenance()
    await feed(monitor.id, UP, clock=eng)
    figures = (await monitoring.uptime([monitor.id], now=eng.now))[monitor.id]["24h"]
    assert (figures.maintenance, figures.down, figures.up, figures.uptime_percent) == (3, 0, 1, 100.0)
    day = await DailyUptime.get(component_id=api.id)
    assert (day.observed_seconds, day.maintenance_seconds, day.down_seconds) == (240, 180, 0)


async def test_an_automatic_incident_opens_after_n_failures_and_resolves_on_recovery(acme, eng):
    page, api = acme
    other = await pages.create_page(OWNER, title="Partners", slug="partners")
    await groups.place_component(OWNER, api.id, other.id)
    monitor = await new_monitor(api, auto_incident=True, auto_incident_after=3)
    await feed(monitor.id, DOWN, DOWN, clock=eng)
    assert await Incident.all().count() == 0
    await feed(monitor.id, DOWN, clock=eng)
    opened = await Incident.all()
    assert {i.page_id for i in opened} == {page.id, other.id}  # each page showing the component tells its readers
    assert {i.name for i in opened} == {"API health is down"}
    assert all(i.impact == "MAJOR" and i.status == IncidentStatus.INVESTIGATING for i in opened)
    first = (await incidents.timeline(opened[0].id))[-1]  # newest first
    assert "failing 3 checks in a row" in first.body and "Connection refused" in first.body
    await feed(monitor.id, DOWN, clock=eng)
    assert await Incident.all().count() == len(opened)  # one incident per outage, not per failure
    await feed(monitor.id, UP, clock=eng)
    for incident in await Incident.all():
        assert incident.status == IncidentStatus.RESOLVED
        last = (await incidents.timeline(incident.id))[0]
        assert "answering again" in last.body and "Resolved automatically" in last.body
    assert await status_of(api) == ComponentStatus.OPERATIONAL


async def test_an_automatic_incident_uses_the_template_and_respects_a_manual_resolve(acme, eng):
    page, api = acme
    template = await incidents.save_template(OWNER, name="Payments down", title="{monitor}: payments failing",
                                             body="Checks report: {message}", impact="PARTIAL")
    monitor = await new_monitor(api, auto_incident=True, auto_incident_after=1, incident_template=template.id)
    await feed(monitor.id, DOWN, clock=eng)
    incident = await Incident.get()
    assert (incident.name, incident.impact) == ("API health: payments failing", "PARTIAL")
    assert (await incidents.timeline(incident.id))[-1].body == f"Checks report: {DOWN.message}"
    await incidents.resolve_incident(OWNER, incident.id, body="Fixed by hand.")
    await feed(monitor.id, UP, clock=eng)
    assert [u.body for u in await incidents.timeline(incident.id)][0] == "Fixed by hand."


async def test_flapping_holds_the_component_at_its_worst_until_it_is_stable(acme, eng):
    _, api = acme
    monitor = await new_monitor(api, flap_changes=3, flap_minutes=10)
    await feed(monitor.id, UP, DOWN, UP, DOWN, UP, clock=eng, step=30)
    row = await Monitor.get(id=monitor.id)
    assert row.flapping
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE  # last check was up, but it is flapping
    assert "flapping" in [e.new_state for e in await monitoring.events_of(monitor.id)]
    eng.now += 11 * 60
    await feed(monitor.id, UP, clock=eng)
    assert not (await Monitor.get(id=monitor.id)).flapping
    assert await status_of(api) == ComponentStatus.OPERATIONAL


async def test_rollups_count_every_check_once_and_give_uptime_per_window(acme, eng):
    _, api = acme
    monitor = await new_monitor(api)
    await feed(monitor.id, *([UP] * 9 + [DOWN]), clock=eng)
    await feed(monitor.id, UP, clock=eng)  # a second batch adds to the first
    figures = (await monitoring.uptime([monitor.id], now=eng.now))[monitor.id]
    for window in ("24h", "7d", "30d", "90d"):
        agg = figures[window]
        assert (agg.up, agg.down, agg.checks) == (10, 1, 11), window
        assert agg.uptime_percent == pytest.approx(100 * 10 / 11)
    points = await monitoring.chart(monitor.id, "24h", now=eng.now)
    assert len(points) == 11 and points[0].avg_ms == 42.0
    assert [p.down for p in points].count(1) == 1
    assert len(await monitoring.chart(monitor.id, "90d", now=eng.now)) == 1
    day = await DailyUptime.get(component_id=api.id)
    assert (day.observed_seconds, day.down_seconds, day.worst_status) == (660, 60, ComponentStatus.MAJOR_OUTAGE)


async def test_a_restart_resumes_the_monitor_and_counts_nothing_twice(acme, eng):
    _, api = acme
    monitor = await new_monitor(api)
    await feed(monitor.id, UP, DOWN, DOWN, clock=eng)
    await engine.start(concurrency=10)
    try:
        live = engine.live[monitor.id]
        assert (live.state.state, live.state.consecutive_failures) == ("down", 2)
        assert engine.scheduler is not None and monitor.id in engine.scheduler.jobs
        # checked 60 s ago (the fake clock moved on after the last result) with a 60 s interval: due now-ish
        assert engine.scheduler.jobs[monitor.id].next_due - engine.scheduler.clock() <= 60
    finally:
        await engine.stop()
    agg = (await monitoring.uptime([monitor.id], now=eng.now))[monitor.id]["24h"]
    assert (agg.up, agg.down) == (1, 2)
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE


async def test_raw_heartbeats_keep_failures_and_changes_and_sample_steady_checks(acme, eng):
    _, api = acme
    monitor = await new_monitor(api)
    await feed(monitor.id, *([UP] * 30), DOWN, DOWN, UP, clock=eng)  # 33 checks, a minute apart
    beats = list(reversed(await monitoring.heartbeats_of(monitor.id, limit=100)))
    assert [b.status for b in beats] == ["up", "up", "up", "down", "down", "up"]  # 0, 10 and 20 min, then all
    assert beats[3].message == DOWN.message
    agg = (await monitoring.uptime([monitor.id], now=eng.now))[monitor.id]["24h"]
    assert agg.checks == 33  # every check is in the rollups


async def test_push_monitors_are_up_while_pushed_and_down_when_silent(acme, eng):
    _, api = acme
    monitor = await new_monitor(api, kind="push", config={}, interval=300)
    assert monitor.push_token and len(monitor.push_token) >= 24
    assert await engine.receive_push(monitor.push_token, "up", "backup done", 412)
    await engine.flush()
    await settle()
    row = await Monitor.get(id=monitor.id)
    assert (row.state, row.last_message, row.last_latency_ms) == ("up", "backup done", 412)
    eng.now += 500
    result = await engine.check_now(monitor.id)
    assert result is not None and result.outcome == "down" and "No push received for 500 s" in result.message
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE
    assert not await engine.receive_push("not-a-token")


async def test_pausing_releases_the_component_and_records_nothing(acme, eng):
    _, api = acme
    monitor = await new_monitor(api)
    await feed(monitor.id, DOWN, clock=eng)
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE
    assert await monitoring.set_paused(MEMBER, [monitor.id], True) == 1
    assert await status_of(api) == ComponentStatus.OPERATIONAL
    row = await Monitor.get(id=monitor.id)
    assert row.paused and row.state == "pending"
    with pytest.raises(Invalid):
        await monitoring.check_now(MEMBER, monitor.id)
    assert await monitoring.set_paused(MEMBER, [monitor.id], False) == 1
    assert not (await Monitor.get(id=monitor.id)).paused
    assert [e.new_state for e in await monitoring.events_of(monitor.id)][:2] == ["pending", "paused"]


async def test_deleting_a_monitor_releases_its_component_and_its_history(acme, eng):
    _, api = acme
    monitor = await new_monitor(api)
    await feed(monitor.id, DOWN, clock=eng)
    with pytest.raises(Forbidden):
        await monitoring.delete_monitor(MEMBER, monitor.id)
    await monitoring.delete_monitor(OWNER, monitor.id)
    assert await status_of(api) == ComponentStatus.OPERATIONAL
    assert await monitoring.heartbeats_of(monitor.id) == []
    assert (await monitoring.uptime([monitor.id], now=eng.now))[monitor.id]["24h"].checks == 0
    assert await AuditEntryRow.filter(action="monitor.delete").count() == 1


@pytest.mark.parametrize(("fields", "errors"), [
    ({"kind": "nope"}, {"kind"}),
    ({"name": " "}, {"name"}),
    ({"interval": 2}, {"interval_seconds"}),
    ({"interval": 30, "timeout": 45}, {"timeout_seconds"}),
    ({"retries": -1, "down_status": "DEGRADED"}, {"retries", "down_status"}),
    ({"config": {"status": "sideways"}}, {"config.status"}),
    ({"component_id": 999_999}, {"component_id"}),
    ({"auto_incident": True}, {"auto_incident"}),
    ({"colour": "red"}, {"colour"}),
    ({"kind": "script", "config": {"command": ["true"]}}, {"kind"}),
])
async def test_bad_settings_name_each_field_and_save_nothing(acme, fields, errors):
    values = {"name": "API", "kind": "manual", "config": {}, **fields}
    with pytest.raises(Invalid) as caught:
        await monitoring.create_monitor(OWNER, **values)
    assert set(caught.value.errors) == errors
    assert all(caught.value.errors.values())
    assert await Monitor.all().count() == 0


async def test_secrets_are_masked_on_the_way_out_and_kept_when_the_mask_comes_back(acme):
    from monitors import registry
    if "redis" not in registry.load():
        pytest.skip("the redis kind is not registered")
    monitor = await monitoring.create_monitor(OWNER, name="Cache", kind="redis",
                                              config={"host": "127.0.0.1", "password": "hunter2"})
    shown = monitoring.public_config("redis", monitor.config)
    assert shown["password"] == monitoring.MASK
    await monitoring.update_monitor(OWNER, monitor.id, config={**shown, "port": 6380})
    stored = (await Monitor.get(id=monitor.id)).config
    assert (stored["password"], stored["port"]) == ("hunter2", 6380)
    audit = await AuditEntryRow.filter(action__in=["monitor.create", "monitor.update"]).values_list(
        "changes", flat=True)
    assert "hunter2" not in str(audit)


async def test_read_only_users_cannot_change_monitors_and_team_scope_hides_them(acme):
    _, api = acme
    monitor = await new_monitor(api)
    with pytest.raises(Forbidden):
        await monitoring.create_monitor(READ_ONLY, name="x", kind="manual")
    with pytest.raises(Forbidden):
        await monitoring.set_paused(READ_ONLY, [monitor.id], True)
    from app.services import teams
    page, _ = acme
    team = await teams.create_team(OWNER, name="Payments")
    await teams.assign_page(OWNER, page.id, team.id)
    outsider = Actor(kind="user", id=None, label="out@x", role=Role.MEMBER, user_id=12345)
    assert await monitoring.list_monitors(outsider) == []
    with pytest.raises(NotFound):
        await monitoring.get_monitor(monitor.id, actor=outsider)
    with pytest.raises(NotFound):
        await monitoring.set_paused(outsider, [monitor.id], True)
    unattached = await new_monitor(None, name="Shared")
    assert [m.id for m in await monitoring.list_monitors(outsider)] == [unattached.id]


async def test_script_monitors_run_only_where_the_operator_turned_them_on(acme, eng, settings):
    from dataclasses import replace

    from app import config

    _, api = acme
    config.use(replace(settings, script_monitors=True))
    try:
        monitor = await monitoring.create_monitor(OWNER, name="Queue depth", kind="script", component_id=api.id,
                                                  config={"command": ["sh", "-c", "echo 3 jobs waiting"]})
        result = await monitoring.check_now(OWNER, monitor.id)
        assert result.outcome == "up" and "3 jobs waiting" in result.message
    finally:
        config.use(settings)
    refused = await monitoring.check_now(OWNER, monitor.id)  # turned off again: the saved monitor reports why
    assert refused.outcome == "down" and "BEACON_SCRIPT_MONITORS" in refused.message
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE


async def test_the_daily_prune_drops_old_heartbeats_and_fine_rollups_but_keeps_days(acme, eng):
    _, api = acme
    monitor = await new_monitor(api)
    eng.now -= 100 * 86_400  # a hundred days ago ...
    await feed(monitor.id, DOWN, clock=eng)
    eng.now += 100 * 86_400  # ... and today
    await feed(monitor.id, DOWN, clock=eng)
    assert len(await monitoring.heartbeats_of(monitor.id)) == 2
    await engine.prune(now=eng.now)
    beats = await monitoring.heartbeats_of(monitor.id)
    assert len(beats) == 1 and beats[0].at_ms > (eng.now - 86_400) * 1000
    from tortoise import connections

    conn = connections.get("default")
    for resolution, kept in (("minute", 1), ("hour", 1), ("day", 2)):
        rows = (await ts.series(conn, resolution, [monitor.id], 0))[monitor.id]
        assert len(rows) == kept, resolution


async def test_new_rollups_reach_the_public_uptime_bars(acme, eng):
    from app.snapshot import store

    page, api = acme
    monitor = await new_monitor(api)
    engine._uptime_sent = 0.0
    await feed(monitor.id, UP, DOWN, clock=eng)
    await events.bus.drain()
    await settle()
    today = store.get(page.id).all_components[0].uptime[-1]
    assert (today.observed_seconds, today.down_seconds) == (120, 60)


async def test_monitors_written_by_another_process_are_picked_up(acme, eng):
    from datetime import UTC, datetime

    _, api = acme
    await engine.start(concurrency=5)
    try:
        row = await Monitor.create(name="From the CLI", kind="manual", config={"status": "up"}, component_id=api.id)
        await engine.resync()
        assert row.id in engine.scheduler.jobs
        await engine.process(engine.live[row.id], UP)
        await engine.flush()
        stamp = (await Monitor.get(id=row.id)).updated_at
        await engine.resync()  # the engine's own writes are not edits
        assert (await Monitor.get(id=row.id)).updated_at == stamp and engine.live[row.id].state.state == "up"
        await Monitor.filter(id=row.id).update(paused=True, updated_at=datetime.now(UTC))
        await engine.resync()
        assert row.id not in engine.scheduler.jobs and engine.live[row.id].paused
        await Monitor.filter(id=row.id).delete()
        await engine.resync()
        assert row.id not in engine.live
    finally:
        await engine.stop()


async def test_stopping_while_results_are_written_never_leaves_the_database_locked(acme, eng, monkeypatch):
    """A write cut by cancellation inside tortoise's SQLite transaction would keep its lock for ever; the engine
    stops its writing loops by signal, never by cancelling them mid-write."""
    import asyncio
    import random

    from app.services import monitor_engine as engine_module

    monkeypatch.setattr(engine_module, "FLUSH_SECONDS", 0.001)
    _, api = acme
    monitors = [await new_monitor(api, name=f"Check {i}") for i in range(5)]
    for round_ in range(20):
        await engine.start(concurrency=5)
        for m in monitors:
            await engine.process(engine.live[m.id], DOWN if round_ % 2 else UP)
            eng.now += 1
        await asyncio.sleep(random.uniform(0, 0.01))
        async with asyncio.timeout(5):
            await engine.stop()
    async with asyncio.timeout(2):
        assert await Monitor.all().count() == 5
        agg = (await monitoring.uptime([monitors[0].id], now=eng.now))[monitors[0].id]["24h"]
    assert agg.checks == 20  # every result of every round was written, once

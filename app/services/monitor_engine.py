"""The monitor engine: runs every active monitor on the scheduler and turns each result into a heartbeat,
rollups, the monitor's state, its component's status and, when asked for, an automatic incident.

Writes are of two speeds:
- every result goes into an in-memory batch (heartbeat, minute/hour/day rollup increments, the monitor's last
  check) written every ``FLUSH_SECONDS`` in one transaction — so a crash loses at most one batch and never
  counts a check twice;
- a change of state (up ↔ down, flapping) is written at once, with its event, the component's new status
  (``holds.reconcile``) and any automatic incident, because people are waiting for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from app import config as app_config
from app import events
from app.auth import Actor
from app.enums import ComponentStatus, IncidentImpact
from app.events import bus
from app.monitor_state import Policy, State, step
from app.services.transaction import change
from monitors import registry
from monitors.base import CheckResult, Outcome, down
from monitors.runner import run_check
from monitors.scheduler import Job, Scheduler
from storage import timeseries as ts
from storage.models import Monitor, MonitorEvent, Placement
from storage.rollups import MonitorDay, component_day, write_daily

log = logging.getLogger(__name__)
# checks still running at shutdown get this long, then are cancelled (the whole stop fits 10 s: docs/operations.md)
STOP_GRACE_SECONDS = 2.0

SYSTEM = Actor.system("monitoring")
FLUSH_SECONDS = 5.0
# An UP check is kept as a raw heartbeat at least this often; every failure and every change is kept. Every
# check's counts and latency are in the minute rollups (this keeps 1,000 monitors × 30 days under 300 MB).
SAMPLE_SECONDS = 600
UPTIME_EVENT_SECONDS = 60.0  # how often public pages are told their uptime bars have new data
PRUNE_EVERY_SECONDS = 86_400
MINUTE_ROLLUP_DAYS = 2  # minute rollups make the 24 h chart; hour rollups the 7 d and 30 d ones
HOUR_ROLLUP_DAYS = 90
EVENT_DAYS = 365


@dataclass
class Live:
    """One monitor as the engine sees it."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    component_id: int | None
    interval: int
    timeout: float
    retry_interval: int
    latency_threshold_ms: int | None
    policy: Policy
    template_id: int | None
    paused: bool
    state: State
    auto_incident_ids: list[int] = field(default_factory=list)
    last_check_at: float | None = None
    last_latency_ms: float | None = None
    last_message: str = ""
    last_details: dict[str, Any] = field(default_factory=dict)
    last_push_at: float | None = None
    kept_at_ms: int = 0
    kept_status: int | None = None
    kept_maintenance: bool = False
    version: datetime | None = None  # the row's updated_at when loaded: a newer one means someone edited it

    @classmethod
    def of(cls, m: Monitor) -> Live:
        policy = Policy(retries=m.retries, down_status=ComponentStatus(m.down_status), flap_changes=m.flap_changes,
                        flap_minutes=m.flap_minutes, auto_incident=m.auto_incident,
                        auto_incident_after=m.auto_incident_after)
        state = State(state=m.state, consecutive_failures=m.consecutive_failures,
                      held=ComponentStatus(m.held_status) if m.held_status else None, flapping=m.flapping,
                      changes_at=tuple(float(t) for t in (m.changes_at or [])),
                      since=m.state_since.timestamp() if m.state_since else None)
        return cls(id=m.id, name=m.name, kind=m.kind, config=dict(m.config or {}), component_id=m.component_id,
                   interval=m.interval_seconds, timeout=m.timeout_seconds, retry_interval=m.retry_interval_seconds,
                   latency_threshold_ms=m.latency_threshold_ms, policy=policy, template_id=m.incident_template_id,
                   paused=m.paused, state=state, auto_incident_ids=list(m.auto_incident_ids or []),
                   last_check_at=m.last_check_at.timestamp() if m.last_check_at else None,
                   last_latency_ms=m.last_latency_ms, last_message=m.last_message,
                   last_details=dict(m.last_details or {}), version=m.updated_at)

    @property
    def passive(self) -> bool:
        return registry.get(self.kind).passive


@dataclass
class Batch:
    heartbeats: list[tuple[int, int, int, int | None, int, str | None]] = field(default_factory=list)
    deltas: dict[str, dict[tuple[int, int], ts.Agg]] = field(
        default_factory=lambda: {r: {} for r in ts.RESOLUTIONS})
    monitors: set[int] = field(default_factory=set)
    component_days: set[tuple[int, int]] = field(default_factory=set)  # (component id, day bucket)

    @property
    def empty(self) -> bool:
        return not self.monitors


def _dt(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def _fill(text: str, live: Live, result: CheckResult) -> str:
    return text.replace("{monitor}", live.name).replace("{message}", result.message)


class Engine:
    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
        self.live: dict[int, Live] = {}
        self.in_maintenance: set[int] = set()
        self.scheduler: Scheduler | None = None
        self.batch = Batch()
        self._flush_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task] = []
        # Loops that write end on this event rather than by cancellation: a task cancelled while tortoise opens a
        # SQLite transaction leaves the connection's lock held, and every later query waits for ever.
        self._stopping = asyncio.Event()
        self._uptime_pages: set[int] = set()
        self._uptime_sent = 0.0
        self._subscribed = False
        self.running = False
        self.retention_days = 30

    # -- life cycle ----------------------------------------------------------------------------------------------

    async def start(self, *, concurrency: int = 100, retention_days: int = 30) -> None:
        """Load every monitor and run the active ones. Each resumes its rhythm: a monitor checked 20 s ago with a
        60 s interval runs in 40 s; one overdue runs within its first interval (spread, not all at once)."""
        self.retention_days = retention_days
        self.scheduler = Scheduler(self._on_result, concurrency=concurrency)
        await self.refresh_maintenance()
        self._subscribe()
        now = self.clock()
        for m in await Monitor.all():
            live = self.live[m.id] = Live.of(m)
            self._schedule(live, now)
        self.scheduler.start()
        self._stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._flush_forever(), name="monitor-flush"),
                       loop.create_task(self._prune_daily(), name="monitor-prune")]
        self.running = True
        log.info("monitors.started count=%s active=%s", len(self.live), len(self.scheduler.jobs))

    async def stop(self) -> None:
        """Stop taking checks, let running ones finish (or cancel them), and write what is pending."""
        if not self.running:
            return
        self.running = False
        self._stopping.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.scheduler is not None:
            await self.scheduler.stop(grace=STOP_GRACE_SECONDS)
        await self.flush()
        self.scheduler = None
        self.live.clear()
        self._subscribed = False  # the runtime clears the bus on stop
        log.info("monitors.stopped")

    def _subscribe(self) -> None:
        if not self._subscribed:
            bus.subscribe(self._on_maintenance, [events.MAINTENANCE_STARTED, events.MAINTENANCE_COMPLETED,
                                                 events.MAINTENANCE_CANCELLED])
            self._subscribed = True

    async def _on_maintenance(self, _: events.Event) -> None:
        await self.refresh_maintenance()

    async def refresh_maintenance(self) -> None:
        from app.services.maintenance import components_in_maintenance

        self.in_maintenance = set(await components_in_maintenance())

    # -- the job set ---------------------------------------------------------------------------------------------

    def _runner(self, live: Live) -> Any:
        if live.kind == "push":
            return lambda: self._push_verdict(live.id)
        kind = registry.get(live.kind)
        if live.kind == "script" and not app_config.current().script_monitors:
            async def refused() -> CheckResult:
                return down("Script monitors are turned off on this server (BEACON_SCRIPT_MONITORS)")
            return refused
        return lambda: run_check(kind, live.config, live.timeout, live.latency_threshold_ms)

    def _schedule(self, live: Live, now: float) -> None:
        if self.scheduler is None:
            return
        if live.paused:
            self.scheduler.remove(live.id)
            return
        first_in = None  # jitter
        if live.kind == "push":
            # silent for a whole interval (plus a little grace for the sender's own timer) → down
            since = live.last_push_at or live.last_check_at or now
            first_in = max(since + live.interval * 1.5 - now, 1.0)
        elif live.last_check_at is not None and 0 <= now - live.last_check_at < live.interval:
            first_in = live.interval - (now - live.last_check_at)
        self.scheduler.put(live.id, live.interval, self._runner(live), first_in=first_in)

    async def sync(self, monitor_id: int) -> None:
        """Bring the engine in line with the monitor's row after a create, edit, pause or resume."""
        m = await Monitor.get_or_none(id=monitor_id)
        if m is None:
            self.forget(monitor_id)
            return
        old = self.live.get(monitor_id)
        live = Live.of(m)
        if old is not None:  # keep what only memory knows
            live.last_push_at, live.kept_at_ms, live.kept_status = old.last_push_at, old.kept_at_ms, old.kept_status
        self.live[monitor_id] = live
        self._schedule(live, self.clock())

    async def resync(self) -> None:
        """Pick up monitors another process created, edited or deleted (the CLI's demo, a second Beacon on the
        same database): the runtime calls this when it notices writes it did not make."""
        rows = dict(await Monitor.all().values_list("id", "updated_at"))
        for monitor_id in set(self.live) - set(rows):
            self.forget(monitor_id)
        for monitor_id, updated_at in rows.items():
            live = self.live.get(monitor_id)
            if live is None or live.version != updated_at:
                await self.sync(monitor_id)

    def forget(self, monitor_id: int) -> None:
        self.live.pop(monitor_id, None)
        if self.scheduler is not None:
            self.scheduler.remove(monitor_id)

    async def _live(self, monitor_id: int) -> Live | None:
        live = self.live.get(monitor_id)
        if live is None:
            m = await Monitor.get_or_none(id=monitor_id)
            if m is None:
                return None
            live = self.live[monitor_id] = Live.of(m)
        return live

    # -- results -------------------------------------------------------------------------------------------------

    async def check_now(self, monitor_id: int) -> CheckResult | None:
        """Run the monitor's check at once and record it like any other; None for an unknown monitor."""
        live = await self._live(monitor_id)
        if live is None:
            return None
        result = await self._runner(live)()
        await self.process(live, result)
        await self.flush()
        return result

    async def receive_push(self, token: str, status: str = "up", message: str = "",
                           ping_ms: float | None = None) -> bool:
        """A heartbeat arrived at /api/push/{token}; False when no push monitor has that token."""
        m = await Monitor.get_or_none(push_token=token, kind="push")
        if m is None:
            return False
        live = await self._live(m.id)
        assert live is not None
        if live.paused:
            return True  # accepted and ignored, as a paused monitor records nothing
        now = self.clock()
        live.last_push_at = now
        outcome = Outcome.DOWN if status == "down" else Outcome.DEGRADED if status == "degraded" else Outcome.UP
        result = CheckResult(outcome, ping_ms, message or ("Push received" if outcome is Outcome.UP else ""))
        await self.process(live, result, now)
        if not self.running:  # no flush loop (a process without the scheduler): write it now
            await self.flush()
        if self.scheduler is not None:
            self.scheduler.reschedule(live.id, live.interval * 1.5)
        return True

    async def _push_verdict(self, monitor_id: int) -> CheckResult:
        live = self.live.get(monitor_id)
        silent = (self.clock() - live.last_push_at) if live and live.last_push_at else None
        if silent is None:
            return down(f"No push received yet; expected one every {live.interval if live else '?'} s")
        return down(f"No push received for {silent:.0f} s (expected every {live.interval} s)")

    async def _on_result(self, job: Job, result: CheckResult, lag: float) -> float | None:
        live = self.live.get(job.id)
        if live is None:
            return None
        return await self.process(live, result)

    async def process(self, live: Live, result: CheckResult, now: float | None = None) -> float | None:
        """Take one result: batch it, and write a change of state at once. Returns the retry delay, if any."""
        now = self.clock() if now is None else now
        in_maintenance = live.component_id is not None and live.component_id in self.in_maintenance
        before = live.state
        s = step(before, result.outcome, live.policy, now, in_maintenance=in_maintenance,
                 has_incident=bool(live.auto_incident_ids))
        live.state = s.state
        live.last_check_at, live.last_latency_ms = now, result.latency_ms
        live.last_message, live.last_details = result.message, dict(result.details)
        self._add_to_batch(live, now, s.recorded, result, in_maintenance)
        if s.change or s.flapping_started or s.flapping_stopped or s.state.held != before.held:
            await self._write_change(live, before, s, result, now)
        if s.open_incident:
            await self._open_incident(live, result)
        elif s.resolve_incident:
            await self._resolve_incidents(live, result)
        return float(live.retry_interval) if s.retry else None

    def _add_to_batch(self, live: Live, now: float, recorded: str, result: CheckResult, in_maintenance: bool) -> None:
        code = ts.STATUS_CODE[recorded]
        at_ms = int(now * 1000)
        latency = result.latency_ms if result.outcome is not Outcome.DOWN else None
        b = self.batch
        if (code != ts.UP or live.kept_status != code or in_maintenance != live.kept_maintenance
                or at_ms - live.kept_at_ms >= SAMPLE_SECONDS * 1000):
            b.heartbeats.append((live.id, at_ms, code, None if latency is None else int(round(latency)),
                                 int(in_maintenance), result.message[:1000] or None))
            live.kept_at_ms, live.kept_status, live.kept_maintenance = at_ms, code, in_maintenance
        for resolution in ts.RESOLUTIONS:
            key = (live.id, ts.bucket_of(now, resolution))
            agg = b.deltas[resolution].get(key)
            if agg is None:
                agg = b.deltas[resolution][key] = ts.Agg()
            agg.add(code, latency, in_maintenance)
        b.monitors.add(live.id)
        if live.component_id is not None:
            b.component_days.add((live.component_id, ts.bucket_of(now, "day")))

    def _state_fields(self, live: Live) -> dict[str, Any]:
        s = live.state
        return {"state": s.state, "state_since": _dt(s.since), "consecutive_failures": s.consecutive_failures,
                "held_status": s.held, "flapping": s.flapping, "changes_at": list(s.changes_at),
                "last_check_at": _dt(live.last_check_at), "last_latency_ms": live.last_latency_ms,
                "last_message": live.last_message, "last_details": live.last_details}

    async def _write_change(self, live: Live, before: State, s: Any, result: CheckResult, now: float) -> None:
        from app.services.holds import pages_showing, reconcile

        at = _dt(now)
        async with change(SYSTEM, "component.set_status") as ch:
            if not await Monitor.filter(id=live.id).using_db(ch.conn).exists():
                return  # deleted while its check ran
            await Monitor.filter(id=live.id).using_db(ch.conn).update(**self._state_fields(live))
            notes = []
            if s.change:
                notes.append((s.change[0], s.change[1], result.message))
            if s.flapping_started:
                notes.append((s.state.state, "flapping", f"More than {live.policy.flap_changes} changes in "
                              f"{live.policy.flap_minutes} min: holding the component at its worst status"))
            if s.flapping_stopped:
                notes.append(("flapping", s.state.state, f"Stable for {live.policy.flap_minutes} min"))
            for old, new, message in notes:
                await MonitorEvent.create(monitor_id=live.id, at=at, old_state=old, new_state=new,
                                          message=message[:1000], using_db=ch.conn)
            page_ids: set[int] = set()
            if live.component_id is not None:
                if s.state.held != before.held:
                    await reconcile(ch, [live.component_id], at)
                page_ids = await pages_showing(ch.conn, [live.component_id])
            if s.change or s.flapping_started or s.flapping_stopped:
                log.info("monitor.state_changed id=%s name=%r old=%s new=%s flapping=%s message=%r", live.id,
                         live.name, before.state, s.state.state, s.state.flapping, result.message)
                ch.emit(events.MONITOR_STATE_CHANGED, {
                    "monitor_id": live.id, "name": live.name, "component_id": live.component_id,
                    "old_state": before.state, "new_state": s.state.state, "flapping": s.state.flapping,
                    "message": result.message, "at": at.isoformat() if at else None}, page_ids)

    async def _open_incident(self, live: Live, result: CheckResult) -> None:
        from app.services import incidents
        from storage.models import IncidentTemplate

        if live.component_id is None:
            return
        template = await IncidentTemplate.get_or_none(id=live.template_id) if live.template_id else None
        title = _fill(template.title, live, result) if template else f"{live.name} is down"
        body = (_fill(template.body, live, result) if template and template.body else
                f"Monitoring found **{live.name}** failing {live.state.consecutive_failures} checks in a row: "
                f"{result.message or 'no answer'}. We are looking into it.")
        impact = (IncidentImpact(template.impact) if template else
                  IncidentImpact.MAJOR if live.policy.down_status == ComponentStatus.MAJOR_OUTAGE
                  else IncidentImpact.PARTIAL)
        status = live.state.held or live.policy.down_status
        opened = []
        for page_id in sorted(set(await Placement.filter(component_id=live.component_id)
                                  .values_list("page_id", flat=True))):
            try:
                incident = await incidents.create_incident(SYSTEM, page=page_id, name=title[:300], impact=impact,
                                                           body=body, components={live.component_id: status})
                opened.append(incident.id)
            except Exception:
                log.exception("monitor.auto_incident_failed monitor=%s page=%s", live.id, page_id)
        if opened:
            live.auto_incident_ids = opened
            await Monitor.filter(id=live.id).update(auto_incident_ids=opened)

    async def _resolve_incidents(self, live: Live, result: CheckResult) -> None:
        from app.enums import IncidentStatus
        from app.services import incidents
        from storage.models import Incident

        ids, live.auto_incident_ids = live.auto_incident_ids, []
        await Monitor.filter(id=live.id).update(auto_incident_ids=[])
        for incident_id in ids:
            if not await Incident.filter(id=incident_id).exclude(status=IncidentStatus.RESOLVED).exists():
                continue  # someone resolved or deleted it by hand
            body = (f"**{live.name}** is answering again ({result.message or 'up'}). "
                    "Resolved automatically by monitoring.")
            try:
                await incidents.resolve_incident(SYSTEM, incident_id, body=body)
            except Exception:
                log.exception("monitor.auto_resolve_failed monitor=%s incident=%s", live.id, incident_id)

    # -- writing batches ---------------------------------------------------------------------------------------

    async def flush(self) -> int:
        """Write the pending batch in one transaction; returns how many checks it held."""
        async with self._flush_lock:
            batch, self.batch = self.batch, Batch()
            if batch.empty:
                return 0
            known = set(self.live) | set(await Monitor.filter(id__in=list(batch.monitors)).values_list(
                "id", flat=True))
            heartbeats = [h for h in batch.heartbeats if h[0] in known]
            try:
                async with in_transaction() as conn:
                    await ts.write_heartbeats(conn, heartbeats)
                    for resolution, deltas in batch.deltas.items():
                        await ts.add_rollups(conn, resolution, {k: v for k, v in deltas.items() if k[0] in known})
                    rows = [Monitor(id=mid, **self._state_fields(self.live[mid]))
                            for mid in sorted(batch.monitors & set(self.live))]
                    if rows:
                        await Monitor.bulk_update(rows, fields=list(self._state_fields(self.live[rows[0].id])),
                                                  batch_size=200, using_db=conn)
                    await self._roll_up_components(conn, batch.component_days)
            except Exception:
                log.exception("monitor.flush_failed checks=%s", len(batch.monitors))
                self._merge_back(batch)
                return 0
            await self._announce_uptime(batch.component_days)
            return len(heartbeats)

    def _merge_back(self, batch: Batch) -> None:
        """A failed write (e.g. the database was locked): keep the checks for the next flush."""
        current, self.batch = self.batch, batch
        self.batch.heartbeats.extend(current.heartbeats)
        for resolution, deltas in current.deltas.items():
            for key, agg in deltas.items():
                self.batch.deltas[resolution].setdefault(key, ts.Agg()).merge(agg)
        self.batch.monitors |= current.monitors
        self.batch.component_days |= current.component_days

    async def _roll_up_components(self, conn: Any, component_days: set[tuple[int, int]]) -> None:
        """Recompute each touched component's day from its monitors' day rollups (the public bars read these)."""
        by_day: dict[int, set[int]] = defaultdict(set)
        for component_id, day in component_days:
            by_day[day].add(component_id)
        for day_bucket, component_ids in by_day.items():
            monitors = await Monitor.filter(component_id__in=list(component_ids)).using_db(conn).values(
                "id", "component_id", "interval_seconds", "down_status")
            counts = await ts.series(conn, "day", [m["id"] for m in monitors], day_bucket)
            per_component: dict[int, list[MonitorDay]] = defaultdict(list)
            for m in monitors:
                for bucket, agg in counts.get(m["id"], []):
                    if bucket == day_bucket:
                        per_component[m["component_id"]].append(MonitorDay(
                            agg.up, agg.down, agg.degraded, agg.maintenance, m["interval_seconds"],
                            ComponentStatus(m["down_status"]), agg.latency_sum, agg.latency_count))
            day = datetime.fromtimestamp(day_bucket, UTC).date()
            rows = [row for cid, parts in per_component.items() if (row := component_day(cid, day, parts))]
            await write_daily(rows, conn)

    async def _announce_uptime(self, component_days: set[tuple[int, int]]) -> None:
        if component_days:
            self._uptime_pages |= set(await Placement.filter(
                component_id__in=list({c for c, _ in component_days})).values_list("page_id", flat=True))
        now = self.clock()
        if self._uptime_pages and now - self._uptime_sent >= UPTIME_EVENT_SECONDS:
            bus.publish(events.Event(events.UPTIME_UPDATED, {}, frozenset(self._uptime_pages)))
            self._uptime_pages, self._uptime_sent = set(), now

    async def _pause(self, seconds: float) -> bool:
        """Sleep, or return True at once when the engine is stopping."""
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
            return True
        except TimeoutError:
            return False

    async def _flush_forever(self) -> None:
        while not await self._pause(FLUSH_SECONDS):
            try:
                await self.flush()
            except Exception:
                log.exception("monitor.flush_loop_failed")

    async def prune(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        from app.services import retention

        self.retention_days = (await retention.current()).heartbeat_days  # the owner may change it in the UI
        async with in_transaction() as conn:
            await ts.prune(conn, heartbeats_before_ms=int((now - self.retention_days * 86_400) * 1000),
                           minute_before=int(now - MINUTE_ROLLUP_DAYS * 86_400),
                           hour_before=int(now - HOUR_ROLLUP_DAYS * 86_400))
            # state changes are few and make the monitor's history: a year of them
            await MonitorEvent.filter(at__lt=datetime.fromtimestamp(now, UTC) - timedelta(days=EVENT_DAYS)
                                      ).using_db(conn).delete()

    async def _prune_daily(self) -> None:
        wait = 60.0
        while not await self._pause(wait):
            try:
                await self.prune()
            except Exception:
                log.exception("monitor.prune_failed")
            wait = PRUNE_EVERY_SECONDS


engine = Engine()


"""Scheduled notices: uptime alerts and periodic reports, written to the outbox once a minute.

- **Uptime alerts.** Every enabled channel subscribed to ``uptime.alert`` names a rule (window, threshold) in its
  options (``uptime_window``, default "24h"; ``uptime_threshold``, default 99.0 %). For each rule, every component
  with monitors gets its uptime over the window from the monitors' hour rollups (each monitor weighs the same);
  ``app.notify.alerts`` decides what to announce, once per breach, remembered in ``NoticeMark`` rows
  ``uptime:{component}:{window}:{threshold}`` (deleted again when the component recovers, which re-arms it).
- **Reports.** For every enabled channel subscribed to ``report.daily|weekly|monthly`` and every page it listens to
  (none listed: every page), the last complete period in the page's time zone is reported once per page
  (``NoticeMark`` ``report:{period}:{page}:{start date}``): uptime per component over the period, the incidents
  that started in it and the maintenance that took place in it. Only the last complete period is reported: after
  a long downtime missed periods are not sent late.

Each tick reads first, and writes only when something is to be sent or remembered: one ``change()`` transaction
that re-reads the marks under a lock (so two processes do not announce the same thing twice) and writes the
marks and the outbox events together. The loop ends on a signal, never by cancellation (app/notify/outbox.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import connections

from app import events
from app.auth import Actor
from app.enums import MaintenanceState
from app.notify import alerts, reports
from app.services.transaction import change
from app.uptime import Day, window_percent
from storage import timeseries as ts
from storage.models import (
    Channel,
    Component,
    DailyUptime,
    Incident,
    Maintenance,
    Monitor,
    NoticeMark,
    Placement,
    StatusPage,
)

log = logging.getLogger(__name__)
PRUNE_EVERY_SECONDS = 3600.0  # custom metric points older than their keep time

SYSTEM = Actor.system("notices")
ACTION = "channel.manage"
TICK_SECONDS = 60.0
LOCK = "notices"
# where a window's uptime comes from: (rollup resolution, seconds) — as the monitor screens compute it
WINDOW_SPAN = {"24h": ("hour", 24 * 3600), "7d": ("hour", 7 * 86400)}


@dataclass(frozen=True, slots=True)
class _Report:
    key: str
    name: str
    page_id: int
    data: dict[str, Any]


def _since(resolution: str, seconds: int, epoch: float) -> int:
    """The first bucket of a window ending at ``epoch`` (its current, partial bucket included)."""
    size = ts.RESOLUTIONS[resolution]
    return ts.bucket_of(epoch, resolution) - seconds + size


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


class Notices:
    def __init__(self, interval: float = TICK_SECONDS) -> None:
        self.interval = interval
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    # -- life cycle ----------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        if self._task is not None:
            return
        self._stopping = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="notices")

    async def stop(self) -> None:
        """Signal the loop and wait for the tick under way to finish (never cancelled mid-transaction)."""
        if self._task is None:
            return
        self._stopping.set()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        pruned = 0.0
        while not self._stopping.is_set():
            try:
                await self.tick(datetime.now(UTC))
            except Exception:
                log.exception("notices.tick_failed")
            if time.monotonic() - pruned > PRUNE_EVERY_SECONDS:  # housekeeping that rides on this minute loop
                pruned = time.monotonic()
                try:
                    from app.services import metrics

                    await metrics.prune_points()
                except Exception:
                    log.exception("notices.prune_failed")
                try:
                    from app.services import retention

                    await retention.prune_audit()
                except Exception:
                    log.exception("notices.audit_prune_failed")
            try:
                async with asyncio.timeout(self.interval):
                    await self._stopping.wait()
            except TimeoutError:
                pass

    # -- one pass ------------------------------------------------------------------------------------------------

    async def tick(self, now: datetime | None = None) -> int:
        """Write the uptime alerts and reports due at ``now``; returns how many events were written."""
        now = now or datetime.now(UTC)
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError(f"now needs an offset: {now!r}")
        wanting = await Channel.filter(enabled=True)
        readings = await self._readings(wanting, now)
        keys = [r.key for r in readings]
        marks = await self._marks(keys)
        decision = alerts.decide(readings, marks, now)
        due = await self._due_reports(wanting, now)
        if decision.empty and not due:
            return 0
        return await self._write(readings, due, now)

    async def _write(self, readings: list[alerts.Reading], due: list[_Report], now: datetime) -> int:
        keys = [r.key for r in readings]
        written = 0
        async with change(SYSTEM, ACTION) as ch:
            await ch.lock(LOCK)
            # again under the lock: another process may have announced the same thing since we read
            marks = await self._marks(keys, ch.conn)
            decision = alerts.decide(readings, marks, now)
            info = await self._component_info([a.component_id for a in decision.alerts]) if decision.alerts else {}
            for alert in decision.alerts:
                name, page_ids = info.get(alert.component_id, ("", []))
                r = alert.reading
                ch.emit(events.UPTIME_ALERT, {
                    "component_id": r.component_id, "component_name": name, "window": r.window,
                    "threshold": r.threshold, "uptime": round(alert.uptime, 4),
                    "breached_at": alert.breached_at.isoformat(), "page_ids": page_ids}, set(page_ids))
                written += 1
                log.info("notices.uptime_alert component=%s window=%s threshold=%s uptime=%.4f", r.component_id,
                         r.window, r.threshold, alert.uptime)
            for key, mark in decision.set_marks.items():
                await NoticeMark.update_or_create(key=key, defaults={"value": mark.to_json(), "at": now},
                                                  using_db=ch.conn)
            if decision.clear_marks:
                await NoticeMark.filter(key__in=decision.clear_marks).using_db(ch.conn).delete()
            if due:
                sent = set(await NoticeMark.filter(key__in=[d.key for d in due]).using_db(ch.conn)
                           .values_list("key", flat=True))
                for report in due:
                    if report.key in sent:
                        continue
                    await NoticeMark.create(key=report.key, value={"sent_at": now.isoformat(),
                                                                   "start": report.data["start"],
                                                                   "end": report.data["end"]},
                                            at=now, using_db=ch.conn)
                    ch.emit(report.name, report.data, {report.page_id})
                    written += 1
                    log.info("notices.report period=%s page=%s start=%s", report.data["period"], report.page_id,
                             report.data["start"])
        return written

    @staticmethod
    async def _marks(keys: list[str], conn: Any = None) -> dict[str, alerts.Mark]:
        if not keys:
            return {}
        rows = await NoticeMark.filter(key__in=keys).using_db(conn)
        return {row.key: alerts.Mark.from_json(row.value, row.at) for row in rows}

    @staticmethod
    async def _component_info(component_ids: list[int]) -> dict[int, tuple[str, list[int]]]:
        """Each component's name and the pages that show it."""
        names = dict(await Component.filter(id__in=component_ids).values_list("id", "name"))
        pages: dict[int, list[int]] = {cid: [] for cid in component_ids}
        for cid, pid in await Placement.filter(component_id__in=component_ids).values_list("component_id",
                                                                                           "page_id"):
            pages[cid].append(pid)
        return {cid: (names.get(cid, ""), sorted(pages[cid])) for cid in component_ids}

    # -- uptime alerts -------------------------------------------------------------------------------------------

    @staticmethod
    async def _readings(wanting: list[Channel], now: datetime) -> list[alerts.Reading]:
        rules = sorted({alerts.rule_of(c.options) for c in wanting if events.UPTIME_ALERT in (c.events or [])})
        if not rules:
            return []
        monitors = await Monitor.filter(component_id__not_isnull=True).values_list("id", "component_id")
        by_component: dict[int, list[int]] = {}
        for mid, cid in monitors:
            by_component.setdefault(cid, []).append(mid)
        if not by_component:
            return []
        conn = connections.get("default")
        monitor_ids = [mid for mid, _ in monitors]
        epoch = now.timestamp()
        per_window: dict[str, dict[int, float | None]] = {}
        for window in sorted({w for w, _ in rules}):
            resolution, seconds = WINDOW_SPAN[window]
            totals = await ts.totals(conn, resolution, monitor_ids, _since(resolution, seconds, epoch))
            per_window[window] = {
                cid: _mean(totals[m].uptime_percent if m in totals else None for m in mids)
                for cid, mids in by_component.items()}
        return [alerts.Reading(cid, window, threshold, per_window[window][cid])
                for window, threshold in rules for cid in sorted(by_component)]

    # -- reports -------------------------------------------------------------------------------------------------

    async def _due_reports(self, wanting: list[Channel], now: datetime) -> list[_Report]:
        wanted: set[tuple[str, int | None]] = set()  # (period, page id; None: every page)
        for channel in wanting:
            for name in channel.events or []:
                period = reports.PERIOD_OF.get(name)
                if period is None:
                    continue
                for page_id in channel.page_ids or [None]:
                    wanted.add((period, page_id))
        if not wanted:
            return []
        pages = {p.id: p for p in await StatusPage.all()}
        todo: dict[str, tuple[str, StatusPage, datetime, datetime]] = {}
        for period, page_id in wanted:
            listened = list(pages.values()) if page_id is None else [pages[page_id]] if page_id in pages else []
            for page in listened:
                start, end = reports.last_complete_period(period, now, page.time_zone)
                todo[reports.mark_key(period, page.id, start)] = (period, page, start, end)
        if not todo:
            return []
        sent = set(await NoticeMark.filter(key__in=list(todo)).values_list("key", flat=True))
        out = []
        for key in sorted(set(todo) - sent):
            period, page, start, end = todo[key]
            data = await self._report_data(page, period, start, end)
            out.append(_Report(key, reports.EVENT_OF[period], page.id, data))
        return out

    @staticmethod
    async def _report_data(page: StatusPage, period: str, start: datetime, end: datetime) -> dict[str, Any]:
        tz = reports.zone(page.time_zone)
        placed = await Placement.filter(page_id=page.id).order_by("position", "id").values_list(
            "component_id", "component__name")
        component_ids = [cid for cid, _ in placed]
        monitors = await Monitor.filter(component_id__in=component_ids).values_list("id", "component_id")
        by_component: dict[int, list[int]] = {}
        for mid, cid in monitors:
            by_component.setdefault(cid, []).append(mid)
        uptime: dict[int, float | None] = {}
        if monitors:
            series = await ts.series(connections.get("default"), "hour", [mid for mid, _ in monitors],
                                     ts.bucket_of(start.timestamp(), "hour"))
            end_epoch = end.timestamp()
            per_monitor: dict[int, float | None] = {}
            for mid, rows in series.items():
                agg = ts.Agg()
                for bucket, bucket_agg in rows:
                    if bucket < end_epoch:
                        agg.merge(bucket_agg)
                per_monitor[mid] = agg.uptime_percent
            uptime = {cid: _mean(per_monitor.get(m) for m in mids) for cid, mids in by_component.items()}
        unmonitored = [cid for cid in component_ids if cid not in by_component]
        if unmonitored:  # e.g. status kept by hand: the daily rollups, by UTC day
            first, last = start.astimezone(UTC).date(), (end - timedelta(seconds=1)).astimezone(UTC).date()
            days: dict[int, list[Day]] = {cid: [] for cid in unmonitored}
            for row in await DailyUptime.filter(component_id__in=unmonitored, day__gte=first, day__lte=last):
                days[row.component_id].append(Day(  # type: ignore[attr-defined]
                    row.day, row.observed_seconds, row.down_seconds, row.degraded_seconds, row.maintenance_seconds))
            uptime.update({cid: window_percent(d) for cid, d in days.items()})
        incidents = await Incident.filter(page_id=page.id, started_at__gte=start, started_at__lt=end)
        maintenances = await Maintenance.filter(
            page_id=page.id, scheduled_for__lt=end, scheduled_until__gt=start,
            state__in=[MaintenanceState.IN_PROGRESS, MaintenanceState.COMPLETED])
        return reports.report_data(
            page_id=page.id, period=period, start=start, end=end, time_zone=page.time_zone,
            uptime=[reports.UptimeRow(cid, name, uptime.get(cid)) for cid, name in placed],
            incidents=[reports.IncidentRow(i.id, i.name, i.impact.value, i.status.value, i.started_at.astimezone(tz),
                                           i.resolved_at.astimezone(tz) if i.resolved_at else None)
                       for i in incidents],
            maintenances=[reports.MaintenanceRow(m.id, m.name, m.state.value, m.scheduled_for.astimezone(tz),
                                                 m.scheduled_until.astimezone(tz)) for m in maintenances])


notices = Notices()

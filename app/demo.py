"""``python main.py demo``: the demo page of CONTRACT.md, loaded through the services, idempotently; its
90 days of uptime history are monitoring data: a monitor per component, with day rollups for 90 days, hour
rollups for the last 7 and minute rollups for the last 3 hours, written straight into the rollup tables, and the
components' daily rows that the public bars read."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from app.auth import Actor
from app.enums import ComponentStatus
from app.html import duration
from app.services import components, incidents, maintenance, pages
from app.services.errors import NotFound
from storage import timeseries as ts
from storage.models import ComponentGroup, DailyUptime, Incident, Maintenance, Monitor, Placement
from storage.rollups import DailyRow, write_daily

SLUG = "demo"

# (group, parent group or None, components); 30 components in 5 groups, "Europe" nested two levels deep.
GROUPS: list[tuple[str, str | None, list[str]]] = [
    ("Website", None, ["Marketing site", "Documentation", "Blog", "Status widget", "CDN"]),
    ("API", None, ["REST API", "GraphQL API", "Webhooks", "Authentication", "Rate limiter", "Search API"]),
    ("Regions", None, ["US East", "US West", "Asia Pacific"]),
    ("Europe", "Regions", ["Frankfurt", "Dublin", "Paris", "Stockholm"]),
    ("Data", None, ["Primary database", "Read replicas", "Object storage", "Backups", "Analytics pipeline",
                    "Message queue", "Cache", "Email delivery", "SMS delivery", "Payments", "Billing",
                    "Dashboard"]),
]
DEGRADED = {"Search API": ComponentStatus.DEGRADED, "Dublin": ComponentStatus.PARTIAL_OUTAGE}


async def load_demo() -> int:
    """Create the demo page if it is missing, and its uptime history if that is missing; returns its id."""
    try:
        page_id = (await pages.find_page(SLUG)).id
    except NotFound:
        page_id = await _create_page()
    placed = await Placement.filter(page_id=page_id).values_list("component_id", "component__name")
    ids = {name: cid for cid, name in placed}
    now = datetime.now(UTC)
    if not await DailyUptime.filter(component_id__in=list(ids.values())).exists():
        days = demo_uptime(ids, now)
        await write_daily(days)
        if not await Monitor.filter(component_id__in=list(ids.values())).exists():
            monitor_ids = await _monitors(ids)
            await _write_rollups(demo_rollups(days, monitor_ids, now))
    if not await Incident.filter(page_id=page_id).exists():
        await _incidents(page_id, ids, now)
    if not await Maintenance.filter(page_id=page_id).exists():
        await _maintenance(page_id, ids, now)
    return page_id


ACTOR = Actor.system("demo")
POSTMORTEM = """## What happened
A certificate rotation on the mail relays left them presenting an expired intermediate certificate. \
Receiving servers refused the connection, and messages queued for 95 minutes.

## Why we did not see it sooner
Our checks connected to the relays without validating the full chain, so they stayed green.

## What we are changing
- Monitor the relays with full chain validation and alert 14 days before any certificate expires.
- Rotate certificates through the same pipeline as code, with a canary relay first.
"""


async def _incidents(page_id: int, ids: dict[str, int], now: datetime) -> None:
    """The demo's incidents, told with the times they happened: the past ones as backfills (they notify nobody),
    the email outage 12 days ago with its whole timeline and write-up, and one still open."""
    for ago, names, status, seconds in PAST_TROUBLE:
        if ago == 12:
            continue
        start = now - timedelta(days=ago, hours=3)
        await incidents.create_incident(
            ACTOR, page=page_id, name=_TITLES[ago], impact=_IMPACT[status], backfill=True,
            body=f"Resolved after {duration(seconds)}.", started_at=start,
            resolved_at=start + timedelta(seconds=seconds), components={ids[n]: status for n in names}, now=now)
    start = now - timedelta(days=12, hours=5)
    email = await incidents.create_incident(
        ACTOR, page=page_id, name="Email delivery delayed", impact="MAJOR", started_at=start, now=start,
        body="Outgoing email is queueing. We are investigating.", components={ids["Email delivery"]: "MAJOR_OUTAGE"})
    await incidents.post_update(ACTOR, email.id, status="IDENTIFIED", now=start + timedelta(minutes=40),
                                body="An expired intermediate certificate on our mail relays. Rolling back.")
    await incidents.post_update(ACTOR, email.id, status="MONITORING", now=start + timedelta(minutes=80),
                                body="The relays present the right chain again; the queue is draining.",
                                components={ids["Email delivery"]: "DEGRADED"})
    await incidents.resolve_incident(ACTOR, email.id, now=start + timedelta(minutes=95),
                                     body="Every queued message has been delivered.")
    await incidents.set_postmortem(ACTOR, email.id, POSTMORTEM, publish=True, now=start + timedelta(days=2))

    start = now - timedelta(minutes=50)
    dublin = await incidents.create_incident(
        ACTOR, page=page_id, name="Elevated errors in Dublin", impact="PARTIAL", started_at=start, now=start,
        body="Some requests served from **Dublin** fail. Search is slower while we investigate.",
        components={ids[n]: s for n, s in DEGRADED.items()})
    await incidents.post_update(ACTOR, dublin.id, status="IDENTIFIED", now=now - timedelta(minutes=20),
                                body="A failed network switch in one Dublin availability zone. Traffic is being "
                                     "moved to the other two zones.")


_TITLES = {61: "API unavailable", 33: "Increased latency in Europe", 4: "Slow search results"}
_IMPACT = {ComponentStatus.MAJOR_OUTAGE: "MAJOR", ComponentStatus.PARTIAL_OUTAGE: "PARTIAL",
           ComponentStatus.DEGRADED: "DEGRADED"}


async def _maintenance(page_id: int, ids: dict[str, int], now: datetime) -> None:
    """The past windows of the uptime history as backfills, and one scheduled in three days at 02:00 UTC."""
    titles = {52: "Database failover test", 24: "Database upgrade", 9: "CDN provider migration"}
    for ago, names, seconds in PAST_MAINTENANCE:
        start = datetime.combine((now - timedelta(days=ago)).date(), datetime.min.time(), UTC) + timedelta(hours=2)
        await maintenance.schedule_maintenance(
            ACTOR, page=page_id, name=titles[ago], body="Planned work; no action needed.", starts_at=start,
            ends_at=start + timedelta(seconds=seconds), components=[ids[n] for n in names], backfill=True, now=now)
    start = datetime.combine((now + timedelta(days=3)).date(), datetime.min.time(), UTC) + timedelta(hours=2)
    await maintenance.schedule_maintenance(
        ACTOR, page=page_id, name="Primary database upgrade", starts_at=start, ends_at=start + timedelta(hours=2),
        body="We are upgrading the primary database to a new major version. Writes pause for up to **5 minutes**.",
        components=[ids["Primary database"], ids["Read replicas"]], now=now)


async def _create_page() -> int:
    actor = Actor.system("demo")
    page = await pages.create_page(actor, title="Acme Cloud", slug=SLUG,
                                   description="Live status of Acme Cloud services")
    group_ids: dict[str, int] = {}
    for name, parent, names in GROUPS:
        group = await components.create_group(actor, page_id=page.id, name=name,
                                               parent_id=group_ids.get(parent) if parent else None)
        group_ids[name] = group.id
        for component_name in names:
            # the open incident (see _incidents) gives the troubled components their statuses
            await components.create_component(actor, name=component_name, pages=[page.id], group_id=group.id)
    assert await ComponentGroup.filter(page_id=page.id).count() == len(GROUPS)
    return page.id


HISTORY_DAYS = 90
DAY_SECONDS = 86_400
# Incidents of the past, as (days ago, components, worst status, seconds): what made the bad days.
PAST_TROUBLE: list[tuple[int, tuple[str, ...], ComponentStatus, int]] = [
    (61, ("REST API", "GraphQL API", "Webhooks", "Authentication"), ComponentStatus.MAJOR_OUTAGE, 47 * 60),
    (33, ("Frankfurt", "Dublin", "Paris"), ComponentStatus.PARTIAL_OUTAGE, 3 * 3600),
    (12, ("Email delivery",), ComponentStatus.MAJOR_OUTAGE, 95 * 60),
    (4, ("Search API", "Dashboard"), ComponentStatus.DEGRADED, 5 * 3600),
]
# Planned work: (days ago, components, seconds in maintenance).
PAST_MAINTENANCE: list[tuple[int, tuple[str, ...], int]] = [
    (52, ("Primary database", "Read replicas"), 2 * 3600),
    (24, ("Primary database", "Read replicas", "Backups"), 90 * 60),
    (9, ("CDN",), 24 * 3600),
]
# Added to the page later than the others: their first days have no data.
NEW_COMPONENTS = {"Stockholm": 21, "SMS delivery": 45}


def demo_uptime(component_ids: dict[str, int], now: datetime) -> list[DailyRow]:
    """Pure and deterministic: ``HISTORY_DAYS`` days per component, mostly clean, with the
    bad days and maintenance windows above, a few random blips, and today so far matching the current
    statuses (``DEGRADED``)."""
    today = now.astimezone(UTC).date()
    elapsed_today = max(int((now - datetime.combine(today, datetime.min.time(), UTC)).total_seconds()), 60)
    rows = []
    for name, component_id in component_ids.items():
        base_latency = random.Random(name).uniform(35, 240)
        for ago in range(min(HISTORY_DAYS, NEW_COMPONENTS.get(name, HISTORY_DAYS)) - 1, -1, -1):
            day = today - timedelta(days=ago)
            rng = random.Random(f"{name}:{day.isoformat()}")  # a date's figures are the same on every run
            rows.append(_demo_day(name, component_id, day, ago, elapsed_today if ago == 0 else DAY_SECONDS,
                                  base_latency, rng))
    return rows


def _demo_day(name: str, component_id: int, day: date, ago: int, observed: int, base_latency: float,
              rng: random.Random) -> DailyRow:
    down = degraded = maintenance = 0
    worst = ComponentStatus.OPERATIONAL
    blip = rng.random()
    if blip < 0.005:  # now and then a short outage nobody wrote an incident for
        down, worst = rng.randint(2, 25) * 60, ComponentStatus.MAJOR_OUTAGE
    elif blip < 0.02:
        degraded, worst = rng.randint(10, 120) * 60, ComponentStatus.DEGRADED
    for when, names, status, seconds in PAST_TROUBLE:
        if when == ago and name in names:
            worst = status
            if status == ComponentStatus.DEGRADED:
                degraded = seconds
            else:  # a partial outage counts a third of its time as down
                down = seconds if status == ComponentStatus.MAJOR_OUTAGE else seconds // 3
    for when, names, seconds in PAST_MAINTENANCE:
        if when == ago and name in names:
            maintenance = seconds
            if worst == ComponentStatus.OPERATIONAL:
                worst = ComponentStatus.MAINTENANCE
    current = DEGRADED.get(name)
    if ago == 0 and current is not None:
        worst = current
        trouble = min(observed, 2 * 3600)
        if current == ComponentStatus.DEGRADED:
            degraded = trouble
        else:
            down = trouble // 3
    return DailyRow(component_id=component_id, day=day, observed_seconds=observed,
                    down_seconds=min(down, observed), degraded_seconds=min(degraded, observed),
                    maintenance_seconds=min(maintenance, observed), worst_status=worst,
                    avg_latency_ms=round(base_latency * rng.uniform(0.85, 1.2) * (1.6 if degraded else 1), 1))


async def _monitors(ids: dict[str, int]) -> dict[int, int]:
    """A manual monitor per component, set to up (the demo reaches out to nothing, and its open incident, not a
    monitor, holds the troubled components); returns {component id: monitor id}."""
    from app.services import monitoring

    out = {}
    for name, component_id in ids.items():
        monitor = await monitoring.create_monitor(
            ACTOR, name=f"{name} check", kind="manual", config={"status": "up"}, component_id=component_id,
            interval=60, timeout=10)
        out[component_id] = monitor.id
    return out


def demo_rollups(days: list[DailyRow], monitor_ids: dict[int, int], now: datetime
                 ) -> dict[str, dict[tuple[int, int], ts.Agg]]:
    """Pure: the rollups a 60-second monitor would have left for each day of ``days``. Day buckets for every
    day; for the last 7 days hour buckets (the day's checks spread evenly, its down and degraded time from 03:00
    on, when the demo's incidents started); for the last 3 hours minute buckets of one check each."""
    out: dict[str, dict[tuple[int, int], ts.Agg]] = {r: {} for r in ts.RESOLUTIONS}
    now_s = now.timestamp()
    for row in days:
        mid = monitor_ids.get(row.component_id)
        if mid is None:
            continue
        start = int(datetime.combine(row.day, datetime.min.time(), UTC).timestamp())
        checks, down = row.observed_seconds // 60, row.down_seconds // 60
        degraded, maint = row.degraded_seconds // 60, row.maintenance_seconds // 60
        latency = row.avg_latency_ms or 50.0
        ok = max(checks - down - degraded - maint, 0)
        answered = checks - down
        out["day"][(mid, start)] = ts.Agg(ok, down, degraded, maint, latency * answered, answered,
                                          int(latency * 0.6), int(latency * 2.5))
        if now_s - start > 7 * DAY_SECONDS:
            continue
        hours = min(24, max(1, checks // 60))
        bad = {"down": down, "degraded": degraded, "maintenance": maint}
        for h in range(hours):
            agg = ts.Agg(latency_min=int(latency * 0.7), latency_max=int(latency * 1.8))
            left = 60 if h < hours - 1 else checks - 60 * (hours - 1)
            for kind in ("maintenance", "down", "degraded"):
                if h >= (2 if kind == "maintenance" else 3) and bad[kind] > 0 and left > 0:
                    take = min(bad[kind], left)
                    setattr(agg, kind, take)
                    bad[kind] -= take
                    left -= take
            agg.up = max(left, 0)
            agg.latency_count = agg.up + agg.degraded + agg.maintenance
            agg.latency_sum = latency * agg.latency_count * (1.1 if h in (9, 10, 14) else 1.0)
            out["hour"][(mid, start + h * 3600)] = agg
        for minute in range(180):
            bucket = ts.bucket_of(now_s - minute * 60, "minute")
            if bucket >= start and minute * 60 < now_s - start:
                rng = random.Random(f"{mid}:{bucket}")
                ms = latency * rng.uniform(0.8, 1.3)
                out["minute"][(mid, bucket)] = ts.Agg(up=1, latency_sum=ms, latency_count=1, latency_min=int(ms),
                                                      latency_max=int(ms))
    return out


async def _write_rollups(rollups: dict[str, dict[tuple[int, int], ts.Agg]]) -> None:
    from tortoise.transactions import in_transaction

    async with in_transaction() as conn:
        for resolution, deltas in rollups.items():
            await ts.add_rollups(conn, resolution, deltas)

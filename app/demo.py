"""``python main.py demo``: the demo page of CONTRACT.md, loaded through the services, idempotently; its
90 days of uptime history are monitoring data and go straight into the rollup table."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from app.auth import Actor
from app.enums import ComponentStatus
from app.html import duration
from app.services import components, incidents, maintenance, pages
from app.services.errors import NotFound
from storage.models import ComponentGroup, DailyUptime, Incident, Maintenance, Placement
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
        await write_daily(demo_uptime(ids, now))
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

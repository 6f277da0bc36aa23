"""``GET /metrics``: Beacon's state for Prometheus (text exposition format 0.0.4).

The metrics are operator-facing: they cover **every** page — private pages and drafts included — labelled with
the page's slug, and every monitor and channel by name. Anyone who can scrape the endpoint learns those names,
so set ``BEACON_METRICS_TOKEN`` on any instance reachable from outside: requests must then carry
``Authorization: Bearer <token>`` and get 401 (``WWW-Authenticate: Bearer``) without it.

Families (all gauges; times in seconds, ratios 0..1):

- ``beacon_up`` 1, ``beacon_build_info{version,python,database}`` 1.
- ``beacon_component_status{page,component,component_id,status}``: a state set — one series per status value
  (OPERATIONAL, DEGRADED, PARTIAL_OUTAGE, MAJOR_OUTAGE, MAINTENANCE), 1 for the current one, 0 for the others.
  ``beacon_component_operational{page,component,component_id}`` 1 when OPERATIONAL, else 0. A component on two
  pages has series under both. From the in-memory page snapshots (no database read).
- ``beacon_page_open_incidents{page}``: unresolved incidents of the page.
- ``beacon_monitor_up{monitor,monitor_id,kind,component_id}``: 1 up or degraded, 0 down. **Absent** while the
  monitor is paused or pending (never checked since it was created, resumed or moved): no series is better than
  a made-up value for ``up == 0`` alerts, and ``beacon_monitor_state`` says why it is absent.
- ``beacon_monitor_state{...,state}``: state set over pending, up, degraded, down, paused.
- ``beacon_monitor_paused{...}`` 0/1.
- ``beacon_monitor_latency_seconds{...}``: the last check's response time; absent when paused or never measured.
- ``beacon_monitor_uptime_ratio{...,window}`` for windows 1d, 30d, 90d: (up + degraded) / checks counted, checks
  during maintenance not counted — the figures of the monitor screens (``monitoring.uptime``: 1d from hour
  rollups, 30d and 90d from day rollups, the current partial bucket included). Absent for a window without
  counted checks.
- ``beacon_monitor_tls_certificate_days_left{...}``: days until the certificate the last check saw expires
  (negative once expired), for the tls-certificate kind and for HTTP kinds on https targets (the check's
  ``cert_days_left`` / ``expires`` details). Computed from ``expires`` at scrape time when the check recorded it
  (tls-certificate kind), else the whole days the check counted. Absent when unknown or paused.
  ``beacon_monitor_tls_certificate_expiry_timestamp_seconds{...}``: the expiry itself, when recorded.
- ``beacon_deliveries{channel,channel_id,kind,state}``: notification deliveries held in the database, by
  channel and state (pending, sent, failed, dead; every state written for every channel, 0 included).
  Deliveries to subscribers are under ``channel="subscribers"``, ``channel_id=""``, ``kind="subscriber"``.
  A gauge of rows, not a counter of sends: pruning old deliveries lowers it.
- ``beacon_outbox_pending_events``: notifiable events not yet dispatched into deliveries.
- ``beacon_live_listeners{page}``: what follows the page's snapshot in this process — the public live-update
  streams (``/status/{slug}/live``) plus admin screens open on the page (dashboard, editor, structure).
- ``beacon_live_viewers{page}``: public live-update streams only, once ``app/api/public.py`` registers them
  through ``track_viewer`` (absent until the first stream has been tracked in this process).
- ``beacon_scrape_duration_seconds``: how long this answer took to build.

Cost is bounded whatever the number of monitors: one query for the monitors, one per uptime window, one for the
deliveries, one for the channels, one for the outbox — no per-row queries.
"""

from __future__ import annotations

import hmac
import math
import platform
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from tortoise import connections
from tortoise.functions import Count

from app import config
from app.enums import ComponentStatus
from app.prometheus import CONTENT_TYPE, Metric, render
from app.services.monitoring import WINDOWS
from app.snapshot import store
from storage import timeseries as ts
from storage.models import Channel, Delivery, Monitor, OutboxEvent

router = APIRouter()

# The exported window name → the window of ``monitoring.uptime``
UPTIME_WINDOWS = {"1d": "24h", "30d": "30d", "90d": "90d"}
MONITOR_STATES = ("pending", "up", "degraded", "down", "paused")
DELIVERY_STATES = ("pending", "sent", "failed", "dead")
SUBSCRIBERS = "subscribers"

# --- live viewers ---------------------------------------------------------------------------------------------
# Public live-update streams per page id, counted when public.py registers them (one line in ``live()``:
# ``stop = track_viewer(page_id, store.listen(page_id, on_rebuild))``).
live_viewers: Counter[int] = Counter()
_tracking = False


def track_viewer(page_id: int, stop: Callable[[], None]) -> Callable[[], None]:
    """Count one live viewer of ``page_id`` until the returned function (which also calls ``stop``) runs; it may
    run more than once, the viewer is uncounted once."""
    global _tracking
    _tracking = True
    live_viewers[page_id] += 1
    done = False

    def untrack() -> None:
        nonlocal done
        if not done:
            done = True
            live_viewers[page_id] -= 1
            if live_viewers[page_id] <= 0:
                del live_viewers[page_id]
        stop()

    return untrack


# --- authorisation --------------------------------------------------------------------------------------------
def _token() -> str | None:
    return getattr(config.current(), "metrics_token", None) or None


def _authorised(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


# --- collecting -----------------------------------------------------------------------------------------------
def _version() -> str:
    try:
        from importlib.metadata import version

        return version("beacon")
    except Exception:  # not installed as a distribution: still answer
        return "unknown"


VERSION = _version()


def _dialect() -> str:
    try:
        return "postgres" if connections.get("default").capabilities.dialect == "postgres" else "sqlite"
    except Exception:  # no database configured
        return "unknown"


def _pages() -> list[Metric]:
    status = Metric("beacon_component_status", "Component status as a state set: 1 for the current status.")
    operational = Metric("beacon_component_operational", "1 when the component is OPERATIONAL, else 0.")
    incidents = Metric("beacon_page_open_incidents", "Unresolved incidents of the page.")
    for snapshot in sorted(store.by_id.values(), key=lambda s: s.page.slug):
        slug = snapshot.page.slug
        incidents.add(len(snapshot.open_incidents), page=slug)
        for component in snapshot.all_components:
            labels = {"page": slug, "component": component.name, "component_id": component.id}
            for value in ComponentStatus:
                status.add(int(component.status == value), labels, status=value.value)
            operational.add(int(component.status == ComponentStatus.OPERATIONAL), labels)
    return [status, operational, incidents]


def _live() -> list[Metric]:
    listeners = Metric("beacon_live_listeners", "Public live-update streams and admin screens following the page, "
                       "in this process.")
    viewers = Metric("beacon_live_viewers", "Public live-update streams (/status/{slug}/live) open on the page, "
                     "in this process.")
    for snapshot in sorted(store.by_id.values(), key=lambda s: s.page.slug):
        listeners.add(store.listener_count(snapshot.page.id), page=snapshot.page.slug)
        if _tracking:
            viewers.add(live_viewers.get(snapshot.page.id, 0), page=snapshot.page.slug)
    return [listeners, viewers]


async def _uptime_totals(conn: Any, window: str, now: float) -> dict[int, tuple[int, int]]:
    """{monitor id: (checks up or degraded, checks counted)} over one window of ``monitoring.WINDOWS``, for every
    monitor at once (one grouped query, no list of ids: it stays one statement at any number of monitors)."""
    resolution, seconds = WINDOWS[window]
    # the same first bucket as monitoring.uptime: the window ends with the current, partial bucket
    since = ts.bucket_of(now, resolution) - seconds + ts.RESOLUTIONS[resolution]
    mark = "$1" if conn.capabilities.dialect == "postgres" else "?"
    _, rows = await conn.execute_query(
        f"SELECT monitor_id, SUM(up), SUM(down), SUM(degraded) FROM monitor_rollups_{resolution} "
        f"WHERE bucket >= {mark} GROUP BY monitor_id", [since])
    out: dict[int, tuple[int, int]] = {}
    for row in rows:
        mid, up, down, degraded = list(row.values()) if isinstance(row, dict) else list(row)
        up, down, degraded = int(up or 0), int(down or 0), int(degraded or 0)
        out[int(mid)] = (up + degraded, up + down + degraded)
    return out


def _expiry(details: dict[str, Any], now: datetime) -> tuple[float | None, float | None]:
    """(days left, expiry epoch seconds) from a check's details; None where not recorded."""
    expires = details.get("expires")
    if isinstance(expires, str):
        try:
            at = datetime.fromisoformat(expires)
            at = at if at.tzinfo else at.replace(tzinfo=UTC)
            return (at - now).total_seconds() / 86400, at.timestamp()
        except ValueError:
            pass
    days = details.get("cert_days_left")
    if isinstance(days, int | float) and not isinstance(days, bool) and math.isfinite(days):
        return days, None
    return None, None


async def _monitors(now: float) -> list[Metric]:
    up = Metric("beacon_monitor_up", "1 when the last check found the target up or degraded, 0 when down; absent "
                "while paused or pending.")
    state = Metric("beacon_monitor_state", "Monitor state as a state set: 1 for the current state.")
    paused = Metric("beacon_monitor_paused", "1 when the monitor is paused.")
    latency = Metric("beacon_monitor_latency_seconds", "Response time of the last check.")
    uptime = Metric("beacon_monitor_uptime_ratio", "Share of checks up or degraded over the window (checks in "
                    "maintenance not counted).")
    tls_days = Metric("beacon_monitor_tls_certificate_days_left", "Days until the TLS certificate seen by the last "
                      "check expires; negative once expired.")
    tls_at = Metric("beacon_monitor_tls_certificate_expiry_timestamp_seconds", "When the TLS certificate seen by "
                    "the last check expires.")
    rows = await Monitor.all().order_by("id").values(
        "id", "name", "kind", "component_id", "paused", "state", "last_latency_ms", "last_details")
    conn = connections.get("default")
    totals = {name: await _uptime_totals(conn, window, now) for name, window in UPTIME_WINDOWS.items()}
    at = datetime.fromtimestamp(now, UTC)
    for row in rows:
        labels = {"monitor": row["name"], "monitor_id": row["id"], "kind": row["kind"],
                  "component_id": "" if row["component_id"] is None else row["component_id"]}
        current = "paused" if row["paused"] else row["state"] if row["state"] in MONITOR_STATES else "pending"
        for value in MONITOR_STATES:
            state.add(int(current == value), labels, state=value)
        paused.add(int(bool(row["paused"])), labels)
        if current in ("up", "degraded", "down"):
            up.add(int(current != "down"), labels)
        if current != "paused":
            if row["last_latency_ms"] is not None:
                latency.add(float(row["last_latency_ms"]) / 1000, labels)
            details = row["last_details"] if isinstance(row["last_details"], dict) else {}
            days, expires_at = _expiry(details, at)
            if days is not None:
                tls_days.add(days, labels)
            if expires_at is not None:
                tls_at.add(expires_at, labels)
        for name, by_monitor in totals.items():
            good, counted = by_monitor.get(row["id"], (0, 0))
            if counted:
                uptime.add(good / counted, labels, window=name)
    return [up, state, paused, latency, uptime, tls_days, tls_at]


async def _deliveries() -> list[Metric]:
    deliveries = Metric("beacon_deliveries", "Notification deliveries held, by channel and state.")
    pending = Metric("beacon_outbox_pending_events", "Notifiable events not yet dispatched into deliveries.")
    channels = await Channel.all().order_by("id").values("id", "name", "kind")
    counts = await Delivery.all().annotate(n=Count("id")).group_by("channel_id", "status").values(
        "channel_id", "status", "n")
    by_key = {(row["channel_id"], row["status"]): int(row["n"]) for row in counts}
    rows = [({"channel": c["name"], "channel_id": c["id"], "kind": c["kind"]}, c["id"]) for c in channels]
    rows.append(({"channel": SUBSCRIBERS, "channel_id": "", "kind": "subscriber"}, None))
    states = list(DELIVERY_STATES) + sorted({s for _, s in by_key if s not in DELIVERY_STATES})
    for labels, channel_id in rows:
        for value in states:
            deliveries.add(by_key.get((channel_id, value), 0), labels, state=value)
    pending.add(await OutboxEvent.filter(dispatched_at=None).count())
    return [deliveries, pending]


async def collect(now: float | None = None) -> list[Metric]:
    """Every metric family, read now."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    beacon_up = Metric("beacon_up", "1: Beacon is running and answering.").add(1)
    build = Metric("beacon_build_info", "Beacon's version, the Python running it and the database kind.").add(
        1, version=VERSION, python=platform.python_version(), database=_dialect())
    families = [beacon_up, build, *_pages(), *await _monitors(now), *await _deliveries(), *_live()]
    duration = Metric("beacon_scrape_duration_seconds", "How long building this answer took.")
    families.append(duration.add(time.perf_counter() - started))
    return families


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    token = _token()
    if token is not None and not _authorised(request, token):
        return Response("Unauthorized\n", status_code=401, media_type="text/plain; charset=utf-8",
                        headers={"WWW-Authenticate": "Bearer", "Cache-Control": "no-store"})
    body = render(await collect())
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})

"""Monitors as people manage them: create, edit, pause, resume, delete, "Test now" and "check now", and the
figures their screens show (uptime over 24 h / 7 d / 30 d / 90 d, response-time series, events).

Every write goes through ``change()`` (permission, audit entry, events after commit) and then tells the
engine (``monitor_engine.engine``) so the schedule follows at once. Secrets in a kind's config (passwords,
tokens) never leave the service in clear: they are masked on the way out, and the mask sent back on an edit
keeps the stored value.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise import connections

from app import config as app_config
from app import events
from app.auth import Actor, scope
from app.enums import ComponentStatus
from app.services.errors import Invalid, NotFound
from app.services.holds import reconcile
from app.services.monitor_engine import engine
from app.services.transaction import authorize, change, diff
from app.services.validation import SECRET_MASK, keep_masked_secrets, mask_secrets, row_id, text_problem
from monitors import registry, schema
from monitors.base import CheckResult, Kind
from monitors.runner import run_check
from storage import timeseries as ts
from storage.models import Component, IncidentTemplate, Monitor, MonitorEvent

MASK = SECRET_MASK
MIN_INTERVAL, MAX_INTERVAL = 5, 86_400
SETTINGS = ("name", "kind", "config", "component_id", "interval_seconds", "timeout_seconds", "retries",
            "retry_interval_seconds", "latency_threshold_ms", "down_status", "paused", "auto_incident",
            "auto_incident_after", "incident_template_id", "flap_changes", "flap_minutes")
DEFAULTS: dict[str, Any] = {"interval_seconds": 60, "timeout_seconds": 10.0, "retries": 0,
                            "retry_interval_seconds": 20, "latency_threshold_ms": None,
                            "down_status": ComponentStatus.MAJOR_OUTAGE, "paused": False, "auto_incident": False,
                            "auto_incident_after": 3, "incident_template_id": None, "flap_changes": 5,
                            "flap_minutes": 10, "component_id": None, "config": {}}
# Names the API accepts for the engine settings, besides the model's own (CONTRACT.md: interval, timeout, ...)
ALIASES = {"interval": "interval_seconds", "timeout": "timeout_seconds", "retry_interval": "retry_interval_seconds",
           "latency_threshold": "latency_threshold_ms", "incident_template": "incident_template_id",
           "component": "component_id"}


def kinds(*, include_scripts: bool | None = None) -> list[Kind]:
    """The kinds a monitor can be created with here, in the order the UI lists them."""
    allow_scripts = app_config.current().script_monitors if include_scripts is None else include_scripts
    return [k for k in registry.load().values() if k.name != "script" or allow_scripts]


def _secret_fields(kind_name: str) -> set[str]:
    try:
        return {f.name for f in registry.get(kind_name).fields if f.type == "secret"}
    except KeyError:
        return set()


def public_config(kind_name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The config with every secret masked (empty secrets stay empty, so a form shows "not set")."""
    return mask_secrets(config, _secret_fields(kind_name))


def _int(values: dict[str, Any], errors: dict[str, str], name: str, low: int, high: int, label: str,
         *, optional: bool = False) -> None:
    value = values.get(name)
    if value is None or value == "":
        if optional:
            values[name] = None
            return
        errors[name] = f"Enter the {label}."
        return
    number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
    if number is None and isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or (name != "timeout_seconds" and number != int(number)):
        errors[name] = f"The {label} must be a whole number."
        return
    if not low <= number <= high:
        errors[name] = f"The {label} must be between {low} and {high}."
        return
    values[name] = float(number) if name == "timeout_seconds" else int(number)


def _bool(values: dict[str, Any], errors: dict[str, str], name: str) -> None:
    value = values.get(name)
    if isinstance(value, bool):
        return
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "on", "off"):
        values[name] = value.lower() in ("true", "1", "on")
        return
    errors[name] = "Must be true or false."


async def _clean(actor: Actor, raw: dict[str, Any], existing: Monitor | None, conn: Any) -> dict[str, Any]:
    raw = {ALIASES.get(k, k): v for k, v in raw.items()}
    unknown = sorted(set(raw) - set(SETTINGS))
    values: dict[str, Any] = ({name: getattr(existing, name) for name in SETTINGS} if existing
                              else dict(DEFAULTS))
    values.update({k: v for k, v in raw.items() if k in SETTINGS})
    errors: dict[str, str] = {name: "Not a monitor setting." for name in unknown}
    values["name"] = str(values.get("name") or "").strip()
    if problem := text_problem(values["name"], "name"):
        errors["name"] = problem

    kind_name = str(values.get("kind") or "").strip()
    kind: Kind | None = None
    if existing is not None and kind_name != existing.kind:
        errors["kind"] = "The kind of a monitor cannot change; create a new monitor instead."
    elif not kind_name:
        errors["kind"] = "Choose what to check."
    else:
        try:
            kind = registry.get(kind_name)
        except KeyError:
            errors["kind"] = f"Unknown kind '{kind_name}'; use one of {', '.join(sorted(registry.load()))}."
        if kind is not None and kind.name == "script" and not app_config.current().script_monitors:
            errors["kind"] = ("Script monitors run commands on this server and are turned off; the operator can "
                              "turn them on with BEACON_SCRIPT_MONITORS=on.")
            kind = None
    if kind is not None:
        submitted = values.get("config") or {}
        if not isinstance(submitted, dict):
            errors["config"] = "Must be an object of the kind's settings."
        else:
            if existing is not None:  # a masked secret sent back means "keep what is stored"
                submitted = keep_masked_secrets(submitted, existing.config, _secret_fields(kind.name))
            try:
                values["config"] = schema.validate(kind, submitted)
            except schema.ConfigError as exc:
                errors.update({f"config.{k}": v for k, v in exc.errors.items()})

    _int(values, errors, "interval_seconds", MIN_INTERVAL, MAX_INTERVAL, "interval (seconds)")
    _int(values, errors, "timeout_seconds", 1, 300, "timeout (seconds)")
    _int(values, errors, "retries", 0, 10, "number of retries")
    _int(values, errors, "retry_interval_seconds", MIN_INTERVAL, MAX_INTERVAL, "retry interval (seconds)")
    _int(values, errors, "latency_threshold_ms", 1, 600_000, "latency threshold (ms)", optional=True)
    _int(values, errors, "auto_incident_after", 1, 100, "number of failures before an incident")
    _int(values, errors, "flap_changes", 1, 100, "number of changes that count as flapping")
    _int(values, errors, "flap_minutes", 1, 1440, "flapping window (minutes)")
    for name in ("paused", "auto_incident"):
        _bool(values, errors, name)
    if "timeout_seconds" not in errors and "interval_seconds" not in errors \
            and values["timeout_seconds"] > values["interval_seconds"]:
        errors["timeout_seconds"] = "The timeout cannot be longer than the interval."
    try:
        status = ComponentStatus(str(values.get("down_status") or "").upper())
        if status not in (ComponentStatus.MAJOR_OUTAGE, ComponentStatus.PARTIAL_OUTAGE):
            raise ValueError
        values["down_status"] = status
    except ValueError:
        errors["down_status"] = "When the check fails, the component shows MAJOR_OUTAGE or PARTIAL_OUTAGE."

    for name, model, label in (("component_id", Component, "component"),
                               ("incident_template_id", IncidentTemplate, "incident template")):
        ref = values.get(name)
        if ref in (None, "", 0):
            values[name] = None
            continue
        rid = row_id(ref)
        if rid is None or not await model.filter(id=rid).using_db(conn).exists() or (
                model is Component and not await scope.component_in_scope(actor, rid, conn)):
            errors[name] = f"No {label} with id {ref}."
        else:
            values[name] = rid
    if values.get("auto_incident") and values.get("component_id") is None and "component_id" not in errors:
        errors["auto_incident"] = "An automatic incident needs a component for the monitor to speak for."
    if errors:
        raise Invalid(errors)
    return values


def _audit_view(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    out["config"] = public_config(values.get("kind", ""), values.get("config") or {})
    return {k: (v.value if isinstance(v, ComponentStatus) else v) for k, v in out.items()}


async def _visible(actor: Actor | None, monitor: Monitor, conn: Any = None) -> bool:
    return monitor.component_id is None or await scope.component_in_scope(actor, monitor.component_id, conn)


async def get_monitor(monitor_id: int, *, actor: Actor | None = None) -> Monitor:
    monitor = await Monitor.get_or_none(id=monitor_id)
    if monitor is None or not await _visible(actor, monitor):
        raise NotFound(f"No monitor with id {monitor_id}.")
    return monitor


async def list_monitors(actor: Actor | None = None, *, component_id: int | None = None) -> list[Monitor]:
    query = Monitor.all().order_by("name", "id")
    if component_id is not None:
        query = query.filter(component_id=component_id)
    rows = await query
    visible = await scope.visible_component_ids(actor)
    if visible is None:
        return rows
    return [m for m in rows if m.component_id is None or m.component_id in visible]


async def _after(monitor_ids: list[int]) -> None:
    for monitor_id in monitor_ids:
        await engine.sync(monitor_id)


async def create_monitor(actor: Actor, **raw: Any) -> Monitor:
    authorize(actor, "monitor.create")
    async with change(actor, "monitor.create") as ch:
        values = await _clean(actor, raw, None, ch.conn)
        if values["kind"] == "push":
            values["push_token"] = secrets.token_urlsafe(24)
        monitor = await Monitor.create(using_db=ch.conn, **values)
        await ch.audit("monitor.create", "monitor", monitor.id, {k: {"old": None, "new": v}
                                                                  for k, v in _audit_view(values).items()})
        ch.emit(events.MONITOR_CHANGED, {"monitor_id": monitor.id, "change": "created"})
    await _after([monitor.id])
    return monitor


async def update_monitor(actor: Actor, monitor_id: int, **raw: Any) -> Monitor:
    authorize(actor, "monitor.update")
    async with change(actor, "monitor.update") as ch:
        monitor = await Monitor.get_or_none(id=monitor_id).using_db(ch.conn)
        if monitor is None or not await _visible(actor, monitor, ch.conn):
            raise NotFound(f"No monitor with id {monitor_id}.")
        before = {name: getattr(monitor, name) for name in SETTINGS}
        values = await _clean(actor, raw, monitor, ch.conn)
        changes = diff(_audit_view(before), _audit_view(values))
        if before["config"] != values["config"] and "config" not in changes:
            changes["config"] = {"old": "(secret)", "new": "(secret changed)"}
        if not changes:
            return monitor
        reset = _engine_reset(before, values)
        await Monitor.filter(id=monitor_id).using_db(ch.conn).update(**values, **reset, updated_at=datetime.now(UTC))
        await ch.audit("monitor.update", "monitor", monitor_id, changes)
        await _release(ch, {before["component_id"], values["component_id"]} - {None})
        ch.emit(events.MONITOR_CHANGED, {"monitor_id": monitor_id, "change": "updated"})
    await _after([monitor_id])
    return await Monitor.get(id=monitor_id)


def _engine_reset(before: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """A monitor paused, resumed or moved to another component starts afresh: pending, holding nothing, no
    failures counted. (A changed config keeps the state: the next check decides.)"""
    fresh = {"state": "pending", "state_since": None, "consecutive_failures": 0, "held_status": None,
             "flapping": False, "changes_at": []}
    if before["paused"] != values["paused"] or before["component_id"] != values["component_id"]:
        return fresh
    return {}


async def _release(ch: Any, component_ids: set[int]) -> None:
    if component_ids:
        await reconcile(ch, component_ids)


async def set_paused(actor: Actor, monitor_ids: list[int], paused: bool) -> int:
    """Pause or resume several monitors at once (the list's bulk action); returns how many changed."""
    authorize(actor, "monitor.update")
    changed: list[int] = []
    async with change(actor, "monitor.update") as ch:
        rows = await Monitor.filter(id__in=list(monitor_ids)).using_db(ch.conn)
        found = {m.id for m in rows}
        missing = [i for i in monitor_ids if i not in found]
        for monitor in rows:
            if not await _visible(actor, monitor, ch.conn):
                missing.append(monitor.id)
        if missing:
            raise NotFound(f"No monitor with id {missing[0]}.")
        components: set[int] = set()
        for monitor in rows:
            if monitor.paused == paused:
                continue
            await Monitor.filter(id=monitor.id).using_db(ch.conn).update(
                paused=paused, updated_at=datetime.now(UTC), state="pending", state_since=None, consecutive_failures=0,
                held_status=None, flapping=False, changes_at=[])
            await ch.audit("monitor.pause" if paused else "monitor.resume", "monitor", monitor.id,
                           {"paused": {"old": not paused, "new": paused}})
            await MonitorEvent.create(monitor_id=monitor.id, at=datetime.now(UTC), old_state=monitor.state,
                                      new_state="paused" if paused else "pending",
                                      message=f"{'Paused' if paused else 'Resumed'} by {actor.label}",
                                      using_db=ch.conn)
            changed.append(monitor.id)
            if monitor.component_id is not None:
                components.add(monitor.component_id)
        await _release(ch, components)
        if changed:
            ch.emit(events.MONITOR_CHANGED, {"monitor_ids": changed, "change": "paused" if paused else "resumed"})
    await _after(changed)
    return len(changed)


async def delete_monitor(actor: Actor, monitor_id: int) -> None:
    authorize(actor, "monitor.delete")
    async with change(actor, "monitor.delete") as ch:
        monitor = await Monitor.get_or_none(id=monitor_id).using_db(ch.conn)
        if monitor is None or not await _visible(actor, monitor, ch.conn):
            raise NotFound(f"No monitor with id {monitor_id}.")
        engine.forget(monitor_id)
        await ts.delete_monitor(ch.conn, monitor_id)
        await monitor.delete(using_db=ch.conn)
        await ch.audit("monitor.delete", "monitor", monitor_id, {"name": {"old": monitor.name, "new": None}},
                       severity="warning")
        if monitor.component_id is not None:
            await _release(ch, {monitor.component_id})
        ch.emit(events.MONITOR_CHANGED, {"monitor_id": monitor_id, "change": "deleted"})


async def test_config(actor: Actor, raw: dict[str, Any], *, monitor_id: int | None = None) -> CheckResult:
    """"Test now": validate a monitor's settings as they would be saved and run its check once, recording
    nothing. With ``monitor_id``, masked secrets are taken from that saved monitor."""
    authorize(actor, "monitor.create")
    existing = await get_monitor(monitor_id, actor=actor) if monitor_id is not None else None
    raw = dict(raw)
    raw.setdefault("name", existing.name if existing else "Test")
    values = await _clean(actor, raw, existing, connections.get("default"))
    kind = registry.get(values["kind"])
    if kind.passive:
        return await kind.check(values["config"], values["timeout_seconds"])
    return await run_check(kind, values["config"], values["timeout_seconds"], values["latency_threshold_ms"])


async def check_now(actor: Actor, monitor_id: int) -> CheckResult:
    authorize(actor, "monitor.update")
    monitor = await get_monitor(monitor_id, actor=actor)
    if monitor.paused:
        raise Invalid({"paused": "This monitor is paused; resume it to check it."})
    result = await engine.check_now(monitor_id)
    if result is None:
        raise NotFound(f"No monitor with id {monitor_id}.")
    return result


# -- figures ----------------------------------------------------------------------------------------------------

WINDOWS = {"24h": ("hour", 24 * 3600), "7d": ("hour", 7 * 86400), "30d": ("day", 30 * 86400),
           "90d": ("day", 90 * 86400)}
# The chart's resolution for each range
CHART = {"24h": ("minute", 24 * 3600), "7d": ("hour", 7 * 86400), "30d": ("hour", 30 * 86400),
         "90d": ("day", 90 * 86400)}


def _since(resolution: str, seconds: int, now: float) -> int:
    """The first bucket of a window ending now (the current, partial bucket included)."""
    size = ts.RESOLUTIONS[resolution]
    return ts.bucket_of(now, resolution) - seconds + size


async def uptime(monitor_ids: list[int], windows: tuple[str, ...] = tuple(WINDOWS), now: float | None = None
                 ) -> dict[int, dict[str, ts.Agg]]:
    """Each monitor's counts per window, from rollups only: 24 h and 7 d from hour rollups, 30 d and 90 d from
    day rollups."""
    now = time.time() if now is None else now
    conn = connections.get("default")
    out: dict[int, dict[str, ts.Agg]] = {mid: {} for mid in monitor_ids}
    for window in windows:
        resolution, seconds = WINDOWS[window]
        totals = await ts.totals(conn, resolution, monitor_ids, _since(resolution, seconds, now))
        for mid in monitor_ids:
            out[mid][window] = totals.get(mid, ts.Agg())
    return out


@dataclass(frozen=True, slots=True)
class Point:
    at: int  # epoch seconds, the bucket's start
    avg_ms: float | None
    min_ms: int | None
    max_ms: int | None
    up: int
    down: int
    degraded: int
    maintenance: int


async def chart(monitor_id: int, window: str = "24h", now: float | None = None) -> list[Point]:
    if window not in CHART:
        raise Invalid({"range": f"Use one of {', '.join(CHART)}."})
    now = time.time() if now is None else now
    resolution, seconds = CHART[window]
    rows = (await ts.series(connections.get("default"), resolution, [monitor_id],
                            _since(resolution, seconds, now)))[monitor_id]
    return [Point(bucket, a.avg_latency_ms, a.latency_min, a.latency_max, a.up, a.down, a.degraded, a.maintenance)
            for bucket, a in rows]


async def sparklines(monitor_ids: list[int], minutes: int = 30, now: float | None = None
                     ) -> dict[int, list[float | None]]:
    """The last ``minutes`` minutes of average latency per monitor, one value per minute (None: no data)."""
    now = time.time() if now is None else now
    first = ts.bucket_of(now, "minute") - (minutes - 1) * 60
    rows = await ts.series(connections.get("default"), "minute", monitor_ids, first)
    out: dict[int, list[float | None]] = {}
    for mid in monitor_ids:
        by_bucket = {bucket: agg.avg_latency_ms for bucket, agg in rows.get(mid, [])}
        out[mid] = [by_bucket.get(first + i * 60) for i in range(minutes)]
    return out


async def events_of(monitor_id: int, limit: int = 50) -> list[MonitorEvent]:
    return await MonitorEvent.filter(monitor_id=monitor_id).order_by("-at", "-id").limit(limit)


async def heartbeats_of(monitor_id: int, limit: int = 50) -> list[ts.Heartbeat]:
    return await ts.recent_heartbeats(connections.get("default"), monitor_id, limit)


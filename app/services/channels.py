"""Notification channels as administrators manage them, and retrying failed deliveries. (The screens and the
/api/v1/channels routes come with the rest of the notifications issue.)"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any

from app.auth import Actor
from app.events import NOTIFIABLE
from app.notify import channels as kinds
from app.services.errors import Invalid, NotFound
from app.services.transaction import authorize, change
from app.services.validation import keep_masked_secrets, mask_secrets, text_problem
from storage.models import Channel, Delivery

SECRET_KEYS = ("secret", "password", "token")


def _masked(config: dict[str, Any]) -> dict[str, Any]:
    return mask_secrets(config, SECRET_KEYS)


WINDOWS = ("24h", "7d")
DEFAULT_OPTIONS = {"flap_minutes": 5, "uptime_window": "24h", "uptime_threshold": 99.0}


def options_problems(options: Any) -> dict[str, str]:
    """{field: message} for a channel's rules: flap_minutes (0 to 1440; 0 sends every change), uptime_window
    ("24h" or "7d") and uptime_threshold (a percentage between 0 and 100) for uptime alerts."""
    if not isinstance(options, dict):
        return {"options": "Give the options as an object."}
    errors: dict[str, str] = {}
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        errors["options"] = f"Unknown option '{unknown[0]}'; use {', '.join(DEFAULT_OPTIONS)}."
    flap = options.get("flap_minutes", 5)
    if not isinstance(flap, int) or isinstance(flap, bool) or not 0 <= flap <= 1440:
        errors["options.flap_minutes"] = "A whole number of minutes from 0 (send every change) to 1440."
    if options.get("uptime_window", "24h") not in WINDOWS:
        errors["options.uptime_window"] = "Use 24h or 7d."
    threshold = options.get("uptime_threshold", 99.0)
    if not isinstance(threshold, (int, float)) or isinstance(threshold, bool) or not 0 < threshold < 100:
        errors["options.uptime_threshold"] = "A percentage above 0 and below 100, e.g. 99.9."
    return errors


def _clean(name: Any, kind: Any, config: Any, events: Any, page_ids: Any, component_ids: Any = (),
           options: Any = None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = str(name or "").strip()
    if problem := text_problem(name, "name"):
        errors["name"] = problem
    config = config if isinstance(config, dict) else {}
    errors.update(kinds.validate(str(kind), config))
    events = list(events or [])
    unknown = [e for e in events if e not in NOTIFIABLE]
    if unknown or not events:
        errors["events"] = (f"Unknown event {unknown[0]!r}; use names from: {', '.join(sorted(NOTIFIABLE))}."
                            if unknown else "Choose at least one event.")
    if not isinstance(page_ids, list) or not all(isinstance(p, int) for p in page_ids):
        errors["page_ids"] = "Give a list of page ids, or none for every page."
    component_ids = list(component_ids) if isinstance(component_ids, (list, tuple)) else component_ids
    if not isinstance(component_ids, list) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                      for c in component_ids):
        errors["component_ids"] = "Give a list of component ids, or none for every component."
    options = {} if options is None else options
    errors.update(options_problems(options))
    if errors:
        raise Invalid(errors)
    if isinstance(options.get("uptime_threshold"), int):
        options = {**options, "uptime_threshold": float(options["uptime_threshold"])}
    return {"name": name, "kind": str(kind), "config": config, "events": events, "page_ids": page_ids,
            "component_ids": component_ids, "options": dict(options)}


async def create_channel(actor: Actor, *, name: str, kind: str, config: dict[str, Any], events: list[str],
                         page_ids: list[int] | None = None, component_ids: list[int] | None = None,
                         options: dict[str, Any] | None = None) -> Channel:
    """A channel for the events named, optionally only of some pages and components. ``options``: see
    ``options_problems``."""
    authorize(actor, "channel.manage")
    values = _clean(name, kind, config, events, page_ids or [], component_ids or [], options)
    async with change(actor, "channel.manage") as ch:
        channel = await Channel.create(using_db=ch.conn, **values)
        await ch.audit("channel.create", "channel", channel.id, {
            k: {"old": None, "new": _masked(v) if k == "config" else v} for k, v in values.items()})
    return channel


async def update_channel(actor: Actor, channel_id: int, **values: Any) -> Channel:
    """Change any of name, config, events, page_ids, enabled. A secret sent back masked keeps the stored one."""
    authorize(actor, "channel.manage")
    async with change(actor, "channel.manage") as ch:
        channel = await Channel.get_or_none(id=channel_id).using_db(ch.conn)
        if channel is None:
            raise NotFound(f"No channel with id {channel_id}.")
        config = keep_masked_secrets(dict(values.get("config", channel.config) or {}), channel.config, SECRET_KEYS)
        clean = _clean(values.get("name", channel.name), channel.kind, config, values.get("events", channel.events),
                       values.get("page_ids", channel.page_ids),
                       values.get("component_ids", channel.component_ids or []),
                       values.get("options", channel.options or {}))
        enabled = values.get("enabled", channel.enabled)
        if not isinstance(enabled, bool):
            raise Invalid({"enabled": "Must be true or false."})
        before = {"name": channel.name, "config": _masked(channel.config or {}), "events": channel.events,
                  "page_ids": channel.page_ids, "component_ids": channel.component_ids or [],
                  "options": channel.options or {}, "enabled": channel.enabled}
        after = {"name": clean["name"], "config": _masked(clean["config"]), "events": clean["events"],
                 "page_ids": clean["page_ids"], "component_ids": clean["component_ids"], "options": clean["options"],
                 "enabled": enabled}
        await Channel.filter(id=channel_id).using_db(ch.conn).update(
            name=clean["name"], config=clean["config"], events=clean["events"], page_ids=clean["page_ids"],
            component_ids=clean["component_ids"], options=clean["options"], enabled=enabled,
            updated_at=datetime.now(UTC))
        changes = {k: {"old": before[k], "new": v} for k, v in after.items() if before[k] != v}
        if clean["config"] != (channel.config or {}) and "config" not in changes:
            changes["config"] = {"old": "(secret)", "new": "(secret changed)"}
        if changes:
            await ch.audit("channel.update", "channel", channel_id, changes)
    return await Channel.get(id=channel_id)


async def list_channels(actor: Actor) -> list[Channel]:
    authorize(actor, "channel.manage")
    return await Channel.all().order_by("name", "id")


def public_config(channel: Channel) -> dict[str, Any]:
    return _masked(dict(channel.config or {}))


async def list_deliveries(actor: Actor, *, statuses: list[str] | None = None, channel_id: int | None = None,
                          limit: int = 100) -> list[Delivery]:
    """Newest first; the deliveries screen shows failed and dead ones first of all."""
    authorize(actor, "channel.manage")
    query = Delivery.all()
    if statuses:
        query = query.filter(status__in=statuses)
    if channel_id is not None:
        query = query.filter(channel_id=channel_id)
    return await query.order_by("-id").limit(limit).prefetch_related("channel", "subscriber")


async def send_test(actor: Actor, channel_id: int) -> str | None:
    """Send a test notification through the channel now, outside the outbox; None when the channel accepted it,
    else what went wrong."""
    authorize(actor, "channel.manage")
    channel = await Channel.get_or_none(id=channel_id)
    if channel is None:
        raise NotFound(f"No channel with id {channel_id}.")
    now = datetime.now(UTC).isoformat()
    if channel.kind in ("email", "apprise"):
        payload: dict[str, Any] = {"subject": f"Test notification from Beacon: {channel.name}",
                                   "text": f"The channel {channel.name} works.",
                                   "html": f"<p>The channel <b>{escape(channel.name)}</b> works.</p>"}
    elif channel.kind == "discord":
        payload = {"content": None, "allowed_mentions": {"parse": []}, "embeds": [{
            "title": "Test notification from Beacon", "color": 0x4493F8, "timestamp": now,
            "description": f"The channel **{channel.name}** works. Real notifications look like this one."}]}
    else:
        payload = {"meta": {"generated_at": now, "test": True}, "message": f"Test notification for {channel.name}"}
    try:
        await kinds.send(channel.kind, channel.config or {}, "test", payload, 0)
    except kinds.DeliveryError as exc:
        return str(exc)
    return None


async def delete_channel(actor: Actor, channel_id: int) -> None:
    """Delete the channel and its deliveries (sent or not)."""
    authorize(actor, "channel.manage")
    async with change(actor, "channel.manage") as ch:
        channel = await Channel.get_or_none(id=channel_id).using_db(ch.conn)
        if channel is None:
            raise NotFound(f"No channel with id {channel_id}.")
        await channel.delete(using_db=ch.conn)
        await ch.audit("channel.delete", "channel", channel_id, {"name": {"old": channel.name, "new": None}})


async def retry_delivery(actor: Actor, delivery_id: int) -> Delivery:
    """Send a failed or dead delivery again, now, with a fresh set of attempts."""
    authorize(actor, "channel.manage")
    async with change(actor, "channel.manage") as ch:
        delivery = await Delivery.get_or_none(id=delivery_id).using_db(ch.conn)
        if delivery is None:
            raise NotFound(f"No delivery with id {delivery_id}.")
        if delivery.status not in ("failed", "dead"):
            raise Invalid({"status": f"Only failed or dead deliveries are retried; this one is {delivery.status}."})
        await Delivery.filter(id=delivery_id).using_db(ch.conn).update(
            status="pending", attempts=0, next_attempt_at=datetime.now(UTC))
        await ch.audit("delivery.retry", "delivery", delivery_id, {"status": {"old": delivery.status,
                                                                              "new": "pending"}})
    from app.notify.outbox import outbox

    outbox.wake()
    return await Delivery.get(id=delivery_id)

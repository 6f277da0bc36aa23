"""Pure builders of what notifications send: the Statuspage-format webhook body of CONTRACT.md and its signature,
a Discord embed, and the parts of an e-mail. No I/O: each is built from an event plus the snapshot of the page it
goes out for, so a notification says exactly what that public page shows (the same objects the
Statuspage-compatible API serves, from ``app.api.statuspage``).

The snapshot must be one built after the event (the dispatcher waits for the page's rebuild): an incident event
whose update the snapshot does not hold yet raises ``NotShown`` rather than sending an old timeline.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from app import events, markdown
from app.api import statuspage

# the Statuspage API's own pieces, so that webhooks and the API cannot drift apart
from app.api.statuspage import maintenance_updates, update_object
from app.enums import ComponentStatus, IncidentImpact, MaintenanceState
from app.events import Event
from app.html import IMPACT_LABEL, INCIDENT_STATUS_LABEL, MAINTENANCE_STATE_LABEL, local_range
from app.snapshot import ComponentView, IncidentView, MaintenanceView, PageSnapshot

# The names channels may subscribe to (CONTRACT.md "Event names").
SUBSCRIBABLE = events.NOTIFIABLE
INCIDENT_EVENTS = frozenset({events.INCIDENT_CREATED, events.INCIDENT_UPDATED, events.INCIDENT_RESOLVED})
MAINTENANCE_EVENTS = frozenset({events.MAINTENANCE_SCHEDULED, events.MAINTENANCE_REMINDER,
                                events.MAINTENANCE_STARTED, events.MAINTENANCE_COMPLETED})
COMPONENT_EVENTS = frozenset({events.COMPONENT_STATUS_CHANGED, events.COMPONENT_CREATED, events.COMPONENT_DELETED})
# What the payloads here describe; the other subscribable names need builders of their own.
SUPPORTED = INCIDENT_EVENTS | MAINTENANCE_EVENTS | COMPONENT_EVENTS

# Key sets of CONTRACT.md "Webhook payloads".
INCIDENT_KEYS = ("backfilled", "created_at", "impact", "name", "resolved_at", "status", "updated_at", "id", "url")
INCIDENT_UPDATE_KEYS = ("id", "incident_id", "body", "status", "created_at", "updated_at")
MAINTENANCE_UPDATE_KEYS = ("id", "maintenance_id", "body", "status", "created_at", "updated_at")
COMPONENT_KEYS = ("created_at", "id", "name", "status")


class Unsupported(ValueError):
    """A subscribable event this module has no payload for: uptime alerts and reports (app/notify/digest.py)."""


class NotShown(LookupError):
    """The snapshot does not show the event's subject: another page's incident or maintenance, a component not
    on this page, or a snapshot built before the event."""


@dataclass(frozen=True, slots=True)
class RemovedComponent:
    """A deleted component, as its event remembers it (no page shows it any more)."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class _Subject:
    kind: str  # "incident", "maintenance" or "component"
    view: IncidentView | MaintenanceView | ComponentView | RemovedComponent
    old_status: ComponentStatus | None = None  # component events
    new_status: ComponentStatus | None = None
    changed_at: datetime | None = None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a notification time needs an offset: {moment!r}")
    return moment.isoformat()


def _subject(event: Event, s: PageSnapshot) -> _Subject | None:
    """What the event is about, as this page shows it; None for events no channel may subscribe to."""
    if event.name not in SUBSCRIBABLE:
        return None
    if event.name not in SUPPORTED:
        raise Unsupported(f"no notification payload for {event.name!r} yet")
    data = event.data
    if event.name in INCIDENT_EVENTS:
        incident = next((i for i in s.incidents if i.id == data.get("incident_id")), None)
        if incident is None:
            raise NotShown(f"page {s.page.id} does not show incident {data.get('incident_id')}")
        update_id = data.get("update_id")
        if update_id is not None and all(u.id != update_id for u in incident.updates):
            raise NotShown(f"the snapshot of page {s.page.id} is older than update {update_id}")
        return _Subject("incident", incident)
    if event.name in MAINTENANCE_EVENTS:
        m = next((m for m in s.maintenances if m.id == data.get("maintenance_id")), None)
        if m is None:
            raise NotShown(f"page {s.page.id} does not show maintenance {data.get('maintenance_id')}")
        return _Subject("maintenance", m)
    if event.name == events.COMPONENT_DELETED:
        return _Subject("component", RemovedComponent(int(data["component_id"]), str(data.get("name") or "")))
    component = next((c for c in s.all_components if c.id == data.get("component_id")), None)
    if component is None:
        raise NotShown(f"page {s.page.id} does not show component {data.get('component_id')}")
    if event.name == events.COMPONENT_CREATED:
        return _Subject("component", component)
    changed_at = datetime.fromisoformat(data["updated_at"]) if data.get("updated_at") else event.at
    return _Subject("component", component, ComponentStatus(data["old_status"]), ComponentStatus(data["new_status"]),
                    changed_at)


def _minutes(m: MaintenanceView) -> int:
    return round((m.scheduled_until - m.scheduled_for).total_seconds() / 60)


# --- webhooks ------------------------------------------------------------------------------------------------
def webhook_payload(event: Event, snapshot: PageSnapshot, *, unsubscribe_url: str | None, documentation_url: str,
                    now: datetime) -> dict[str, Any] | None:
    """The Statuspage-format body of CONTRACT.md "Webhook payloads"; None for events no channel may subscribe to.
    Raises ``Unsupported`` for subscribable events without a payload yet and ``NotShown`` (see there)."""
    subject = _subject(event, snapshot)
    if subject is None:
        return None
    body: dict[str, Any] = {
        "meta": {"unsubscribe": unsubscribe_url, "documentation": documentation_url, "generated_at": _iso(now)},
        "page": {"id": str(snapshot.page.id), "status_indicator": snapshot.indicator.indicator,
                 "status_description": snapshot.indicator.description, "url": snapshot.url},
    }
    if isinstance(subject.view, IncidentView):
        body["incident"] = _webhook_incident(snapshot, subject.view)
    elif isinstance(subject.view, MaintenanceView):
        body["maintenance"] = _webhook_maintenance(snapshot, subject.view)
    elif isinstance(subject.view, RemovedComponent):
        body["component"] = {"id": str(subject.view.id), "name": subject.view.name, "deleted_at": _iso(event.at)}
    elif event.name == events.COMPONENT_CREATED:
        full = statuspage.component(snapshot, subject.view)  # type: ignore[arg-type]
        body["component"] = {key: full[key] for key in COMPONENT_KEYS}
    else:
        c = subject.view
        assert subject.old_status and subject.new_status and subject.changed_at
        body["component_update"] = {"created_at": _iso(subject.changed_at),
                                    "old_status": subject.old_status.statuspage,
                                    "new_status": subject.new_status.statuspage, "component_id": str(c.id)}
        full = statuspage.component(snapshot, c)
        body["component"] = {key: full[key] for key in COMPONENT_KEYS}
    return body


def _webhook_incident(s: PageSnapshot, i: IncidentView) -> dict[str, Any]:
    full = statuspage.incident(s, i)
    full.update(backfilled=i.backfilled, url=full["shortlink"])
    return {**{key: full[key] for key in INCIDENT_KEYS},
            "incident_updates": [{key: u[key] for key in INCIDENT_UPDATE_KEYS}
                                 for u in (update_object(s, i.id, u) for u in i.updates)]}


def _webhook_maintenance(s: PageSnapshot, m: MaintenanceView) -> dict[str, Any]:
    full = statuspage.maintenance(s, m)
    full.update(backfilled=m.backfilled, url=full["shortlink"])
    updates = [{**u, "maintenance_id": u["incident_id"]} for u in maintenance_updates(m)]
    return {**{key: full[key] for key in INCIDENT_KEYS},
            "duration": str(_minutes(m)),  # the window's length in whole minutes
            "maintenance_updates": [{key: u[key] for key in MAINTENANCE_UPDATE_KEYS} for u in updates]}


def signature(secret: str, body: bytes) -> str:
    """The ``X-Beacon-Signature`` header: ``sha256=`` and the hex HMAC-SHA256 of the exact body sent."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# --- what people read: the parts Discord and e-mail share -----------------------------------------------------
# The public page's dark palette (status.css), which reads well on Discord's dark and light themes alike.
RED, ORANGE, AMBER, BLUE, GREEN, GREY = 0xF85149, 0xDB6D28, 0xD29922, 0x4493F8, 0x3FB950, 0x9198A1
IMPACT_COLOR = {IncidentImpact.MAJOR: RED, IncidentImpact.PARTIAL: ORANGE, IncidentImpact.DEGRADED: AMBER,
                IncidentImpact.MINOR: AMBER}
STATUS_COLOR = {ComponentStatus.MAJOR_OUTAGE: RED, ComponentStatus.PARTIAL_OUTAGE: ORANGE,
                ComponentStatus.DEGRADED: AMBER, ComponentStatus.MAINTENANCE: BLUE, ComponentStatus.OPERATIONAL: GREEN}
MAINTENANCE_HEADLINE = {
    events.MAINTENANCE_SCHEDULED: "Scheduled maintenance", events.MAINTENANCE_REMINDER: "Upcoming maintenance",
    events.MAINTENANCE_STARTED: "Maintenance in progress", events.MAINTENANCE_COMPLETED: "Maintenance completed",
}


@dataclass(frozen=True, slots=True)
class _Message:
    headline: str  # "Investigating", "Maintenance in progress"; "" for a component change
    title: str
    url: str
    body: str  # Markdown
    color: int
    fields: list[tuple[str, str]]  # (name, plain-text value)
    components: list[tuple[str, str]]  # affected components on this page: (name, status label)
    window: str = ""  # a maintenance's window in the page's time zone


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _affected(s: PageSnapshot, ids: tuple[int, ...]) -> list[tuple[str, str]]:
    """The affected components this page shows, in display order, with the status the page shows them at."""
    wanted = set(ids)
    return [(c.name, c.status.label) for c in s.all_components if c.id in wanted]


def _message(event: Event, s: PageSnapshot, subject: _Subject) -> _Message:
    view = subject.view
    if isinstance(view, IncidentView):
        # the write-up just published is the news (incidents.set_postmortem); else the latest update
        postmortem = bool(event.data.get("postmortem") and view.postmortem)
        status = "Postmortem" if postmortem else INCIDENT_STATUS_LABEL[view.status]
        latest = view.latest_update
        body = view.postmortem if postmortem else (latest.body if latest else "")
        return _Message(status, view.name, s.incident_url(view.id), body,
                        GREEN if view.resolved else IMPACT_COLOR[view.impact],
                        [("Status", status), ("Impact", IMPACT_LABEL[view.impact])], _affected(s, view.component_ids))
    if isinstance(view, MaintenanceView):
        latest = view.latest_update
        window = local_range(view.scheduled_for, view.ends_at, view.time_zone or s.page.time_zone)
        return _Message(MAINTENANCE_HEADLINE[event.name], view.name, statuspage.maintenance_url(s, view.id),
                        latest.body if latest else view.body,
                        GREEN if view.state == MaintenanceState.COMPLETED else BLUE,
                        [("Status", MAINTENANCE_STATE_LABEL[view.state]), ("Impact", "Maintenance"),
                         ("Window", window)], _affected(s, view.component_ids), window)
    if isinstance(view, RemovedComponent):
        return _Message("Component removed", view.name, s.url, "", GREY, [("Status", "Removed")], [])
    if event.name == events.COMPONENT_CREATED:
        return _Message("Component added", view.name, s.url, getattr(view, "description", "") or "", BLUE,
                        [("Status", view.status.label)], [])  # type: ignore[union-attr]
    assert subject.new_status and subject.old_status
    return _Message("", f"{view.name} is {subject.new_status.label.lower()}", s.url, "",
                    STATUS_COLOR[subject.new_status],
                    [("Status", subject.new_status.label), ("Previous status", subject.old_status.label)], [])


# --- Discord -------------------------------------------------------------------------------------------------
# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
TITLE_LIMIT, DESCRIPTION_LIMIT, FIELD_NAME_LIMIT, FIELD_VALUE_LIMIT = 256, 4096, 256, 1024
FIELD_COUNT_LIMIT, FOOTER_LIMIT, EMBED_TOTAL_LIMIT, USERNAME_LIMIT = 25, 2048, 6000, 80


def _cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, ending with "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + markdown.ELLIPSIS if limit > 0 else ""


def _embed_size(embed: dict[str, Any]) -> int:
    return (len(embed.get("title", "")) + len(embed.get("description", "")) + len(embed["footer"]["text"])
            + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"]))


def discord_payload(event: Event, snapshot: PageSnapshot, *, username: str | None, avatar_url: str | None,
                    now: datetime) -> dict[str, Any] | None:
    """A Discord webhook body with one rich embed, within Discord's limits; None for events no channel may
    subscribe to (raises like ``webhook_payload``). The body's Markdown is kept: Discord renders it."""
    _iso(now)
    subject = _subject(event, snapshot)
    if subject is None:
        return None
    msg = _message(event, snapshot, subject)
    fields = list(msg.fields)
    if msg.components:
        fields.append(("Affected components", "\n".join(f"{name}: {label}" for name, label in msg.components)))
    embed: dict[str, Any] = {
        "title": _cut(_one_line(msg.title), TITLE_LIMIT), "url": msg.url, "color": msg.color,
        "fields": [{"name": _cut(name, FIELD_NAME_LIMIT), "value": _cut(value, FIELD_VALUE_LIMIT) or "—",
                    "inline": "\n" not in value}
                   for name, value in fields[:FIELD_COUNT_LIMIT]],
        "timestamp": _iso(subject.changed_at or event.at),
        "footer": {"text": _cut(snapshot.page.title, FOOTER_LIMIT)},
    }
    description = _cut(msg.body.strip(), DESCRIPTION_LIMIT)
    if description:
        embed["description"] = description
    excess = _embed_size(embed) - EMBED_TOTAL_LIMIT
    if excess > 0 and description:  # the body gives way first, then fields from the end
        embed["description"] = _cut(description, max(len(description) - excess, 0))
        if not embed["description"]:
            del embed["description"]
    while _embed_size(embed) > EMBED_TOTAL_LIMIT and embed["fields"]:
        embed["fields"].pop()
    payload: dict[str, Any] = {"embeds": [embed], "allowed_mentions": {"parse": []}}  # never ping @everyone
    if username:
        payload["username"] = _cut(_one_line(username), USERNAME_LIMIT)
    if avatar_url:
        payload["avatar_url"] = avatar_url
    return payload


# --- e-mail --------------------------------------------------------------------------------------------------
def email_parts(event: Event, snapshot: PageSnapshot, *, unsubscribe_url: str | None, now: datetime
                ) -> tuple[str, str, str] | None:
    """(subject, plain text, HTML) of the e-mail for the event; None for events no channel may subscribe to
    (raises like ``webhook_payload``). Everything people typed is escaped in the HTML; update bodies go through
    ``markdown.render``, which sanitises."""
    _iso(now)
    subject = _subject(event, snapshot)
    if subject is None:
        return None
    msg = _message(event, snapshot, subject)
    page_title = _one_line(snapshot.page.title)
    headline = f"{msg.headline}: {msg.title}" if msg.headline else msg.title
    # one line: a name with a line break must not add mail headers
    mail_subject = _one_line(f"[{page_title}] {headline}")
    link_text = {"incident": "View the incident", "maintenance": "View the maintenance"}.get(
        subject.kind, "View the status page")
    starts_in = ""
    if event.name == events.MAINTENANCE_REMINDER and isinstance(subject.view, MaintenanceView):
        minutes = max(0, round((subject.view.scheduled_for - now).total_seconds() / 60))
        starts_in = f"Starts in {minutes} minute{'s' if minutes != 1 else ''}."

    text = [_one_line(msg.title), " · ".join(value for name, value in msg.fields if name != "Window"), ""]
    if msg.window:
        text += [f"When: {msg.window}", *([starts_in] if starts_in else []), ""]
    if msg.body.strip():
        text += [msg.body.strip(), ""]
    if msg.components:
        text += ["Affected components:", *(f"- {name}: {label}" for name, label in msg.components), ""]
    text += [f"{link_text}: {msg.url}"]
    if unsubscribe_url:
        text += ["", "--", f"You receive this because you subscribed to updates from {page_title}.",
                 f"Unsubscribe: {unsubscribe_url}"]

    e = escape
    color = f"#{msg.color:06x}"
    html = [
        "<!DOCTYPE html>", '<html><head><meta charset="utf-8">', f"<title>{e(mail_subject)}</title></head>",
        '<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #1f2328;">',
        f'<div style="border-left: 4px solid {color}; padding-left: 12px;">',
        f"<h1 style=\"font-size: 20px;\">{e(msg.title)}</h1>",
        f"<p><strong>{e(' · '.join(value for name, value in msg.fields if name != 'Window'))}</strong></p>",
    ]
    if msg.window:
        html.append(f"<p>When: {e(msg.window)}{'<br>' + e(starts_in) if starts_in else ''}</p>")
    if msg.body.strip():
        html.append(f"<div>{markdown.render(msg.body)}</div>")
    if msg.components:
        html += ["<p>Affected components:</p>", "<ul>",
                 *(f"<li>{e(name)}: {e(label)}</li>" for name, label in msg.components), "</ul>"]
    html += [f'<p><a href="{e(msg.url)}">{e(link_text)}</a></p>', "</div>"]
    if unsubscribe_url:
        html.append(f'<p style="font-size: 12px; color: #59636e;">You receive this because you subscribed to '
                    f'updates from {e(page_title)}. <a href="{e(unsubscribe_url)}">Unsubscribe</a></p>')
    html.append("</body></html>")
    return mail_subject, "\n".join(text) + "\n", "\n".join(html) + "\n"



# --- Web Push ------------------------------------------------------------------------------------------------
PUSH_BODY_LIMIT = 240  # notifications show two to four lines; the page has the rest


def push_payload(event: Event, snapshot: PageSnapshot, *, now: datetime) -> dict[str, Any] | None:
    """The JSON the service worker (app/templates/sw.js) shows as a notification: ``{title, body, url, tag}``.
    The tag makes a newer notice about the same incident replace the older one on the device."""
    _iso(now)
    subject = _subject(event, snapshot)
    if subject is None:
        return None
    msg = _message(event, snapshot, subject)
    headline = f"{msg.headline}: {msg.title}" if msg.headline else msg.title
    body = " · ".join(value for name, value in msg.fields if name != "Window")
    if msg.window:
        body += f"\n{msg.window}"
    if text := markdown.plain(msg.body, PUSH_BODY_LIMIT):
        body += f"\n{text}"
    return {"title": _cut(_one_line(f"{snapshot.page.title}: {headline}"), TITLE_LIMIT),
            "body": _cut(body.strip(), PUSH_BODY_LIMIT), "url": msg.url,
            "tag": f"{subject.kind}-{getattr(subject.view, 'id', '')}"}


def touched_components(event: Event, snapshot: PageSnapshot) -> tuple[int, ...]:
    """The components the event is about, as this page shows them (empty: the page as a whole). Raises like
    ``webhook_payload``."""
    subject = _subject(event, snapshot)
    if subject is None:
        return ()
    if isinstance(subject.view, (IncidentView, MaintenanceView)):
        return tuple(subject.view.component_ids)
    return (subject.view.id,)

"""Pure builders of the notifications that are not about one incident, maintenance or component change: uptime
alerts (``uptime.alert``) and periodic reports (``report.daily`` / ``weekly`` / ``monthly``), in the same shapes
as ``payloads``: a Statuspage-style webhook body, a Discord embed, the parts of an e-mail, a Web Push notice.

The event's data carries the figures (``app/services/notices.py`` computes them, ``alerts`` and ``reports`` shape
them); the page's snapshot gives only page details, links and the components' current names and status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Any

from app import events
from app.api import statuspage
from app.enums import ComponentStatus, IncidentImpact, IncidentStatus
from app.events import Event
from app.html import local_time
from app.notify import reports
from app.notify.payloads import (
    BLUE,
    DESCRIPTION_LIMIT,
    EMBED_TOTAL_LIMIT,
    FIELD_COUNT_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    PUSH_BODY_LIMIT,
    RED,
    TITLE_LIMIT,
    USERNAME_LIMIT,
    NotShown,
    Unsupported,
    _cut,
    _embed_size,
    _iso,
    _one_line,
)
from app.snapshot import ComponentView, PageSnapshot
from app.uptime import format_percent

_DAY = timedelta(days=1)
SUPPORTED = frozenset({events.UPTIME_ALERT, *reports.EVENT_OF.values()})
WINDOW_LABEL = {"24h": "24 h", "7d": "7 days", "30d": "30 days", "90d": "90 days"}
PERIOD_LABEL = {"daily": "Daily", "weekly": "Weekly", "monthly": "Monthly"}
IMPACT_TEXT = {"MAJOR": "Major", "PARTIAL": "Partial", "DEGRADED": "Degraded", "MINOR": "Minor"}
STATUS_TEXT = {"INVESTIGATING": "Investigating", "IDENTIFIED": "Identified", "MONITORING": "Monitoring",
               "RESOLVED": "Resolved"}


def percent(value: float | None) -> str:
    """'97.12 %', '100 %' (rounded down, so downtime never shows as 100 %); 'no data' for None."""
    return "no data" if value is None else format_percent(value).replace("%", " %")


def window_label(window: str) -> str:
    return WINDOW_LABEL.get(window, window)


def _check(event: Event) -> None:
    if event.name not in SUPPORTED:
        raise Unsupported(f"the digest builders do not describe {event.name!r}")


def _component(snapshot: PageSnapshot, component_id: Any) -> ComponentView | None:
    return next((c for c in snapshot.all_components if c.id == component_id), None)


def _when(value: Any) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise ValueError(f"not a time: {value!r}")
    _iso(moment)
    return moment


def touched_components(event: Event, snapshot: PageSnapshot) -> tuple[int, ...]:
    """What a channel's component filter sees: the alert's component; a report is about the page as a whole."""
    _check(event)
    if event.name == events.UPTIME_ALERT:
        return (_alert(event, snapshot).component_id,)
    return ()


# --- what the builders share ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _AlertView:
    component_id: int
    name: str
    status: ComponentStatus
    window: str
    threshold: float
    uptime: float
    breached_at: datetime

    @property
    def headline(self) -> str:
        return (f"Uptime alert: {self.name} at {percent(self.uptime)} over {window_label(self.window)} "
                f"(threshold {percent(self.threshold)})")


def _alert(event: Event, snapshot: PageSnapshot) -> _AlertView:
    data = event.data
    component = _component(snapshot, data.get("component_id"))
    if component is None:
        raise NotShown(f"page {snapshot.page.id} does not show component {data.get('component_id')}")
    return _AlertView(component.id, component.name, component.status, str(data.get("window") or ""),
                      float(data["threshold"]), float(data["uptime"]),
                      _when(data.get("breached_at") or event.at))


@dataclass(frozen=True, slots=True)
class _Row:
    component_id: int
    name: str
    uptime: float | None


@dataclass(frozen=True, slots=True)
class _ReportView:
    period: str
    start: datetime
    end: datetime
    zone: str
    overall: float | None
    rows: tuple[_Row, ...]
    incidents: tuple[Mapping[str, Any], ...]
    maintenances: tuple[Mapping[str, Any], ...]

    @property
    def label(self) -> str:
        return f"{PERIOD_LABEL.get(self.period, self.period.title())} report"

    @property
    def summary(self) -> str:
        count = len(self.incidents)
        incidents = "no incidents" if not count else f"{count} incident{'s' if count != 1 else ''}"
        uptime = "no uptime data" if self.overall is None else f"{percent(self.overall)} uptime"
        return f"{uptime}, {incidents}"

    @property
    def span(self) -> str:
        """'12 Nov 2026' for a day, '10 Nov 2026 – 17 Nov 2026' (the last day included) otherwise."""
        tz = reports.zone(self.zone)
        first = self.start.astimezone(tz).date()
        last = (self.end.astimezone(tz) - _DAY).date()
        fmt = "{d.day} {d:%b %Y}"
        if first >= last:
            return fmt.format(d=first)
        return f"{fmt.format(d=first)} – {fmt.format(d=last)}"


def _report(event: Event, snapshot: PageSnapshot) -> _ReportView:
    data = event.data
    period = str(data.get("period") or reports.PERIOD_OF[event.name])
    names = snapshot.component_names
    rows = tuple(_Row(int(r["component_id"]), names.get(r["component_id"]) or str(r.get("name") or ""),
                      None if r.get("uptime") is None else float(r["uptime"]))
                 for r in data.get("uptime") or [])
    overall, _ = reports.counts(data)
    return _ReportView(period, _when(data["start"]), _when(data["end"]),
                       str(data.get("time_zone") or snapshot.page.time_zone), overall, rows,
                       tuple(data.get("incidents") or ()), tuple(data.get("maintenances") or ()))


def _impact_sp(value: Any) -> str:
    try:
        return IncidentImpact(value).statuspage
    except ValueError:
        return str(value).lower()


def _status_sp(value: Any) -> str:
    try:
        return IncidentStatus(value).statuspage
    except ValueError:
        return str(value).lower()


def _incident_detail(i: Mapping[str, Any], zone: str) -> str:
    """'Major, Resolved, from 12 Nov 2026, 14:05 UTC+01:00'."""
    impact = IMPACT_TEXT.get(str(i.get("impact")), str(i.get("impact") or ""))
    status = STATUS_TEXT.get(str(i.get("status")), str(i.get("status") or ""))
    return f"{impact}, {status}, from {local_time(_when(i['started_at']), zone)}"


def _incident_line(i: Mapping[str, Any], zone: str) -> str:
    return f"{_one_line(str(i.get('name') or ''))} — {_incident_detail(i, zone)}"


def _maintenance_line(m: Mapping[str, Any], zone: str) -> str:
    return f"{_one_line(str(m.get('name') or ''))} — {local_time(_when(m['scheduled_for']), zone)}"


# --- webhooks ------------------------------------------------------------------------------------------------
def webhook_payload(event: Event, snapshot: PageSnapshot, *, now: datetime) -> dict[str, Any]:
    """``{meta, page, uptime_alert}`` or ``{meta, page, report}`` (see the module's tests for the keys)."""
    _check(event)
    body: dict[str, Any] = {
        "meta": {"unsubscribe": None, "documentation": f"{snapshot.url.rstrip('/')}/api/v2/summary.json",
                 "generated_at": _iso(now)},
        "page": {"id": str(snapshot.page.id), "status_indicator": snapshot.indicator.indicator,
                 "status_description": snapshot.indicator.description, "url": snapshot.url},
    }
    if event.name == events.UPTIME_ALERT:
        a = _alert(event, snapshot)
        body["uptime_alert"] = {
            "component": {"id": str(a.component_id), "name": a.name, "status": a.status.statuspage},
            "window": a.window, "threshold": a.threshold, "uptime": a.uptime, "breached_at": _iso(a.breached_at)}
        return body
    r = _report(event, snapshot)
    body["report"] = {
        "period": r.period, "start": _iso(r.start), "end": _iso(r.end),
        "uptime": [{"component_id": str(row.component_id), "name": row.name, "uptime": row.uptime}
                   for row in r.rows],
        "incidents": [{"id": str(i["id"]), "name": i.get("name"), "impact": _impact_sp(i.get("impact")),
                       "status": _status_sp(i.get("status")), "started_at": i.get("started_at"),
                       "resolved_at": i.get("resolved_at"), "url": snapshot.incident_url(int(i["id"]))}
                      for i in r.incidents],
        "maintenances": [{"id": str(m["id"]), "name": m.get("name"), "scheduled_for": m.get("scheduled_for"),
                          "scheduled_until": m.get("scheduled_until"),
                          "url": statuspage.maintenance_url(snapshot, int(m["id"]))} for m in r.maintenances],
    }
    return body


# --- Discord -------------------------------------------------------------------------------------------------
def _lines(lines: list[str], limit: int) -> str:
    """Whole lines within ``limit`` characters, the rest counted in a last line ("… and 3 more")."""
    out: list[str] = []
    used = 0
    for n, line in enumerate(lines):
        line = _cut(line, limit)
        more = f"… and {len(lines) - n} more"
        room = limit - used - (len(more) + 1 if n < len(lines) - 1 else 0)
        if len(line) + (1 if out else 0) > room:
            out.append(more)
            break
        out.append(line)
        used += len(line) + (1 if len(out) > 1 else 0)
    return "\n".join(out)


def discord_payload(event: Event, snapshot: PageSnapshot, *, username: str | None, avatar_url: str | None,
                    now: datetime) -> dict[str, Any]:
    """A Discord webhook body with one embed within Discord's limits: red for an alert, blue for a report."""
    _check(event)
    _iso(now)
    if event.name == events.UPTIME_ALERT:
        a = _alert(event, snapshot)
        title, color, timestamp = a.headline, RED, a.breached_at
        description = (f"Uptime over the last {window_label(a.window)} is {percent(a.uptime)}, below the "
                       f"threshold of {percent(a.threshold)}.")
        fields = [("Component", a.name, True), ("Uptime", percent(a.uptime), True),
                  ("Threshold", percent(a.threshold), True), ("Window", window_label(a.window), True),
                  ("Current status", a.status.label, True)]
    else:
        r = _report(event, snapshot)
        title, color, timestamp = f"{r.label}: {r.summary}", BLUE, r.end
        description = f"{r.span} ({r.zone})"
        fields = [("Uptime", percent(r.overall), True), ("Incidents", str(len(r.incidents)), True)]
        if r.rows:
            fields.append(("Components", _lines([f"{row.name}: {percent(row.uptime)}" for row in r.rows],
                                                FIELD_VALUE_LIMIT), False))
        if r.incidents:
            fields.append(("Incidents", _lines([_incident_line(i, r.zone) for i in r.incidents],
                                               FIELD_VALUE_LIMIT), False))
        if r.maintenances:
            fields.append(("Maintenance", _lines([_maintenance_line(m, r.zone) for m in r.maintenances],
                                                 FIELD_VALUE_LIMIT), False))
    embed: dict[str, Any] = {
        "title": _cut(_one_line(title), TITLE_LIMIT), "url": snapshot.url, "color": color,
        "description": _cut(description, DESCRIPTION_LIMIT),
        "fields": [{"name": _cut(name, FIELD_NAME_LIMIT), "value": _cut(value, FIELD_VALUE_LIMIT) or "—",
                    "inline": inline} for name, value, inline in fields[:FIELD_COUNT_LIMIT]],
        "timestamp": _iso(timestamp),
        "footer": {"text": _cut(snapshot.page.title, FOOTER_LIMIT)},
    }
    while _embed_size(embed) > EMBED_TOTAL_LIMIT and embed["fields"]:
        embed["fields"].pop()
    payload: dict[str, Any] = {"embeds": [embed], "allowed_mentions": {"parse": []}}
    if username:
        payload["username"] = _cut(_one_line(username), USERNAME_LIMIT)
    if avatar_url:
        payload["avatar_url"] = avatar_url
    return payload


# --- e-mail --------------------------------------------------------------------------------------------------
_HEAD = '<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; color: #1f2328;">'


def email_parts(event: Event, snapshot: PageSnapshot, *, now: datetime) -> tuple[str, str, str]:
    """(subject, plain text, HTML). Everything from the database is escaped in the HTML."""
    _check(event)
    _iso(now)
    e = escape
    page_title = _one_line(snapshot.page.title)
    if event.name == events.UPTIME_ALERT:
        a = _alert(event, snapshot)
        subject = _one_line(f"[{page_title}] {a.headline}")
        sentence = (f"Uptime of {_one_line(a.name)} over the last {window_label(a.window)} is {percent(a.uptime)}, "
                    f"below the threshold of {percent(a.threshold)}.")
        since = f"Below the threshold since {local_time(a.breached_at, snapshot.page.time_zone)}."
        status = f"Current status: {a.status.label}."
        text = [sentence, since, status, "", f"View the status page: {snapshot.url}"]
        body = [f'<div style="border-left: 4px solid #{RED:06x}; padding-left: 12px;">',
                f'<h1 style="font-size: 20px;">{e(_one_line(a.name))}: {e(percent(a.uptime))} uptime</h1>',
                f"<p>{e(sentence)}</p>", f"<p>{e(since)}<br>{e(status)}</p>",
                f'<p><a href="{e(snapshot.url)}">View the status page</a></p>', "</div>"]
    else:
        r = _report(event, snapshot)
        subject = _one_line(f"[{page_title}] {r.label}: {r.summary}")
        heading = f"{r.label} for {page_title}: {r.span}"
        text = [heading, f"Times in {r.zone}.", "", f"Uptime: {percent(r.overall)}", ""]
        if r.rows:
            text += ["Components:", *(f"- {_one_line(row.name)}: {percent(row.uptime)}" for row in r.rows), ""]
        text += [f"Incidents ({len(r.incidents)}):" if r.incidents else "No incidents.",
                 *(f"- {_incident_line(i, r.zone)}: {snapshot.incident_url(int(i['id']))}" for i in r.incidents),
                 ""]
        if r.maintenances:
            text += ["Maintenance:", *(f"- {_maintenance_line(m, r.zone)}" for m in r.maintenances), ""]
        text += [f"View the status page: {snapshot.url}"]
        body = [f'<div style="border-left: 4px solid #{BLUE:06x}; padding-left: 12px;">',
                f'<h1 style="font-size: 20px;">{e(heading)}</h1>',
                f"<p><strong>Uptime: {e(percent(r.overall))}</strong> · {e(r.summary)}</p>",
                f'<p style="font-size: 12px; color: #59636e;">Times in {e(r.zone)}.</p>']
        if r.rows:
            body += ['<table style="border-collapse: collapse;">',
                     '<tr><th style="text-align: left; padding: 2px 12px 2px 0;">Component</th>'
                     '<th style="text-align: right;">Uptime</th></tr>',
                     *(f'<tr><td style="padding: 2px 12px 2px 0;">{e(row.name)}</td>'
                       f'<td style="text-align: right;">{e(percent(row.uptime))}</td></tr>' for row in r.rows),
                     "</table>"]
        if r.incidents:
            body += ["<p>Incidents:</p>", "<ul>",
                     *(f'<li><a href="{e(snapshot.incident_url(int(i["id"])))}">{e(str(i.get("name") or ""))}</a>'
                       f" — {e(_incident_detail(i, r.zone))}</li>" for i in r.incidents),
                     "</ul>"]
        else:
            body.append("<p>No incidents.</p>")
        if r.maintenances:
            body += ["<p>Maintenance:</p>", "<ul>",
                     *(f"<li>{e(_maintenance_line(m, r.zone))}</li>" for m in r.maintenances), "</ul>"]
        body += [f'<p><a href="{e(snapshot.url)}">View the status page</a></p>', "</div>"]
    html = ["<!DOCTYPE html>", '<html><head><meta charset="utf-8">', f"<title>{e(subject)}</title></head>", _HEAD,
            *body, "</body></html>"]
    return subject, "\n".join(text) + "\n", "\n".join(html) + "\n"


# --- Web Push ------------------------------------------------------------------------------------------------
def push_payload(event: Event, snapshot: PageSnapshot, *, now: datetime) -> dict[str, Any]:
    """``{title, body, url, tag}``; a newer alert for the same component and window replaces the older one."""
    _check(event)
    _iso(now)
    if event.name == events.UPTIME_ALERT:
        a = _alert(event, snapshot)
        title = f"{snapshot.page.title}: Uptime alert: {a.name}"
        body = (f"{percent(a.uptime)} over {window_label(a.window)}, below the threshold of "
                f"{percent(a.threshold)}")
        tag = f"uptime-{a.component_id}-{a.window}"
    else:
        r = _report(event, snapshot)
        title, body, tag = f"{snapshot.page.title}: {r.label}", f"{r.span}: {r.summary}", f"report-{r.period}"
    return {"title": _cut(_one_line(title), TITLE_LIMIT), "body": _cut(body, PUSH_BODY_LIMIT), "url": snapshot.url,
            "tag": tag}

"""Pure renderers of a page's feeds from its snapshot: RSS 2.0 and Atom 1.0 of incidents and maintenance, and an
iCalendar (RFC 5545) feed of maintenance windows.

Feeds are built with ``xml.etree`` (every text and attribute escaped by the serialiser); an entry's content is its
updates, newest first, each headed by its status and time, as HTML sanitised by ``app.markdown.render``. The
calendar is written by hand: TEXT values escaped and lines folded at 75 octets as RFC 5545 §3.1 and §3.3.11 say.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app import markdown
from app.enums import MaintenanceState
from app.html import INCIDENT_STATUS_LABEL, MAINTENANCE_STATE_LABEL
from app.snapshot import IncidentView, MaintenanceView, PageSnapshot

ATOM_NS = "http://www.w3.org/2005/Atom"
GENERATOR = "Beacon"
# Characters XML 1.0 cannot carry even escaped; user text is cleaned of them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")



# --- addresses ------------------------------------------------------------------------------------------------------

def page_base(s: PageSnapshot) -> str:
    """The absolute address of ``/status/{slug}`` (on the custom domain when the page has one)."""
    return s.incident_url(0).removesuffix("/incidents/0")


def maintenance_url(s: PageSnapshot, maintenance_id: int) -> str:
    return f"{page_base(s)}/maintenance/{maintenance_id}"


def host(s: PageSnapshot) -> str:
    """The host the page is served on, for tag URIs and calendar UIDs."""
    return (urlsplit(s.url).hostname or "localhost").lower()


# --- times ----------------------------------------------------------------------------------------------------------

def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _utc(value: datetime) -> datetime:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _shown(value: datetime, zone: ZoneInfo) -> str:
    """A time for people, in the page's zone: '2024-05-01 14:30 CEST'."""
    local = _utc(value).astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() or 'UTC'}"


def _rfc3339(value: datetime) -> str:
    return _utc(value).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _rfc822(value: datetime) -> str:
    return format_datetime(_utc(value).replace(microsecond=0), usegmt=True)


# --- entries --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Entry:
    """One feed entry, the same for RSS and Atom."""

    id: str
    title: str
    url: str
    published: datetime  # when it began
    latest: datetime  # its latest update: RSS pubDate and the feed order
    updated: datetime  # its last change of any kind: Atom updated
    category: str
    html: str
    summary: str


def _tag(s: PageSnapshot, kind: str, item_id: int, created: datetime) -> str:
    # RFC 4151: stable as long as the host is; the date is when the thing was created
    return f"tag:{host(s)},{_utc(created):%Y-%m-%d}:page/{s.page.id}/{kind}/{item_id}"


def _heading(label: str, at: datetime, zone: ZoneInfo) -> str:
    return (f'<p><strong>{escape(label)}</strong> — <time datetime="{_rfc3339(at)}">'
            f"{escape(_shown(at, zone))}</time></p>")


def _incident_entry(s: PageSnapshot, i: IncidentView, zone: ZoneInfo) -> Entry:
    parts: list[str] = []
    names = s.component_names
    affected = [names[c] for c in i.component_ids if c in names]
    if affected:
        parts.append(f"<p>Affected: {escape(', '.join(affected))}</p>")
    if i.postmortem:
        parts.append(f"<h3>Postmortem</h3>{markdown.render(i.postmortem)}")
    for u in i.updates:
        parts.append(_heading(INCIDENT_STATUS_LABEL.get(u.status, str(u.status)), u.display_at, zone)
                     + markdown.render(u.body))
    latest = i.latest_update.display_at if i.latest_update else i.started_at
    if i.postmortem and i.postmortem_published_at:
        latest = max(latest, i.postmortem_published_at)
    status = INCIDENT_STATUS_LABEL.get(i.status, str(i.status))
    body = i.latest_update.body if i.latest_update else ""
    return Entry(id=_tag(s, "incident", i.id, i.created_at), title=i.name, url=s.incident_url(i.id),
                 published=i.started_at, latest=latest, updated=max(latest, i.updated_at), category="incident",
                 html="".join(parts), summary=f"{status}: {markdown.plain(body, 300)}" if body else status)


def _maintenance_entry(s: PageSnapshot, m: MaintenanceView, zone: ZoneInfo) -> Entry:
    state = MAINTENANCE_STATE_LABEL.get(m.state, str(m.state))
    start = m.started_at or m.scheduled_for
    window = f"{_shown(start, zone)} – {_shown(m.ends_at, zone)}"
    parts = [f"<p><strong>{escape(state)}</strong>: {escape(window)}</p>"]
    names = s.component_names
    affected = [names[c] for c in m.component_ids if c in names]
    if affected:
        parts.append(f"<p>Affected: {escape(', '.join(affected))}</p>")
    for u in m.updates:
        parts.append(_heading(MAINTENANCE_STATE_LABEL.get(u.state, str(u.state)), u.display_at, zone)
                     + markdown.render(u.body))
    # the description it was scheduled with is its first, "Scheduled" note (as in the Statuspage JSON)
    if m.body and not (m.updates and m.updates[-1].body == m.body):
        parts.append(_heading(MAINTENANCE_STATE_LABEL[MaintenanceState.SCHEDULED], m.created_at, zone)
                     + markdown.render(m.body))
    latest = m.latest_update.display_at if m.latest_update else m.created_at
    return Entry(id=_tag(s, "maintenance", m.id, m.created_at), title=m.name, url=maintenance_url(s, m.id),
                 published=m.created_at, latest=latest, updated=max(latest, m.updated_at), category="maintenance",
                 html="".join(parts), summary=f"{state}: {window}")


def entries(s: PageSnapshot) -> list[Entry]:
    """The page's incidents and maintenance as entries, the most recently updated first."""
    zone = _zone(s.page.time_zone)
    items = [*(_incident_entry(s, i, zone) for i in s.incidents),
             *(_maintenance_entry(s, m, zone) for m in s.maintenances)]
    return sorted(items, key=lambda e: (_utc(e.latest), _utc(e.published), e.id), reverse=True)


# --- RSS and Atom ---------------------------------------------------------------------------------------------------

def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _text(text)
    return element


def _serialise(root: ET.Element) -> str:
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _feed_title(s: PageSnapshot) -> str:
    return f"{s.page.title} status"


def _feed_description(s: PageSnapshot) -> str:
    return s.page.description.strip() or f"Incidents and maintenance of {s.page.title}"


def rss(s: PageSnapshot, now: datetime) -> str:
    """RSS 2.0 of the page's incidents and maintenance, newest first."""
    items = entries(s)
    root = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = _sub(root, "channel")
    _sub(channel, "title", _feed_title(s))
    _sub(channel, "link", s.url)
    _sub(channel, "description", markdown.plain(_feed_description(s), 500))
    _sub(channel, "atom:link", href=f"{page_base(s)}/feed.rss", rel="self", type="application/rss+xml")
    _sub(channel, "lastBuildDate", _rfc822(now))
    if items:
        _sub(channel, "pubDate", _rfc822(items[0].latest))
    _sub(channel, "generator", GENERATOR)
    _sub(channel, "ttl", "5")
    for e in items:
        item = _sub(channel, "item")
        _sub(item, "title", e.title)
        _sub(item, "link", e.url)
        _sub(item, "guid", e.id, isPermaLink="false")
        _sub(item, "pubDate", _rfc822(e.latest))
        _sub(item, "category", e.category)
        _sub(item, "description", e.html or escape(e.summary))
    return _serialise(root)


def atom(s: PageSnapshot, now: datetime) -> str:
    """Atom 1.0 (RFC 4287) of the page's incidents and maintenance, newest first."""
    items = entries(s)
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _sub(root, "id", page_base(s))
    _sub(root, "title", _feed_title(s))
    _sub(root, "subtitle", markdown.plain(_feed_description(s), 500))
    _sub(root, "updated", _rfc3339(max((e.updated for e in items), key=_utc) if items else s.page.updated_at))
    _sub(root, "link", rel="alternate", type="text/html", href=s.url)
    _sub(root, "link", rel="self", type="application/atom+xml", href=f"{page_base(s)}/feed.atom")
    author = _sub(root, "author")
    _sub(author, "name", s.page.title)
    _sub(author, "uri", s.url)
    _sub(root, "generator", GENERATOR)
    for e in items:
        entry = _sub(root, "entry")
        _sub(entry, "id", e.id)
        _sub(entry, "title", e.title)
        _sub(entry, "link", rel="alternate", type="text/html", href=e.url)
        _sub(entry, "published", _rfc3339(e.published))
        _sub(entry, "updated", _rfc3339(e.updated))
        _sub(entry, "category", term=e.category)
        _sub(entry, "summary", e.summary)
        _sub(entry, "content", e.html or escape(e.summary), type="html")
    return _serialise(root)


# --- iCalendar ------------------------------------------------------------------------------------------------------

_CRLF = "\r\n"
_NOT_ICAL_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")


def ical_text(value: str) -> str:
    """A TEXT value escaped (RFC 5545 §3.3.11): backslash, semicolon, comma, and line breaks as ``\\n``."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _NOT_ICAL_TEXT.sub("", value)
    return (value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n"))


def fold(line: str) -> str:
    """One content line folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character; continuation lines
    start with a space, which counts towards their 75."""
    out: list[str] = []
    current, size, limit = [], 0, 75
    for ch in line:
        n = len(ch.encode("utf-8"))
        if size + n > limit:
            out.append("".join(current))
            current, size, limit = [], 0, 74
        current.append(ch)
        size += n
    out.append("".join(current))
    return "\r\n ".join(out)


def _ical_time(value: datetime) -> str:
    return f"{_utc(value):%Y%m%dT%H%M%SZ}"


def _event(s: PageSnapshot, m: MaintenanceView, now: datetime) -> list[str]:
    start = m.started_at or m.scheduled_for
    end = m.ends_at
    if end <= start:  # completed before its planned start, say: an event must not end before it begins
        end = max(m.scheduled_until, start)
    state = MAINTENANCE_STATE_LABEL.get(m.state, str(m.state))
    url = maintenance_url(s, m.id)
    names = s.component_names
    affected = [names[c] for c in m.component_ids if c in names]
    description = [f"{state} maintenance on {s.page.title}."]
    if affected:
        description.append(f"Affected: {', '.join(affected)}")
    if m.body.strip():
        description.append(markdown.plain(m.body, 2000))
    for u in m.updates:
        if u.body.strip() and u.body != m.body:
            description.append(f"{MAINTENANCE_STATE_LABEL.get(u.state, str(u.state))} ({_ical_time(u.display_at)}): "
                               f"{markdown.plain(u.body, 1000)}")
    description.append(url)
    # SEQUENCE must grow whenever the event changes: seconds from creation to the last change do
    sequence = max(int((_utc(m.updated_at) - _utc(m.created_at)).total_seconds()), 0)
    return [
        "BEGIN:VEVENT",
        f"UID:maintenance-{m.id}@{host(s)}",
        f"DTSTAMP:{_ical_time(now)}",
        f"DTSTART:{_ical_time(start)}",
        f"DTEND:{_ical_time(end)}",
        f"SUMMARY:{ical_text(m.name)}",
        f"DESCRIPTION:{ical_text(chr(10).join(description))}",
        f"URL;VALUE=URI:{url}",
        "STATUS:CONFIRMED",
        "TRANSP:TRANSPARENT",
        f"CATEGORIES:{ical_text('Maintenance')}",
        f"CREATED:{_ical_time(m.created_at)}",
        f"LAST-MODIFIED:{_ical_time(m.updated_at)}",
        f"SEQUENCE:{sequence}",
        "END:VEVENT",
    ]


def ical(s: PageSnapshot, now: datetime) -> str:
    """An RFC 5545 calendar with one event per maintenance window the snapshot holds (upcoming, in progress and
    recently ended), times in UTC."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:-//{GENERATOR}//Status page maintenance//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"NAME:{ical_text(f'{s.page.title} maintenance')}",
        f"X-WR-CALNAME:{ical_text(f'{s.page.title} maintenance')}",
        "REFRESH-INTERVAL;VALUE=DURATION:PT15M",
        "X-PUBLISHED-TTL:PT15M",
    ]
    for m in sorted(s.maintenances, key=lambda m: (_utc(m.scheduled_for), m.id)):
        lines += _event(s, m, now)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + _CRLF for line in lines)

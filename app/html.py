"""Server-rendered public pages (the fast path): snapshot → HTML, with Jinja2 autoescaping."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from app import history, markdown
from app.enums import ComponentStatus, IncidentImpact, IncidentStatus, MaintenanceState
from app.snapshot import (
    AffectedComponent,
    ComponentView,
    GroupView,
    IncidentView,
    MaintenanceUpdateView,
    MaintenanceView,
    PageInfo,
    PageSnapshot,
    UpdateView,
)
from app.uptime import STATUS_CLASS, Day, format_percent

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

INDICATOR_CLASS = {"none": "ok", "minor": "degraded", "major": "partial", "critical": "major",
                   "maintenance": "maintenance"}
_env.globals.update(STATUS_CLASS=STATUS_CLASS, INDICATOR_CLASS=INDICATOR_CLASS, OPERATIONAL=ComponentStatus.OPERATIONAL)


# --- the status body: incidents, maintenance, uptime bars ---------------------------------------------------
IMPACT_CLASS = {IncidentImpact.MAJOR: "major", IncidentImpact.PARTIAL: "partial",
                IncidentImpact.DEGRADED: "degraded", IncidentImpact.MINOR: "degraded"}
IMPACT_LABEL = {IncidentImpact.MAJOR: "Major outage", IncidentImpact.PARTIAL: "Partial outage",
                IncidentImpact.DEGRADED: "Degraded performance", IncidentImpact.MINOR: "Minor issue"}
INCIDENT_STATUS_LABEL = {IncidentStatus.INVESTIGATING: "Investigating", IncidentStatus.IDENTIFIED: "Identified",
                         IncidentStatus.MONITORING: "Monitoring", IncidentStatus.RESOLVED: "Resolved"}
MAINTENANCE_STATE_LABEL = {MaintenanceState.SCHEDULED: "Scheduled", MaintenanceState.IN_PROGRESS: "In progress",
                           MaintenanceState.COMPLETED: "Completed"}
# Bars a narrow screen shows (CSS hides the older ones under 500 px, see status.css).
NARROW_DAYS = 30


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _offset(moment: datetime) -> str:
    """'UTC', 'UTC+01:00', 'UTC-05:30'."""
    offset = moment.utcoffset() or timedelta()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes > 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _date(moment: datetime | date) -> str:
    return f"{moment.day} {moment:%b %Y}"


def local_time(moment: datetime, zone: str) -> str:
    """'12 Nov 2026, 14:05 UTC+01:00': a moment in the page's time zone, with its offset."""
    local = moment.astimezone(_zone(zone))
    return f"{_date(local)}, {local:%H:%M} {_offset(local)}"


def local_range(start: datetime, end: datetime, zone: str) -> str:
    """'12 Nov 2026, 02:00 – 04:00 UTC+01:00', with the end's date when it is another day."""
    first, last = start.astimezone(_zone(zone)), end.astimezone(_zone(zone))
    if first.utcoffset() != last.utcoffset():  # across a daylight-saving change: each time its own offset
        return f"{local_time(start, zone)} – {local_time(end, zone)}"
    end_text = f"{last:%H:%M}" if first.date() == last.date() else f"{_date(last)}, {last:%H:%M}"
    return f"{_date(first)}, {first:%H:%M} – {end_text} {_offset(last)}"


def duration(seconds: int) -> str:
    """'45 min', '2 h', '2 h 30 min'."""
    minutes = max(round(seconds / 60), 1)
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def day_label(day: Day) -> str:
    """A bar's tooltip and accessible name: '12 Nov 2026 · 99.95% uptime · 1 incident: API errors'."""
    parts = [_date(day.day)]
    if not day.has_data:
        parts.append("No data")
    elif day.in_maintenance_all_day:
        parts.append("Maintenance all day")
    else:
        parts.append(f"{format_percent(day.percent)} uptime")
        if day.down_seconds:
            parts.append(f"down {duration(day.down_seconds)}")
        if day.degraded_seconds:
            parts.append(f"degraded {duration(day.degraded_seconds)}")
        if day.maintenance_seconds:
            parts.append(f"maintenance {duration(day.maintenance_seconds)}")
    if day.incidents:
        count = len(day.incidents)
        parts.append(f"{count} incident{'s' if count > 1 else ''}: {', '.join(day.incidents)}")
    return " · ".join(parts)


def uptime_text(percent: float | None) -> str:
    return f"{format_percent(percent)} uptime" if percent is not None else "No data"


def shown(item: ComponentView | GroupView) -> bool:
    """Whether the public page lists it: "show only when not operational" components hide while operational,
    and a group hides when it holds components but every one of them is hidden."""
    if isinstance(item, GroupView):
        return not item.component_ids or any(shown(child) for child in item.items)
    return not (item.only_show_if_degraded and item.status == ComponentStatus.OPERATIONAL)


def markdown_block(text: str, css_class: str) -> Markup:
    """An update's Markdown as sanitised HTML in one block of ``css_class``: a lone paragraph is that ``<p>``
    itself (it reads like the plain text it replaces), anything longer a ``<div>`` around the blocks; "" for
    blank text."""
    rendered = markdown.render(text)
    if not rendered:
        return Markup("")
    inner = rendered.removeprefix("<p>").removesuffix("</p>")
    if len(inner) == len(rendered) - 7 and "<p>" not in inner and "</p>" not in inner:
        return Markup(f'<p class="{escape(css_class)} md">{inner}</p>')
    return Markup(f'<div class="{escape(css_class)} md">{rendered}</div>')


def component_change(change: AffectedComponent, names: dict[int, str]) -> str | None:
    """'API: Operational → Major outage' for a change an update made; None for a component not on the page."""
    name = names.get(change.component_id)
    if name is None:
        return None
    new = change.new_status.label if change.new_status else "unknown"
    if change.old_status is None or change.old_status == change.new_status:
        return f"{name}: {new}"
    return f"{name}: {change.old_status.label} → {new}"


def change_lines(update: UpdateView | MaintenanceUpdateView, names: dict[int, str]) -> list[str]:
    """The component changes an update made, as lines for its timeline entry (maintenance updates make none)."""
    changes = update.affected_components if isinstance(update, UpdateView) else ()
    return [line for line in (component_change(c, names) for c in changes) if line]


def update_label(update: UpdateView | MaintenanceUpdateView) -> str:
    """The status an update was posted with: 'Identified', 'In progress'."""
    if isinstance(update, UpdateView):
        return INCIDENT_STATUS_LABEL[update.status]
    return MAINTENANCE_STATE_LABEL[update.state]


def affected_names(ids: tuple[int, ...], names: dict[int, str]) -> list[str]:
    """The names of the components among ``ids`` that are on the page, in the page's display order."""
    wanted = set(ids)
    return [name for component_id, name in names.items() if component_id in wanted]


_env.filters["markdown"] = lambda text: Markup(markdown.render(text))
_env.filters["plain"] = markdown.plain
_env.globals.update(IMPACT_CLASS=IMPACT_CLASS, IMPACT_LABEL=IMPACT_LABEL, NARROW_DAYS=NARROW_DAYS,
                    INCIDENT_STATUS_LABEL=INCIDENT_STATUS_LABEL, MAINTENANCE_STATE_LABEL=MAINTENANCE_STATE_LABEL,
                    local_time=local_time, local_range=local_range, day_label=day_label, shown=shown,
                    uptime_text=uptime_text, markdown_block=markdown_block, change_lines=change_lines,
                    update_label=update_label, affected_names=affected_names, kind=history.kind)


def status_body(snapshot: PageSnapshot) -> str:
    """The part of the page that live updates replace."""
    return _env.get_template("status_body.html").render(s=snapshot)


def status_page(snapshot: PageSnapshot, *, live_url: str, preview: bool = False, body: str | None = None,
                push_key: str | None = None) -> str:
    """The whole page. ``preview``: for signed-in staff (a draft or private page, or unsaved edits) — a banner says
    so, brand images come from the staff-only upload route, and there is no live-update script. ``body``: the
    already rendered status body, when the caller keeps one (the public routes share it with live updates)."""
    slug = snapshot.page.slug
    return _env.get_template("status_page.html").render(
        **_frame(snapshot, preview=preview), body=body if body is not None else status_body(snapshot),
        live_url=live_url, push_key=None if preview else push_key,
        subscribe_url=f"/admin/preview/{slug}/subscribe" if preview else f"/status/{slug}/subscribe")


def _frame(snapshot: PageSnapshot, *, preview: bool = False) -> dict[str, Any]:
    """What ``layout.html`` needs: the page's header, branding and footer, shared by every public page."""
    page = snapshot.page
    assets = "/admin/uploads/" if preview else f"/status/{page.slug}/assets/"
    header = None
    if page.header_color and _HEX_COLOR.match(page.header_color):
        header = {"background": page.header_color, "text": header_text_color(page.header_color)}
    return dict(
        s=snapshot, preview=preview, header=header,
        brand_color=page.brand_color if _HEX_COLOR.match(page.brand_color or "") else None,
        logo_url=assets + page.logo_file if page.logo_file else None,
        favicon_url=assets + page.favicon_file if page.favicon_file else None,
        api_url=snapshot.url.rstrip("/") + "/api/v2/summary.json", preview_notice=preview_notice(page))


def _subpage(snapshot: PageSnapshot) -> dict[str, Any]:
    slug = snapshot.page.slug
    return {**_frame(snapshot), "home_url": f"/status/{slug}", "history_url": f"/status/{slug}/history"}


def incident_page(snapshot: PageSnapshot, incident: IncidentView) -> str:
    """One incident: its state, the components it affects on this page, every update and the published
    write-up."""
    return _env.get_template("incident.html").render(**_subpage(snapshot), i=incident)


def maintenance_page(snapshot: PageSnapshot, maintenance: MaintenanceView) -> str:
    return _env.get_template("maintenance.html").render(**_subpage(snapshot), m=maintenance)


def history_url(slug: str, number: int = 1, component: str | None = None) -> str:
    """The address of a history page, keeping the component filter."""
    query = {**({"page": str(number)} if number > 1 else {}), **({"component": component} if component else {})}
    return f"/status/{slug}/history" + (f"?{urlencode(query)}" if query else "")


def history_page(snapshot: PageSnapshot, result: history.HistoryPage, *, component: str | None = None,
                 problem: str = "") -> str:
    """A page of the history, grouped by month in the page's time zone. ``component``: the filter as given (the
    id of one of the page's components); ``problem``: why nothing can be listed (an unknown component)."""
    slug = snapshot.page.slug
    pagination = result.pagination
    return _env.get_template("history.html").render(
        **_subpage(snapshot), result=result, pagination=pagination, component=component, problem=problem,
        months=history.group_by_month(result.items, _zone(snapshot.page.time_zone)),
        newer_url=history_url(slug, pagination.newer, component) if pagination.newer else None,
        older_url=history_url(slug, pagination.older, component) if pagination.older else None,
        first_url=history_url(slug, 1, component))


def subscribe_page(snapshot: PageSnapshot, *, view: str, heading: str, preview: bool = False,
                   **context: Any) -> str:
    """The subscribe form (``view="form"``), a subscription's manage page (``"manage"``), the confirm and
    unsubscribe questions (``"confirm"``, ``"unsubscribe"``) and their answers (``"message"``): plain forms that
    work without JavaScript; only browser notifications need it."""
    defaults: dict[str, Any] = {"values": {}, "errors": {}, "kind": "", "chosen": [], "problem": "", "message": ""}
    home = f"/admin/preview/{snapshot.page.slug}" if preview else f"/status/{snapshot.page.slug}"
    return _env.get_template("subscribe.html").render(
        **_frame(snapshot, preview=preview), home_url=home, view=view, heading=heading, **{**defaults, **context})


def preview_notice(page: PageInfo) -> str:
    """Why visitors do not see the page, for the banner on a staff preview."""
    if not page.active and not page.public:
        return "this page is a draft and private: visitors cannot see it."
    if not page.active:
        return "this page is a draft: visitors cannot see it until it is activated."
    if not page.public:
        return "this page is private: only signed-in staff can see it."
    return "this is how visitors see the page."


# --- colour contrast (WCAG 2.x) -----------------------------------------------------------------------------
_HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
WHITE = "#ffffff"
NEAR_BLACK = "#1f2328"  # the page's own text colour
BLACK = "#000000"
AA_NORMAL_TEXT = 4.5


def relative_luminance(color: str) -> float:
    """WCAG relative luminance of ``#rgb`` or ``#rrggbb``."""
    digits = color.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    light, dark = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def header_text_color(background: str) -> str:
    """White or near-black text, whichever reads better on ``background``. Near the middle of the luminance
    scale near-black falls just short of AA (4.5:1) where pure black still meets it, so black is the fallback."""
    best = max((WHITE, NEAR_BLACK), key=lambda text: contrast_ratio(background, text))
    return best if contrast_ratio(background, best) >= AA_NORMAL_TEXT else BLACK

"""Server-rendered public pages (the fast path): snapshot → HTML, with Jinja2 autoescaping."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.enums import ComponentStatus, IncidentImpact
from app.snapshot import ComponentView, GroupView, PageInfo, PageSnapshot
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


_env.globals.update(IMPACT_CLASS=IMPACT_CLASS, IMPACT_LABEL=IMPACT_LABEL, NARROW_DAYS=NARROW_DAYS,
                    local_time=local_time, local_range=local_range, day_label=day_label, shown=shown,
                    uptime_text=uptime_text)
# The body is rendered for the page and again for the live stream; keep the last one per page.
def status_body(snapshot: PageSnapshot) -> str:
    """The part of the page that live updates replace."""
    return _env.get_template("status_body.html").render(s=snapshot)


def status_page(snapshot: PageSnapshot, *, live_url: str, preview: bool = False, body: str | None = None) -> str:
    """The whole page. ``preview``: for signed-in staff (a draft or private page, or unsaved edits) — a banner says
    so, brand images come from the staff-only upload route, and there is no live-update script. ``body``: the
    already rendered status body, when the caller keeps one (the public routes share it with live updates)."""
    page = snapshot.page
    assets = "/admin/uploads/" if preview else f"/status/{page.slug}/assets/"
    header = None
    if page.header_color and _HEX_COLOR.match(page.header_color):
        header = {"background": page.header_color, "text": header_text_color(page.header_color)}
    return _env.get_template("status_page.html").render(
        s=snapshot, body=body if body is not None else status_body(snapshot), live_url=live_url, preview=preview,
        header=header,
        brand_color=page.brand_color if _HEX_COLOR.match(page.brand_color or "") else None,
        logo_url=assets + page.logo_file if page.logo_file else None,
        favicon_url=assets + page.favicon_file if page.favicon_file else None,
        api_url=snapshot.url.rstrip("/") + "/api/v2/summary.json", preview_notice=preview_notice(page))


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

"""Pure parts of the periodic reports: which period was the last one to end, in the page's time zone, and the
event data a report carries (everything its payloads need, so that they read only page details from the
snapshot).

Periods are local: a daily report covers the previous local day (midnight to midnight), a weekly one the previous
Monday to Monday, a monthly one the previous calendar month. Across a daylight-saving change a period is 23 or 25
hours (or a week an hour shorter or longer); its bounds carry their own offsets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app import events

PERIODS = ("daily", "weekly", "monthly")
EVENT_OF = {"daily": events.REPORT_DAILY, "weekly": events.REPORT_WEEKLY, "monthly": events.REPORT_MONTHLY}
PERIOD_OF = {name: period for period, name in EVENT_OF.items()}


def zone(name: str | tzinfo | None) -> tzinfo:
    """The time zone of that name; UTC for an unknown or missing one."""
    if isinstance(name, tzinfo):
        return name
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The first moment of ``day`` in ``tz`` (normalised: where midnight does not exist, the moment after the
    gap)."""
    naive = datetime(day.year, day.month, day.day, tzinfo=tz)
    return naive.astimezone(UTC).astimezone(tz)


def period_days(period: str, today: date) -> tuple[date, date]:
    """The local (first day, day after the last) of the last complete period before ``today``."""
    if period == "daily":
        return today - timedelta(days=1), today
    if period == "weekly":
        end = today - timedelta(days=today.weekday())  # this week's Monday
        return end - timedelta(days=7), end
    if period == "monthly":
        end = today.replace(day=1)
        return (end - timedelta(days=1)).replace(day=1), end
    raise ValueError(f"unknown report period {period!r}")


def last_complete_period(period: str, now: datetime, zone_name: str | tzinfo | None) -> tuple[datetime, datetime]:
    """(start, end) of the last complete ``period`` ("daily", "weekly", "monthly") before ``now``, as moments in
    the page's time zone; the end is excluded."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now needs an offset: {now!r}")
    tz = zone(zone_name)
    first, after = period_days(period, now.astimezone(tz).date())
    return local_midnight(first, tz), local_midnight(after, tz)


def mark_key(period: str, page_id: int, start: datetime) -> str:
    """The ``NoticeMark`` key of a page's report for the period starting at ``start`` (its local date)."""
    return f"report:{period}:{page_id}:{start.date().isoformat()}"


@dataclass(frozen=True, slots=True)
class UptimeRow:
    component_id: int
    name: str
    uptime: float | None  # % over the period; None: no data


@dataclass(frozen=True, slots=True)
class IncidentRow:
    id: int
    name: str
    impact: str  # IncidentImpact value
    status: str  # IncidentStatus value
    started_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MaintenanceRow:
    id: int
    name: str
    state: str  # MaintenanceState value
    scheduled_for: datetime
    scheduled_until: datetime


def overall(values: Iterable[float | None]) -> float | None:
    """The page's uptime: the mean of its components' figures that have data (each weighs the same)."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a report time needs an offset: {moment!r}")
    return moment.isoformat()


def report_data(*, page_id: int, period: str, start: datetime, end: datetime, time_zone: str,
                uptime: Iterable[UptimeRow], incidents: Iterable[IncidentRow],
                maintenances: Iterable[MaintenanceRow]) -> dict[str, Any]:
    """The data of a ``report.*`` event (JSON): times ISO 8601 with offsets, uptime in % rounded to 4 places."""
    if period not in PERIODS:
        raise ValueError(f"unknown report period {period!r}")
    rows = [{"component_id": r.component_id, "name": r.name,
             "uptime": None if r.uptime is None else round(r.uptime, 4)} for r in uptime]
    total = overall(r["uptime"] for r in rows)
    return {
        "page_id": page_id, "period": period, "start": _iso(start), "end": _iso(end), "time_zone": time_zone,
        "overall_uptime": None if total is None else round(total, 4),
        "uptime": rows,
        "incidents": [{"id": i.id, "name": i.name, "impact": i.impact, "status": i.status,
                       "started_at": _iso(i.started_at),
                       "resolved_at": _iso(i.resolved_at) if i.resolved_at else None}
                      for i in sorted(incidents, key=lambda i: (i.started_at, i.id))],
        "maintenances": [{"id": m.id, "name": m.name, "state": m.state, "scheduled_for": _iso(m.scheduled_for),
                          "scheduled_until": _iso(m.scheduled_until)}
                         for m in sorted(maintenances, key=lambda m: (m.scheduled_for, m.id))],
    }


def counts(data: Mapping[str, Any]) -> tuple[float | None, int]:
    """(overall uptime, number of incidents) of a report's data."""
    value = data.get("overall_uptime")
    if value is None:
        value = overall(r.get("uptime") for r in data.get("uptime") or [])
    return value, len(data.get("incidents") or [])

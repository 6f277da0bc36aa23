"""Pure uptime maths for the public uptime bars: one component's days, the window's overall figure, and the
colour each day's bar takes.

Rules: maintenance does not count against uptime (it is taken out of the observed time), degraded time
counts as up, and a day that nobody observed is "no data" rather than 100%.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from app.enums import ComponentStatus

NO_DATA = "nodata"

# The CSS class of a status, shared by the status pills and the day bars (a day's bar shows the worst state
# the component was in that day).
STATUS_CLASS = {
    ComponentStatus.OPERATIONAL: "ok",
    ComponentStatus.DEGRADED: "degraded",
    ComponentStatus.PARTIAL_OUTAGE: "partial",
    ComponentStatus.MAJOR_OUTAGE: "major",
    ComponentStatus.MAINTENANCE: "maintenance",
}


@dataclass(frozen=True, slots=True)
class Day:
    """One component's UTC day as the daily rollup recorded it, plus the incidents that touched it.

    A day without a rollup row is built with the defaults: nothing observed, no data.
    """

    day: date
    observed_seconds: int = 0
    down_seconds: int = 0
    degraded_seconds: int = 0
    maintenance_seconds: int = 0
    worst_status: ComponentStatus | None = None
    avg_latency_ms: float | None = None
    incidents: tuple[str, ...] = ()  # names, oldest first

    @property
    def has_data(self) -> bool:
        return self.observed_seconds > 0

    @property
    def counted_seconds(self) -> int:
        """The seconds that count for uptime: observed and not in maintenance."""
        return max(self.observed_seconds - self.maintenance_seconds, 0) if self.has_data else 0

    @property
    def up_seconds(self) -> int:
        return max(self.counted_seconds - self.down_seconds, 0)

    @property
    def percent(self) -> float | None:
        """The day's uptime in %, or None when nothing counts (no data, or maintenance all day)."""
        return ratio_percent(self.up_seconds, self.counted_seconds)

    @property
    def in_maintenance_all_day(self) -> bool:
        return self.has_data and self.counted_seconds == 0

    @property
    def bar_class(self) -> str:
        """CSS class of the day's bar: the worst state of the day, or "nodata"."""
        if not self.has_data:
            return NO_DATA
        if self.worst_status is not None:
            return STATUS_CLASS[self.worst_status]
        # a rollup without a recorded worst state: infer it from the seconds
        if self.down_seconds:
            return "major"
        if self.degraded_seconds:
            return "degraded"
        return "maintenance" if self.in_maintenance_all_day else "ok"


def ratio_percent(up_seconds: int, counted_seconds: int) -> float | None:
    return 100.0 * up_seconds / counted_seconds if counted_seconds > 0 else None


def window(rows: Mapping[date, Day], today: date, days: int) -> tuple[Day, ...]:
    """The ``days`` days ending with ``today``, oldest first; a day missing from ``rows`` has no data."""
    first = today - timedelta(days=days - 1)
    return tuple(rows.get(first + timedelta(days=i)) or Day(first + timedelta(days=i)) for i in range(days))


def window_percent(days: Iterable[Day]) -> float | None:
    """Uptime over several days, weighted by the time that counted each day (not a mean of daily figures,
    so a half-observed day weighs half); None when no day has data."""
    up = counted = 0
    for d in days:
        counted += d.counted_seconds
        up += d.up_seconds
    return ratio_percent(up, counted)


def window_latency_ms(days: Iterable[Day]) -> float | None:
    """Average response time over several days, each day weighted by its observed time."""
    measured = [(d.avg_latency_ms, d.observed_seconds) for d in days if d.has_data and d.avg_latency_ms is not None]
    total = sum(seconds for _, seconds in measured)
    return sum(ms * seconds for ms, seconds in measured) / total if total else None


def format_percent(value: float | None) -> str:
    """'100%', '99.95%', '97.5%'; rounded down, so that any downtime never shows as 100%. '' for None."""
    if value is None:
        return ""
    if value >= 100:
        return "100%"
    # round first: 99.95 * 100 is 9994.999… in binary floating point
    floored = math.floor(round(value * 100, 6)) / 100
    return f"{floored:.2f}".rstrip("0").rstrip(".") + "%"

"""Uptime rollups: monitoring data, written in bulk by the system rather than through a service (no actor,
no audit entry; nothing a person decided)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.enums import ComponentStatus
from storage.models import DailyUptime

BATCH_SIZE = 500


@dataclass(frozen=True, slots=True)
class DailyRow:
    """One component's UTC day (see ``DailyUptime`` for what each figure means)."""

    component_id: int
    day: date
    observed_seconds: int
    down_seconds: int = 0
    degraded_seconds: int = 0
    maintenance_seconds: int = 0
    worst_status: ComponentStatus = ComponentStatus.OPERATIONAL
    avg_latency_ms: float | None = None


_FIGURES = ["observed_seconds", "down_seconds", "degraded_seconds", "maintenance_seconds", "worst_status",
            "avg_latency_ms"]


_history_generation = 0


def history_generation() -> int:
    """A number that changes whenever days older than yesterday are written (readers may cache those)."""
    return _history_generation


async def write_daily(rows: Iterable[DailyRow], conn: Any = None) -> int:
    """Insert the days, or replace the figures of days already written (a day is rolled up again as it goes
    on); returns how many rows were written."""
    global _history_generation
    rows = list(rows)
    objects = [DailyUptime(component_id=r.component_id, day=r.day, observed_seconds=r.observed_seconds,
                           down_seconds=r.down_seconds, degraded_seconds=r.degraded_seconds,
                           maintenance_seconds=r.maintenance_seconds, worst_status=r.worst_status,
                           avg_latency_ms=r.avg_latency_ms) for r in rows]
    if objects:
        await DailyUptime.bulk_create(objects, batch_size=BATCH_SIZE, on_conflict=["component_id", "day"],
                                      update_fields=_FIGURES, using_db=conn)
    # after the write: a reader that cached older days before it sees the number change and reads again
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    if any(r.day < yesterday for r in rows):
        _history_generation += 1
    return len(objects)


@dataclass(frozen=True, slots=True)
class MonitorDay:
    """One monitor's counts for a UTC day (from its day rollup) and what they stand for."""

    up: int
    down: int
    degraded: int
    maintenance: int
    interval_seconds: int
    down_status: ComponentStatus
    latency_sum: float = 0.0
    latency_count: int = 0


def component_day(component_id: int, day: date, monitors: Iterable[MonitorDay]) -> DailyRow | None:
    """A component's day from its monitors' day rollups. Each check stands for one interval of time; a monitor's
    figures are capped at a day, and several monitors are averaged (each weighs the same), so the observed time
    never exceeds 86,400 s. Maintenance checks only add maintenance seconds. None when no monitor checked."""
    parts = [m for m in monitors if m.up + m.down + m.degraded + m.maintenance > 0]
    if not parts:
        return None
    observed = down = degraded = maintenance = 0.0
    latency_sum, latency_count = 0.0, 0
    worst = ComponentStatus.OPERATIONAL
    rank = {ComponentStatus.OPERATIONAL: 0, ComponentStatus.MAINTENANCE: 1, ComponentStatus.DEGRADED: 2,
            ComponentStatus.PARTIAL_OUTAGE: 3, ComponentStatus.MAJOR_OUTAGE: 4}
    for m in parts:
        checks = m.up + m.down + m.degraded + m.maintenance
        seconds = checks * m.interval_seconds
        scale = min(1.0, 86_400 / seconds)
        observed += seconds * scale
        down += m.down * m.interval_seconds * scale
        degraded += m.degraded * m.interval_seconds * scale
        maintenance += m.maintenance * m.interval_seconds * scale
        latency_sum += m.latency_sum
        latency_count += m.latency_count
        status = (m.down_status if m.down else ComponentStatus.DEGRADED if m.degraded
                  else ComponentStatus.MAINTENANCE if m.maintenance else ComponentStatus.OPERATIONAL)
        worst = max(worst, status, key=rank.__getitem__)
    n = len(parts)
    return DailyRow(component_id=component_id, day=day, observed_seconds=round(observed / n),
                    down_seconds=round(down / n), degraded_seconds=round(degraded / n),
                    maintenance_seconds=round(maintenance / n), worst_status=worst,
                    avg_latency_ms=latency_sum / latency_count if latency_count else None)

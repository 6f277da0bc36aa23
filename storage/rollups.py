"""Uptime rollups: monitoring data, written in bulk by the system rather than through a service (no actor,
no audit entry; nothing a person decided)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

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


async def write_daily(rows: Iterable[DailyRow]) -> int:
    """Insert the days, or replace the figures of days already written (a day is rolled up again as it goes
    on); returns how many rows were written."""
    objects = [DailyUptime(component_id=r.component_id, day=r.day, observed_seconds=r.observed_seconds,
                           down_seconds=r.down_seconds, degraded_seconds=r.degraded_seconds,
                           maintenance_seconds=r.maintenance_seconds, worst_status=r.worst_status,
                           avg_latency_ms=r.avg_latency_ms) for r in rows]
    if objects:
        await DailyUptime.bulk_create(objects, batch_size=BATCH_SIZE, on_conflict=["component_id", "day"],
                                      update_fields=_FIGURES)
    return len(objects)

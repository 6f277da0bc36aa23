"""Pure rules of the incident and maintenance lifecycles: what holds a component's status, which timestamps a
status change sets, and what a maintenance window is due to do at a given moment."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from app.enums import ComponentStatus, IncidentStatus, MaintenanceState
from app.status import worst


def held_status(holds: Iterable[ComponentStatus]) -> ComponentStatus:
    """The status a component shows given everything that holds it (open incidents, a maintenance in progress,
    a failing monitor): the worst of them, and OPERATIONAL once nothing holds it any more."""
    return worst(holds)


# The timestamp each incident status sets the first time the incident reaches it.
_REACHED = {IncidentStatus.IDENTIFIED: "identified_at", IncidentStatus.MONITORING: "monitoring_at",
            IncidentStatus.RESOLVED: "resolved_at"}


def status_times(new: IncidentStatus, at: datetime, current: dict[str, datetime | None]) -> dict[str, datetime | None]:
    """The incident's ``*_at`` fields after it moves to ``new`` at ``at``: a stage keeps the time it was first
    reached; reopening a resolved incident clears ``resolved_at`` (it is no longer resolved)."""
    times = dict(current)
    field = _REACHED.get(new)
    if field is not None and times.get(field) is None:
        times[field] = at
    if new != IncidentStatus.RESOLVED:
        times["resolved_at"] = None
    return times


class Due(StrEnum):
    REMIND = "remind"
    START = "start"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class Window:
    """What the maintenance timer needs to know of one maintenance."""

    id: int
    state: MaintenanceState
    scheduled_for: datetime
    scheduled_until: datetime
    remind_minutes: int = 0
    reminded: bool = False

    @property
    def remind_at(self) -> datetime | None:
        if self.reminded or self.remind_minutes <= 0 or self.state != MaintenanceState.SCHEDULED:
            return None
        return self.scheduled_for - timedelta(minutes=self.remind_minutes)


def due(window: Window, now: datetime) -> Due | None:
    """What the window is due to do at ``now``, if anything. A window whose end passed while nobody was watching
    (the server was down) completes, whether it ever started or not; one that should have started, starts. A
    reminder is only worth sending before the start."""
    if window.state == MaintenanceState.COMPLETED:
        return None
    if window.scheduled_until <= now:
        return Due.COMPLETE
    if window.state == MaintenanceState.SCHEDULED:
        if window.scheduled_for <= now:
            return Due.START
        if window.remind_at is not None and window.remind_at <= now:
            return Due.REMIND
    return None


def next_due_at(windows: Iterable[Window], now: datetime) -> datetime | None:
    """The earliest future moment at which one of ``windows`` has something to do."""
    moments: list[datetime] = []
    for w in windows:
        if w.state == MaintenanceState.COMPLETED:
            continue
        moments.append(w.scheduled_until)
        if w.state == MaintenanceState.SCHEDULED:
            moments.append(w.scheduled_for)
            if w.remind_at is not None:
                moments.append(w.remind_at)
    future = [m for m in moments if m > now]
    return min(future, default=None)

"""Pure status rules of CONTRACT.md: component → group → page indicator."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from app.enums import ComponentStatus, IncidentImpact

# Severity order for "worst of". MAINTENANCE sits just above OPERATIONAL: it wins only when nothing is broken.
_RANK = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.MAINTENANCE: 1,
    ComponentStatus.DEGRADED: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


def worst(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    """A group's status: the worst of its children; OPERATIONAL for an empty group."""
    return max(statuses, key=_RANK.__getitem__, default=ComponentStatus.OPERATIONAL)


@dataclass(frozen=True, slots=True)
class Indicator:
    indicator: str  # Statuspage: none, minor, major, critical, maintenance
    description: str


INDICATORS = {
    "none": Indicator("none", "All Systems Operational"),
    "minor": Indicator("minor", "Minor Service Outage"),
    "major": Indicator("major", "Partial System Outage"),
    "critical": Indicator("critical", "Major System Outage"),
    "maintenance": Indicator("maintenance", "Service Under Maintenance"),
}


def page_indicator(
    components: Iterable[ComponentStatus],
    open_incident_impacts: Iterable[IncidentImpact] = (),
    maintenance_in_progress: bool = False,
) -> Indicator:
    """The page's overall status as CONTRACT.md defines it."""
    statuses = set(components)
    impacts = set(open_incident_impacts)
    if ComponentStatus.MAJOR_OUTAGE in statuses or IncidentImpact.MAJOR in impacts:
        return INDICATORS["critical"]
    if ComponentStatus.PARTIAL_OUTAGE in statuses or IncidentImpact.PARTIAL in impacts:
        return INDICATORS["major"]
    if ComponentStatus.DEGRADED in statuses or impacts & {IncidentImpact.DEGRADED, IncidentImpact.MINOR}:
        return INDICATORS["minor"]
    if maintenance_in_progress or ComponentStatus.MAINTENANCE in statuses:
        return INDICATORS["maintenance"]
    return INDICATORS["none"]

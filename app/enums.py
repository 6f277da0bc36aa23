"""The vocabularies of CONTRACT.md, with their Statuspage-compatible spellings."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ComponentStatus(StrEnum):
    OPERATIONAL = "OPERATIONAL"
    DEGRADED = "DEGRADED"
    PARTIAL_OUTAGE = "PARTIAL_OUTAGE"
    MAJOR_OUTAGE = "MAJOR_OUTAGE"
    MAINTENANCE = "MAINTENANCE"

    @property
    def statuspage(self) -> str:
        return _COMPONENT_SP[self]

    @property
    def label(self) -> str:
        return _COMPONENT_LABEL[self]


_COMPONENT_SP = {
    ComponentStatus.OPERATIONAL: "operational",
    ComponentStatus.DEGRADED: "degraded_performance",
    ComponentStatus.PARTIAL_OUTAGE: "partial_outage",
    ComponentStatus.MAJOR_OUTAGE: "major_outage",
    ComponentStatus.MAINTENANCE: "under_maintenance",
}
_COMPONENT_LABEL = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED: "Degraded performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial outage",
    ComponentStatus.MAJOR_OUTAGE: "Major outage",
    ComponentStatus.MAINTENANCE: "Under maintenance",
}


class IncidentStatus(StrEnum):
    INVESTIGATING = "INVESTIGATING"
    IDENTIFIED = "IDENTIFIED"
    MONITORING = "MONITORING"
    RESOLVED = "RESOLVED"

    @property
    def statuspage(self) -> str:
        return self.value.lower()


class IncidentImpact(StrEnum):
    MAJOR = "MAJOR"
    PARTIAL = "PARTIAL"
    DEGRADED = "DEGRADED"
    MINOR = "MINOR"

    @property
    def statuspage(self) -> str:
        return {"MAJOR": "critical", "PARTIAL": "major", "DEGRADED": "minor", "MINOR": "minor"}[self.value]


class MaintenanceState(StrEnum):
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"

    @property
    def statuspage(self) -> str:
        return self.value.lower()


class Role(IntEnum):
    READ_ONLY = 10
    MEMBER = 20
    ADMIN = 50
    OWNER = 100


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

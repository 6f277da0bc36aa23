"""ORM models, one module per aggregate. Only ``app.services`` writes them."""

from storage.models.audit import AuditEntryRow, AuditHead
from storage.models.incidents import Incident, IncidentComponent, IncidentTemplate, IncidentUpdate
from storage.models.maintenance import Maintenance, MaintenanceComponent, MaintenanceUpdate
from storage.models.meta import SchemaVersion
from storage.models.metrics import Metric, MetricPoint
from storage.models.monitors import Monitor, MonitorEvent
from storage.models.notify import Channel, Delivery, NoticeMark, OutboxEvent, Subscriber
from storage.models.pages import Component, ComponentGroup, Placement, StatusPage
from storage.models.uptime import DailyUptime
from storage.models.users import ApiKey, InstallSetting, LoginThrottle, Team, User

MODEL_MODULES = [
    "storage.models.audit",
    "storage.models.incidents",
    "storage.models.maintenance",
    "storage.models.meta",
    "storage.models.metrics",
    "storage.models.monitors",
    "storage.models.notify",
    "storage.models.pages",
    "storage.models.uptime",
    "storage.models.users",
]

__all__ = [
    "MODEL_MODULES",
    "ApiKey",
    "AuditEntryRow",
    "AuditHead",
    "Channel",
    "Component",
    "ComponentGroup",
    "DailyUptime",
    "Delivery",
    "Incident",
    "IncidentComponent",
    "IncidentTemplate",
    "IncidentUpdate",
    "InstallSetting",
    "LoginThrottle",
    "Maintenance",
    "MaintenanceComponent",
    "MaintenanceUpdate",
    "Metric",
    "MetricPoint",
    "Monitor",
    "MonitorEvent",
    "NoticeMark",
    "OutboxEvent",
    "Placement",
    "SchemaVersion",
    "StatusPage",
    "Subscriber",
    "Team",
    "User",
]

from tortoise import fields
from tortoise.models import Model

from app.enums import ComponentStatus


class Monitor(Model):
    """A check run on a schedule, and what it last found. The check's own settings are in ``config`` (validated
    by the kind's schema in ``monitors/``); the rest is the engine's."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=40)
    config = fields.JSONField(default=dict)
    component = fields.ForeignKeyField("models.Component", related_name="monitors", null=True,
                                       on_delete=fields.SET_NULL)
    interval_seconds = fields.IntField(default=60)
    timeout_seconds = fields.FloatField(default=10.0)
    retries = fields.IntField(default=0)  # failed checks retried before the monitor is DOWN
    retry_interval_seconds = fields.IntField(default=20)
    latency_threshold_ms = fields.IntField(null=True)  # slower UP answers count as DEGRADED
    down_status = fields.CharEnumField(ComponentStatus, max_length=20, default=ComponentStatus.MAJOR_OUTAGE)
    paused = fields.BooleanField(default=False)
    auto_incident = fields.BooleanField(default=False)
    auto_incident_after = fields.IntField(default=3)  # consecutive failed checks
    incident_template = fields.ForeignKeyField("models.IncidentTemplate", related_name="monitors", null=True,
                                               on_delete=fields.SET_NULL)
    flap_changes = fields.IntField(default=5)  # more state changes than this ...
    flap_minutes = fields.IntField(default=10)  # ... within this many minutes is flapping
    push_token = fields.CharField(max_length=64, null=True, unique=True)

    # What the engine found (kept so that a restart resumes where it was)
    state = fields.CharField(max_length=12, default="pending")  # pending, up, degraded, down
    state_since = fields.DatetimeField(null=True)
    last_check_at = fields.DatetimeField(null=True)
    last_latency_ms = fields.FloatField(null=True)
    last_message = fields.TextField(default="")
    last_details = fields.JSONField(default=dict)
    consecutive_failures = fields.IntField(default=0)
    held_status = fields.CharEnumField(ComponentStatus, max_length=20, null=True)  # what it holds its component at
    flapping = fields.BooleanField(default=False)
    changes_at = fields.JSONField(default=list)  # epoch seconds of recent state changes, for flap detection
    auto_incident_ids = fields.JSONField(default=list)  # the open incidents this monitor opened

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "monitors"


class MonitorEvent(Model):
    """A change a person would want to see in the monitor's history: up ↔ down, flapping, paused."""

    id = fields.IntField(primary_key=True)
    monitor = fields.ForeignKeyField("models.Monitor", related_name="events", on_delete=fields.CASCADE)
    at = fields.DatetimeField()
    old_state = fields.CharField(max_length=12)
    new_state = fields.CharField(max_length=12)
    message = fields.TextField(default="")

    class Meta:
        table = "monitor_events"
        indexes = (("monitor", "at"),)

from tortoise import fields
from tortoise.models import Model

from app.enums import ComponentStatus


class DailyUptime(Model):
    """One component's day, rolled up by monitoring (migration 3). The public uptime bars read only this."""

    id = fields.IntField(primary_key=True)
    component = fields.ForeignKeyField("models.Component", related_name="daily_uptime", on_delete=fields.CASCADE)
    day = fields.DateField()  # UTC day
    # seconds of the day that were observed, and of those, seconds down (MAJOR_OUTAGE) and degraded
    observed_seconds = fields.IntField(default=0)
    down_seconds = fields.IntField(default=0)
    degraded_seconds = fields.IntField(default=0)
    # seconds in scheduled maintenance: excluded from uptime
    maintenance_seconds = fields.IntField(default=0)
    worst_status = fields.CharEnumField(ComponentStatus, max_length=20, default=ComponentStatus.OPERATIONAL)
    avg_latency_ms = fields.FloatField(null=True)

    class Meta:
        table = "uptime_daily"
        unique_together = (("component", "day"),)

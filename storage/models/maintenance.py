from tortoise import fields
from tortoise.models import Model

from app.enums import MaintenanceState


class Maintenance(Model):
    id = fields.IntField(primary_key=True)
    page = fields.ForeignKeyField("models.StatusPage", related_name="maintenances", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=300)
    body = fields.TextField(default="")
    state = fields.CharEnumField(MaintenanceState, max_length=20, default=MaintenanceState.SCHEDULED)
    time_zone = fields.CharField(max_length=64, default="UTC")
    scheduled_for = fields.DatetimeField()
    scheduled_until = fields.DatetimeField()
    started_at = fields.DatetimeField(null=True)
    completed_at = fields.DatetimeField(null=True)
    backfilled = fields.BooleanField(default=False)
    # {"kind": "weekly", "days": [0..6], "time": "HH:MM"} or {"kind": "cron", "expression": "m h dom mon dow"},
    # read in ``time_zone``; each occurrence is its own row, the next one created when one completes
    recurrence = fields.JSONField(null=True)
    series_id = fields.IntField(null=True)  # the first occurrence's id, shared by every occurrence
    remind_minutes = fields.IntField(default=60)  # the reminder event fires this long before the start
    reminded_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "maintenances"


class MaintenanceComponent(Model):
    id = fields.IntField(primary_key=True)
    maintenance = fields.ForeignKeyField("models.Maintenance", related_name="affected", on_delete=fields.CASCADE)
    component = fields.ForeignKeyField("models.Component", related_name="maintenances", on_delete=fields.CASCADE)

    class Meta:
        table = "maintenance_components"
        unique_together = (("maintenance", "component"),)


class MaintenanceUpdate(Model):
    """A note on the maintenance's timeline, with the state it was in when posted."""

    id = fields.IntField(primary_key=True)
    maintenance = fields.ForeignKeyField("models.Maintenance", related_name="updates", on_delete=fields.CASCADE)
    state = fields.CharEnumField(MaintenanceState, max_length=20)
    body = fields.TextField(default="")
    author = fields.ForeignKeyField("models.User", related_name="maintenance_updates", null=True,
                                    on_delete=fields.SET_NULL)
    display_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "maintenance_updates"

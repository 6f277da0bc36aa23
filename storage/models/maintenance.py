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

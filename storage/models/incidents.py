from tortoise import fields
from tortoise.models import Model

from app.enums import ComponentStatus, IncidentImpact, IncidentStatus


class Incident(Model):
    id = fields.IntField(primary_key=True)
    page = fields.ForeignKeyField("models.StatusPage", related_name="incidents", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=300)
    status = fields.CharEnumField(IncidentStatus, max_length=20, default=IncidentStatus.INVESTIGATING)
    impact = fields.CharEnumField(IncidentImpact, max_length=20, default=IncidentImpact.MINOR)
    backfilled = fields.BooleanField(default=False)
    pinned = fields.BooleanField(default=False)
    started_at = fields.DatetimeField()
    identified_at = fields.DatetimeField(null=True)
    monitoring_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    postmortem_body = fields.TextField(default="")
    postmortem_published_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "incidents"


class IncidentUpdate(Model):
    id = fields.IntField(primary_key=True)
    incident = fields.ForeignKeyField("models.Incident", related_name="updates", on_delete=fields.CASCADE)
    status = fields.CharEnumField(IncidentStatus, max_length=20)
    body = fields.TextField(default="")
    author = fields.ForeignKeyField("models.User", related_name="incident_updates", null=True,
                                    on_delete=fields.SET_NULL)
    # {component_id: {"old": STATUS, "new": STATUS}} as the update changed them
    affected_components = fields.JSONField(default=dict)
    display_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "incident_updates"


class IncidentComponent(Model):
    """A component an incident affects and the status it holds it at while the incident is open."""

    id = fields.IntField(primary_key=True)
    incident = fields.ForeignKeyField("models.Incident", related_name="affected", on_delete=fields.CASCADE)
    component = fields.ForeignKeyField("models.Component", related_name="incidents", on_delete=fields.CASCADE)
    status = fields.CharEnumField(ComponentStatus, max_length=20)

    class Meta:
        table = "incident_components"
        unique_together = (("incident", "component"),)


class IncidentTemplate(Model):
    """A prepared incident: picking it prefills the composer."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100, unique=True)
    title = fields.CharField(max_length=300)
    body = fields.TextField(default="")
    impact = fields.CharEnumField(IncidentImpact, max_length=20, default=IncidentImpact.MINOR)
    components = fields.JSONField(default=dict)  # {component id (str): STATUS}
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "incident_templates"

from tortoise import fields
from tortoise.models import Model

from app.enums import ComponentStatus


class StatusPage(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=64, unique=True)
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    public = fields.BooleanField(default=True)
    active = fields.BooleanField(default=True)
    is_default = fields.BooleanField(default=False)
    custom_domain = fields.CharField(max_length=253, null=True, unique=True)
    time_zone = fields.CharField(max_length=64, default="UTC")
    theme = fields.CharField(max_length=16, default="auto")
    brand_color = fields.CharField(max_length=16, default="#2563eb")
    footer_text = fields.TextField(default="")
    # migration 2: branding files and display settings
    header_color = fields.CharField(max_length=16, null=True)
    logo_file = fields.CharField(max_length=100, null=True)  # a name inside the data folder's uploads/
    favicon_file = fields.CharField(max_length=100, null=True)
    uptime_days = fields.IntField(default=90)  # 30, 60 or 90 bars
    show_response_times = fields.BooleanField(default=True)
    incident_history_days = fields.IntField(default=14)
    team = fields.ForeignKeyField("models.Team", related_name="pages", null=True, on_delete=fields.SET_NULL)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "status_pages"


class ComponentGroup(Model):
    """A group on one page; ``parent`` nests groups."""

    id = fields.IntField(primary_key=True)
    page: fields.ForeignKeyRelation[StatusPage] = fields.ForeignKeyField(
        "models.StatusPage", related_name="groups", on_delete=fields.CASCADE
    )
    parent = fields.ForeignKeyField(
        "models.ComponentGroup", related_name="children", null=True, on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "component_groups"


class Component(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    link = fields.CharField(max_length=500, default="")
    status = fields.CharEnumField(ComponentStatus, max_length=20, default=ComponentStatus.OPERATIONAL)
    only_show_if_degraded = fields.BooleanField(default=False)
    show_uptime = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "components"


class Placement(Model):
    """A component shown on a page, optionally inside one of that page's groups."""

    id = fields.IntField(primary_key=True)
    page: fields.ForeignKeyRelation[StatusPage] = fields.ForeignKeyField(
        "models.StatusPage", related_name="placements", on_delete=fields.CASCADE
    )
    component: fields.ForeignKeyRelation[Component] = fields.ForeignKeyField(
        "models.Component", related_name="placements", on_delete=fields.CASCADE
    )
    group = fields.ForeignKeyField(
        "models.ComponentGroup", related_name="placements", null=True, on_delete=fields.SET_NULL
    )
    position = fields.IntField(default=0)

    class Meta:
        table = "placements"
        unique_together = (("page", "component"),)

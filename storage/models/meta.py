from tortoise import fields
from tortoise.models import Model


class SchemaVersion(Model):
    """One row per applied migration (see storage/migrations and docs/database.md)."""

    version = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    applied_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "schema_version"

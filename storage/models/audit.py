from tortoise import fields
from tortoise.models import Model


class AuditEntryRow(Model):
    """One audit entry; ``hash = sha256(prev_hash + canonical JSON)`` (see app/audit.py)."""

    id = fields.IntField(primary_key=True)
    seq = fields.IntField(unique=True)
    at = fields.CharField(max_length=40)  # ISO 8601 UTC kept as text: hashed exactly as written
    actor_type = fields.CharField(max_length=20)
    actor_id = fields.CharField(max_length=64, null=True)
    actor_label = fields.CharField(max_length=254, default="")
    action = fields.CharField(max_length=100)
    entity_type = fields.CharField(max_length=50)
    entity_id = fields.CharField(max_length=64, null=True)
    changes = fields.JSONField(default=dict)
    ip = fields.CharField(max_length=64, null=True)
    user_agent = fields.CharField(max_length=500, null=True)
    severity = fields.CharField(max_length=10, default="info")
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_entries"


class AuditHead(Model):
    """The newest entry's seq and hash, written in the same transaction: makes a deleted tail detectable."""

    id = fields.IntField(primary_key=True)
    seq = fields.IntField()
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_head"

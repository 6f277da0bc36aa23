from tortoise import fields
from tortoise.models import Model


class Channel(Model):
    """Where notifications go: a Discord webhook, a custom webhook, e-mail, … with the events it wants."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=20)  # webhook, discord (email, push, apprise to come)
    config = fields.JSONField(default=dict)
    events = fields.JSONField(default=list)  # event names (CONTRACT.md)
    page_ids = fields.JSONField(default=list)  # only events of these pages; empty: every page
    enabled = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "channels"


class OutboxEvent(Model):
    """A notifiable event, written in the same transaction as the change it reports, so that a crash between the
    commit and the sending loses nothing. The dispatcher turns it into deliveries and marks it dispatched."""

    id = fields.BigIntField(primary_key=True)
    name = fields.CharField(max_length=50)
    data = fields.JSONField(default=dict)
    page_ids = fields.JSONField(default=list)
    at = fields.DatetimeField()
    dispatched_at = fields.DatetimeField(null=True, db_index=True)

    class Meta:
        table = "outbox_events"


class Delivery(Model):
    """One notification to one channel: sent with retries and backoff until confirmed, or dead."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.ForeignKeyField("models.Channel", related_name="deliveries", on_delete=fields.CASCADE)
    event = fields.CharField(max_length=50)
    page_id = fields.IntField(null=True)
    payload = fields.JSONField(default=dict)
    status = fields.CharField(max_length=10, default="pending", db_index=True)  # pending, sent, failed, dead
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    last_error = fields.TextField(default="")
    # (outbox event, channel, page): the dispatcher may run twice after a crash, the delivery exists once
    idempotency_key = fields.CharField(max_length=100, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "deliveries"

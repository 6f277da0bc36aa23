from tortoise import fields
from tortoise.models import Model


class Channel(Model):
    """Where notifications go: a Discord webhook, a custom webhook, e-mail, … with the events it wants."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharField(max_length=20)  # webhook, discord, email, apprise
    config = fields.JSONField(default=dict)
    events = fields.JSONField(default=list)  # event names (CONTRACT.md)
    page_ids = fields.JSONField(default=list)  # only events of these pages; empty: every page
    component_ids = fields.JSONField(default=list)  # only events touching these components; empty: all
    # rules beyond the filters: uptime_threshold (%), uptime_window ("24h"/"7d"), flap_minutes (at most one
    # status-change notice per component in that many minutes)
    options = fields.JSONField(default=dict)
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


class Subscriber(Model):
    """A member of the public who asked for a page's news: by e-mail (after confirming it), at a webhook URL, or
    in a browser (Web Push). The secret links in their messages are derived from ``nonce`` (app/notify/tokens.py):
    changing it revokes every link sent before."""

    id = fields.IntField(primary_key=True)
    page = fields.ForeignKeyField("models.StatusPage", related_name="subscribers", on_delete=fields.CASCADE)
    kind = fields.CharField(max_length=10)  # email, webhook, push
    address = fields.CharField(max_length=1000)  # the e-mail address, webhook URL or push endpoint
    push_keys = fields.JSONField(null=True)  # {p256dh, auth} of a browser subscription
    component_ids = fields.JSONField(default=list)  # only news touching these components; empty: the whole page
    # a signed-in user who subscribed to a private page: deliveries stop when they lose access
    user = fields.ForeignKeyField("models.User", related_name="subscriptions", null=True,
                                  on_delete=fields.CASCADE)
    nonce = fields.CharField(max_length=32)
    confirmed_at = fields.DatetimeField(null=True)
    confirmation_sent_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "subscribers"
        unique_together = (("page", "kind", "address"),)


class Delivery(Model):
    """One notification to one channel or subscriber: sent with retries and backoff until confirmed, or dead."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.ForeignKeyField("models.Channel", related_name="deliveries", null=True,
                                     on_delete=fields.CASCADE)
    subscriber = fields.ForeignKeyField("models.Subscriber", related_name="deliveries", null=True,
                                        on_delete=fields.CASCADE)
    event = fields.CharField(max_length=50)
    page_id = fields.IntField(null=True)
    subject = fields.CharField(max_length=40, default="")  # "incident:7", "component:3": what it is about
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


class NoticeMark(Model):
    """What the scheduled notices remember across restarts: an uptime breach already announced
    (``uptime:{component}:{window}:{threshold}``), a report already sent (``report:{period}:{page}:{start}``)."""

    key = fields.CharField(max_length=200, primary_key=True)
    value = fields.JSONField(null=True)
    at = fields.DatetimeField()

    class Meta:
        table = "notice_marks"

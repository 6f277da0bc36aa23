from tortoise import fields
from tortoise.models import Model


class Metric(Model):
    """A custom metric of a page (Statuspage's and Cachet's "system metrics"): numbers a team posts — API response
    time, queue depth, error rate — optionally charted on the public page."""

    id = fields.IntField(primary_key=True)
    page = fields.ForeignKeyField("models.StatusPage", related_name="metrics", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=200)
    suffix = fields.CharField(max_length=20, default="")  # the unit shown after values: "ms", "%", "req/s"
    description = fields.TextField(default="")
    decimals = fields.IntField(default=0)
    aggregation = fields.CharField(max_length=8, default="avg")  # how a chart's bucket combines points: avg, sum, max
    display = fields.BooleanField(default=True)  # charted on the public page
    position = fields.IntField(default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "metrics"


class MetricPoint(Model):
    id = fields.BigIntField(primary_key=True)
    metric = fields.ForeignKeyField("models.Metric", related_name="points", on_delete=fields.CASCADE)
    at = fields.DatetimeField()
    value = fields.FloatField()

    class Meta:
        table = "metric_points"
        indexes = (("metric_id", "at"),)

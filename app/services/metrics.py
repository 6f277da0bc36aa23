"""Custom metrics: defining them on a page (MEMBER and up, audited), posting their data points (scripts with an API
key), reading them back in buckets for charts. Points are kept ``KEEP_DAYS`` days, the longest chart range.

Posting points is data, not administration: it is checked (``metric.post``) but not written to the audit trail,
which would otherwise grow by a row a minute per metric."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

from app import events, metric_chart
from app.auth import Actor, scope
from app.services.errors import Invalid, NotFound
from app.services.pages import page_field
from app.services.transaction import authorize, change, diff
from app.services.validation import text_problem, to_moment
from storage.models import Metric, MetricPoint

EDITABLE = ("name", "suffix", "description", "decimals", "aggregation", "display", "position")
KEEP_DAYS = 31
MAX_POINTS_PER_CALL = 1000
FUTURE_SLACK = timedelta(minutes=5)  # clocks differ a little; a point from further ahead is a mistake


def _fields(m: Metric) -> dict[str, Any]:
    return {name: getattr(m, name) for name in EDITABLE}


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    if "name" in values:
        clean["name"] = str(values["name"] or "").strip()
        if problem := text_problem(clean["name"], "name"):
            errors["name"] = problem
    if "suffix" in values:
        clean["suffix"] = str(values["suffix"] or "").strip()
        if len(clean["suffix"]) > 20:
            errors["suffix"] = "At most 20 characters, e.g. ms, %, req/s."
    if "description" in values:
        clean["description"] = str(values["description"] or "")
        if len(clean["description"]) > 1000:
            errors["description"] = "At most 1000 characters."
    if "decimals" in values:
        decimals = values["decimals"]
        if not isinstance(decimals, int) or isinstance(decimals, bool) or not 0 <= decimals <= 4:
            errors["decimals"] = "A whole number from 0 to 4."
        clean["decimals"] = decimals
    if "aggregation" in values:
        clean["aggregation"] = values["aggregation"]
        if clean["aggregation"] not in metric_chart.AGGREGATIONS:
            errors["aggregation"] = f"Use one of {', '.join(metric_chart.AGGREGATIONS)}."
    for flag in ("display",):
        if flag in values:
            if not isinstance(values[flag], bool):
                errors[flag] = "Must be true or false."
            clean[flag] = values[flag]
    if "position" in values:
        if not isinstance(values["position"], int) or isinstance(values["position"], bool):
            errors["position"] = "A whole number."
        clean["position"] = values["position"]
    if errors:
        raise Invalid(errors)
    return clean


async def create_metric(actor: Actor, *, page: Any, name: str, suffix: str = "", description: str = "",
                        decimals: int = 0, aggregation: str = "avg", display: bool = True) -> Metric:
    authorize(actor, "metric.manage")
    values = _clean({"name": name, "suffix": suffix, "description": description, "decimals": decimals,
                     "aggregation": aggregation, "display": display})
    async with change(actor, "metric.manage") as ch:
        target = await page_field(ch.conn, page, actor)
        position = await Metric.filter(page_id=target.id).using_db(ch.conn).count()
        metric = await Metric.create(using_db=ch.conn, page_id=target.id, position=position, **values)
        await ch.audit("metric.create", "metric", metric.id, diff({}, {**values, "page_id": target.id}))
        ch.emit(events.METRIC_CHANGED, {"metric_id": metric.id}, {target.id})
    return metric


async def get_metric(metric_id: int, *, actor: Actor | None = None, conn: Any = None) -> Metric:
    metric = await Metric.get_or_none(id=metric_id).using_db(conn)
    if metric is None or not await scope.page_in_scope(actor, metric.page_id, conn):  # type: ignore[attr-defined]
        raise NotFound(f"No metric with id {metric_id}.")
    return metric


async def list_metrics(actor: Actor | None = None, page_id: int | None = None) -> list[Metric]:
    query = Metric.all()
    visible = await scope.visible_page_ids(actor)
    if visible is not None:
        query = query.filter(page_id__in=visible)
    if page_id is not None:
        query = query.filter(page_id=page_id)
    return await query.order_by("page_id", "position", "id")


async def update_metric(actor: Actor, metric_id: int, **values: Any) -> Metric:
    authorize(actor, "metric.manage")
    unknown = sorted(set(values) - set(EDITABLE))
    if unknown:
        raise Invalid({unknown[0]: f"'{unknown[0]}' cannot be changed; change {', '.join(EDITABLE)}."})
    clean = _clean(values)
    async with change(actor, "metric.manage") as ch:
        metric = await get_metric(metric_id, actor=actor, conn=ch.conn)
        changes = diff(_fields(metric), {**_fields(metric), **clean})
        if changes:
            await Metric.filter(id=metric_id).using_db(ch.conn).update(**clean, updated_at=datetime.now(UTC))
            await ch.audit("metric.update", "metric", metric_id, changes)
            ch.emit(events.METRIC_CHANGED, {"metric_id": metric_id}, {metric.page_id})  # type: ignore[attr-defined]
    return await Metric.get(id=metric_id)


async def delete_metric(actor: Actor, metric_id: int) -> None:
    """Delete the metric with all its points."""
    async with change(actor, "metric.delete") as ch:
        metric = await get_metric(metric_id, actor=actor, conn=ch.conn)
        await Metric.filter(id=metric_id).using_db(ch.conn).delete()
        await ch.audit("metric.delete", "metric", metric_id, diff(_fields(metric), dict.fromkeys(EDITABLE)),
                       severity="warning")
        ch.emit(events.METRIC_CHANGED, {"metric_id": metric_id}, {metric.page_id})  # type: ignore[attr-defined]


def _point(raw: Any, index: int, now: datetime) -> tuple[datetime, float]:
    where = f"points.{index}"
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        raw = {"value": raw}
    if not isinstance(raw, dict):
        raise Invalid({where: "Give each point as {\"value\": number, \"at\": time (optional)}."})
    value = raw.get("value")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise Invalid({f"{where}.value": "A finite number."})
    stamp = raw.get("at")
    if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
        at = datetime.fromtimestamp(stamp, UTC) if math.isfinite(stamp) and 0 <= stamp < 2**33 else None
    else:
        at = now if stamp in (None, "") else to_moment(stamp)
    if at is None:
        raise Invalid({f"{where}.at": "An ISO 8601 time with its offset, e.g. 2026-11-23T12:00:00Z, or a Unix "
                                      "timestamp."})
    if at > now + FUTURE_SLACK:
        raise Invalid({f"{where}.at": "This time is in the future."})
    if at < now - timedelta(days=KEEP_DAYS):
        raise Invalid({f"{where}.at": f"Points older than {KEEP_DAYS} days are not kept."})
    return at, float(value)


async def add_points(actor: Actor, metric_id: int, points: list[Any], now: datetime | None = None) -> int:
    """Record points (each a number, or ``{value, at?}``; no time: now); all or none. Returns how many."""
    authorize(actor, "metric.post")
    now = now or datetime.now(UTC)
    if not isinstance(points, list) or not points:
        raise Invalid({"points": "Give at least one point."})
    if len(points) > MAX_POINTS_PER_CALL:
        raise Invalid({"points": f"At most {MAX_POINTS_PER_CALL} points per call."})
    parsed = [_point(raw, i, now) for i, raw in enumerate(points)]
    metric = await get_metric(metric_id, actor=actor)
    await MetricPoint.bulk_create([MetricPoint(metric_id=metric.id, at=at, value=value) for at, value in parsed])
    return len(parsed)


async def chart(metric: Metric, range_name: str = "day", now: datetime | None = None
                ) -> tuple[list[metric_chart.Bucket], datetime, datetime]:
    """The metric's points over the range, in the range's buckets: (buckets, since, until)."""
    if range_name not in metric_chart.RANGES:
        raise Invalid({"range": f"Use one of {', '.join(metric_chart.RANGES)}."})
    now = now or datetime.now(UTC)
    length, step = metric_chart.RANGES[range_name]
    since = now - length
    rows = await MetricPoint.filter(metric_id=metric.id, at__gte=since).values_list("at", "value")
    return metric_chart.bucketed(rows, since=since, step=step, how=metric.aggregation), since, now


async def prune_points(now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    return await MetricPoint.filter(at__lt=now - timedelta(days=KEEP_DAYS)).delete()

"""Custom metrics: the management routes under /api/v1/metrics (define, edit, delete, post points, read them back)
and the public chart a page shows for each metric it displays, ``/status/{slug}/metrics/{id}.svg``."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app import metric_chart
from app.api.auth import api_actor
from app.api.pagination import Paging
from app.api.public import _not_found, _visible
from app.api.types import RowId
from app.auth import Actor
from app.services import metrics
from app.services.errors import Invalid
from storage.models import Metric


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    from app.api.management import _problems as problems

    return problems(*codes)


router = APIRouter(prefix="/api/v1", responses=_problems(401))
public_router = APIRouter()
Key = Annotated[Actor, Depends(api_actor)]
Timestamp = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]
RangeName = Annotated[str, Query(description="day (5-minute buckets), week (hourly) or month (6-hourly)")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricCreate(_Body):
    page: str | int = Field(description="the page's id or slug")
    name: str
    suffix: str = Field("", description='unit shown after values, e.g. "ms", "%"')
    description: str = ""
    decimals: int = Field(0, description="0 to 4")
    aggregation: str = Field("avg", description="how a chart bucket combines points: avg, sum or max")
    display: bool = Field(True, description="chart it on the public page")


class MetricChange(_Body):
    name: str = None  # type: ignore[assignment]
    suffix: str = None  # type: ignore[assignment]
    description: str = None  # type: ignore[assignment]
    decimals: int = None  # type: ignore[assignment]
    aggregation: str = None  # type: ignore[assignment]
    display: bool = None  # type: ignore[assignment]
    position: int = None  # type: ignore[assignment]


class PointIn(_Body):
    value: float
    at: str | float | None = Field(None, description="ISO 8601 with offset or a Unix timestamp; default now")


class PointsIn(_Body):
    points: list[PointIn | float] = Field(description="numbers, or {value, at}; at most 1000 per call")


class MetricOut(BaseModel):
    id: str
    page_id: str
    name: str
    suffix: str
    description: str
    decimals: int
    aggregation: str
    display: bool
    position: int
    created_at: Timestamp
    updated_at: Timestamp


class PointsAdded(BaseModel):
    added: int


class BucketOut(BaseModel):
    start: Timestamp
    value: float


class SeriesOut(BaseModel):
    metric_id: str
    range: str
    since: Timestamp
    until: Timestamp
    points: list[BucketOut]


def _out(m: Metric) -> MetricOut:
    return MetricOut(id=str(m.id), page_id=str(m.page_id), name=m.name, suffix=m.suffix,  # type: ignore[attr-defined]
                     description=m.description, decimals=m.decimals, aggregation=m.aggregation, display=m.display,
                     position=m.position, created_at=m.created_at.isoformat(), updated_at=m.updated_at.isoformat())


@router.get("/metrics", tags=["metrics"], summary="List custom metrics", responses=_problems(404))
async def list_metrics(actor: Key, paging: Paging,
                       page: Annotated[str | None, Query(description="id or slug")] = None) -> list[MetricOut]:
    from app.services import pages

    page_id = None if page is None else (await pages.find_page(page, actor=actor)).id
    rows = await metrics.list_metrics(actor, page_id)
    return [_out(m) for m in paging.apply(rows, key=lambda m: (m.page_id, m.position, m.id))]


@router.post("/metrics", status_code=201, tags=["metrics"], summary="Define a custom metric",
             responses=_problems(403, 422))
async def create_metric(body: MetricCreate, actor: Key, response: Response) -> MetricOut:
    metric = await metrics.create_metric(actor, **body.model_dump())
    response.headers["Location"] = f"/api/v1/metrics/{metric.id}"
    return _out(metric)


@router.get("/metrics/{metric_id}", tags=["metrics"], summary="One custom metric", responses=_problems(404))
async def get_metric(metric_id: RowId, actor: Key) -> MetricOut:
    return _out(await metrics.get_metric(metric_id, actor=actor))


@router.patch("/metrics/{metric_id}", tags=["metrics"], summary="Change a custom metric",
              responses=_problems(403, 404, 422))
async def update_metric(metric_id: RowId, body: MetricChange, actor: Key) -> MetricOut:
    return _out(await metrics.update_metric(actor, metric_id, **body.model_dump(exclude_unset=True)))


@router.delete("/metrics/{metric_id}", status_code=204, tags=["metrics"], summary="Delete a metric and its data",
               responses=_problems(403, 404))
async def delete_metric(metric_id: RowId, actor: Key) -> Response:
    await metrics.delete_metric(actor, metric_id)
    return Response(status_code=204)


@router.post("/metrics/{metric_id}/points", status_code=201, tags=["metrics"], summary="Post data points",
             responses=_problems(403, 404, 422))
async def add_points(metric_id: RowId, body: PointsIn, actor: Key) -> PointsAdded:
    raw = [p if isinstance(p, float) else p.model_dump(exclude_none=True) for p in body.points]
    return PointsAdded(added=await metrics.add_points(actor, metric_id, raw))


@router.get("/metrics/{metric_id}/points", tags=["metrics"], summary="The metric's points, in buckets",
            responses=_problems(404, 422))
async def get_points(metric_id: RowId, actor: Key, range: RangeName = "day") -> SeriesOut:  # noqa: A002
    metric = await metrics.get_metric(metric_id, actor=actor)
    buckets, since, until = await metrics.chart(metric, range)
    return SeriesOut(metric_id=str(metric.id), range=range, since=since.isoformat(), until=until.isoformat(),
                     points=[BucketOut(start=b.start.isoformat(), value=b.value) for b in buckets])


# --- the public chart ------------------------------------------------------------------------------------------

CHART_SECONDS = 60.0  # a chart is drawn at most once a minute, however many visitors look
# drawn at the size it is shown, so that its text stays readable on a phone (an <img> scales its text with it)
WIDE, NARROW = 640, 360
_charts: dict[tuple[int, str, int], tuple[float, bytes]] = {}


@public_router.get("/status/{slug}/metrics/{metric_id}.svg", include_in_schema=False)
async def chart(request: Request, slug: str, metric_id: int, range: str = "day",  # noqa: A002
                w: int = WIDE) -> Response:
    snapshot = _visible(slug)
    view = next((m for m in snapshot.metrics if m.id == metric_id), None) if snapshot else None
    if snapshot is None or view is None:
        return _not_found()
    if range not in metric_chart.RANGES:
        return Response(f"range must be one of {', '.join(metric_chart.RANGES)}", status_code=400,
                        media_type="text/plain")
    if w not in (WIDE, NARROW):
        return Response(f"w must be {WIDE} or {NARROW}", status_code=400, media_type="text/plain")
    key = (metric_id, range, w)
    cached = _charts.get(key)
    if cached is None or time.monotonic() - cached[0] > CHART_SECONDS:
        metric = await Metric.get_or_none(id=metric_id)
        if metric is None:
            return _not_found()
        try:
            buckets, since, until = await metrics.chart(metric, range)
        except Invalid:
            return _not_found()
        body = metric_chart.chart_svg(buckets, title=view.name, since=since, until=until, decimals=view.decimals,
                                      suffix=view.suffix, width=w, height=140 if w == WIDE else 120).encode()
        cached = _charts[key] = (time.monotonic(), body)
        if len(_charts) > 10_000:
            _charts.clear()
    return Response(cached[1], media_type="image/svg+xml", headers={
        "Cache-Control": f"public, max-age={int(CHART_SECONDS)}", "X-Content-Type-Options": "nosniff"})

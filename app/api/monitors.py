"""Management API for monitors (/api/v1/monitors, CONTRACT.md) and the push URL of push monitors.

Adapters only, as the rest of /api/v1: JSON → ``app.services.monitoring`` (role check, write, audit, events, the
engine told) and rows → JSON. A monitor whose component is on pages outside the key's teams answers 404.
Secrets in a monitor's config come back masked; sending the mask back on a PATCH keeps the stored secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import api_actor
from app.api.pagination import Paging
from app.api.types import RowId
from app.auth import Actor
from app.services import monitoring
from app.services.monitor_engine import engine
from app.services.validation import MAX_ROW_ID
from monitors.base import CheckResult
from storage.models import Monitor


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    from app.api.management import _problems as problems

    return problems(*codes)


router = APIRouter(prefix="/api/v1", responses=_problems(401))
push_router = APIRouter()
Key = Annotated[Actor, Depends(api_actor)]
Timestamp = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MonitorSettings(_Body):
    name: str = Field(None, description="shown in the admin screens")  # type: ignore[assignment]
    component_id: int | None = Field(None, description="the component whose status the monitor drives")
    interval: int = Field(None, description="seconds between checks (5 – 86,400; default 60)")  # type: ignore
    timeout: float = Field(None, description="seconds before a check is cut off as DOWN (default 10)")  # type: ignore
    retries: int = Field(None, description="failed checks retried before the monitor is DOWN (default 0)")  # type: ignore
    retry_interval: int = Field(None, description="seconds between retries (default 20)")  # type: ignore
    latency_threshold_ms: int | None = Field(None, description="slower UP answers count as DEGRADED")
    down_status: str = Field(None, description="MAJOR_OUTAGE (default) or PARTIAL_OUTAGE")  # type: ignore
    paused: bool = None  # type: ignore[assignment]
    auto_incident: bool = Field(None, description="open an incident after `auto_incident_after` failures, "  # type: ignore
                                "resolve it on recovery")
    auto_incident_after: int = None  # type: ignore[assignment]
    incident_template_id: int | None = Field(None, description="the template an automatic incident is opened from")
    flap_changes: int = Field(None, description="more state changes than this ...")  # type: ignore[assignment]
    flap_minutes: int = Field(None, description="... within this many minutes is flapping")  # type: ignore
    config: dict[str, Any] = Field(None, description="the kind's settings (GET /api/v1/monitor-kinds)")  # type: ignore


class MonitorCreate(MonitorSettings):
    name: str
    kind: str = Field(description="one of GET /api/v1/monitor-kinds")
    config: dict[str, Any] = Field(default_factory=dict, description="the kind's settings")


MAX_TEST_SECONDS = 60  # "Test now" waits for the answer; a longer check belongs in a saved monitor


class MonitorTest(_Body):
    kind: str
    config: dict[str, Any] = Field(default_factory=dict)
    timeout: float = Field(10.0, gt=0, le=MAX_TEST_SECONDS, description="seconds, at most 60")
    latency_threshold_ms: int | None = None
    monitor_id: int | None = Field(None, ge=1, le=MAX_ROW_ID, description="take masked secrets from this saved "
                                                                           "monitor")


class Selection(_Body):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(description="monitor ids")


class FieldOut(BaseModel):
    name: str
    label: str
    type: str
    required: bool
    default: Any = None
    choices: list[str] = []
    help: str = ""


class KindOut(BaseModel):
    name: str
    label: str
    family: str
    library: str
    summary: str
    fields: list[FieldOut]


class ResultOut(BaseModel):
    outcome: str = Field(description="up, degraded or down")
    latency_ms: float | None
    message: str
    details: dict[str, Any]


class MonitorOut(BaseModel):
    id: str
    name: str
    kind: str
    component_id: str | None
    config: dict[str, Any]
    interval: int
    timeout: float
    retries: int
    retry_interval: int
    latency_threshold_ms: int | None
    down_status: str
    paused: bool
    auto_incident: bool
    auto_incident_after: int
    incident_template_id: str | None
    flap_changes: int
    flap_minutes: int
    state: str = Field(description="pending, up, degraded or down")
    state_since: Timestamp
    flapping: bool
    last_check_at: Timestamp
    last_latency_ms: float | None
    last_message: str
    push_url: str | None
    uptime: dict[str, float | None] = Field(description="percent over 24h, 7d, 30d and 90d (None: no data)")
    created_at: Timestamp
    updated_at: Timestamp


class PointOut(BaseModel):
    at: Timestamp
    avg_ms: float | None
    min_ms: int | None
    max_ms: int | None
    up: int
    down: int
    degraded: int
    maintenance: int


class EventOut(BaseModel):
    at: Timestamp
    old_state: str
    new_state: str
    message: str


class HeartbeatOut(BaseModel):
    at: Timestamp
    status: str
    latency_ms: int | None
    maintenance: bool
    message: str | None


class ResultsOut(BaseModel):
    range: str
    points: list[PointOut] = Field(description="response time and check counts per bucket, oldest first")
    events: list[EventOut] = Field(description="state changes, newest first")
    heartbeats: list[HeartbeatOut] = Field(description="kept checks, newest first")


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _epoch(seconds: float) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(seconds, UTC).isoformat()


def push_path(token: str | None) -> str | None:
    return f"/api/push/{token}" if token else None


async def _outs(rows: list[Monitor]) -> list[MonitorOut]:
    from app.snapshot import store

    figures = await monitoring.uptime([m.id for m in rows])
    out = []
    for m in rows:
        path = push_path(m.push_token)
        out.append(MonitorOut(
            id=str(m.id), name=m.name, kind=m.kind, component_id=str(m.component_id) if m.component_id else None,
            config=monitoring.public_config(m.kind, m.config), interval=m.interval_seconds,
            timeout=m.timeout_seconds, retries=m.retries, retry_interval=m.retry_interval_seconds,
            latency_threshold_ms=m.latency_threshold_ms, down_status=str(m.down_status), paused=m.paused,
            auto_incident=m.auto_incident, auto_incident_after=m.auto_incident_after,
            incident_template_id=str(m.incident_template_id) if m.incident_template_id else None,
            flap_changes=m.flap_changes, flap_minutes=m.flap_minutes, state="paused" if m.paused else m.state,
            state_since=_time(m.state_since), flapping=m.flapping, last_check_at=_time(m.last_check_at),
            last_latency_ms=m.last_latency_ms, last_message=m.last_message,
            push_url=f"{store.base_url}{path}" if path else None,
            uptime={w: a.uptime_percent for w, a in figures[m.id].items()},
            created_at=_time(m.created_at), updated_at=_time(m.updated_at)))
    return out


def _result(result: CheckResult) -> ResultOut:
    return ResultOut(outcome=result.outcome.value, latency_ms=result.latency_ms, message=result.message,
                     details=dict(result.details))


def _settings(body: MonitorSettings) -> dict[str, Any]:
    return body.model_dump(exclude_unset=True)


@router.get("/monitor-kinds", tags=["monitors"], summary="The kinds of check and the settings of each")
async def list_kinds(actor: Key) -> list[KindOut]:
    return [KindOut(name=k.name, label=k.label, family=k.family, library=k.library, summary=k.summary,
                    fields=[FieldOut(name=f.name, label=f.label, type=f.type, required=f.required,
                                     default=f.default, choices=list(f.choices), help=f.help) for f in k.fields])
            for k in monitoring.kinds()]


@router.get("/monitors", tags=["monitors"], summary="List monitors with their state and uptime")
async def list_monitors(actor: Key, paging: Paging, component_id: Annotated[int | None, Query()] = None
                        ) -> list[MonitorOut]:
    return await _outs(paging.apply(await monitoring.list_monitors(actor, component_id=component_id),
                                    key=lambda m: (m.name, m.id)))


@router.post("/monitors", status_code=201, tags=["monitors"], summary="Create a monitor",
             description="Its first check runs within one interval (start times are spread).",
             responses=_problems(403, 422))
async def create_monitor(body: MonitorCreate, actor: Key, response: Response) -> MonitorOut:
    monitor = await monitoring.create_monitor(actor, **_settings(body))
    response.headers["Location"] = f"/api/v1/monitors/{monitor.id}"
    return (await _outs([monitor]))[0]


@router.post("/monitors/test", tags=["monitors"], summary="Run a check once without saving (\"Test now\")",
             responses=_problems(403, 404, 422))
async def test_monitor(body: MonitorTest, actor: Key) -> ResultOut:
    raw = {"kind": body.kind, "config": body.config, "timeout": body.timeout, "interval": max(60, body.timeout),
           "latency_threshold_ms": body.latency_threshold_ms}
    return _result(await monitoring.test_config(actor, raw, monitor_id=body.monitor_id))


@router.post("/monitors/pause", tags=["monitors"], summary="Pause several monitors",
             responses=_problems(403, 404))
async def pause(body: Selection, actor: Key) -> dict[str, int]:
    return {"changed": await monitoring.set_paused(actor, body.ids, True)}


@router.post("/monitors/resume", tags=["monitors"], summary="Resume several monitors",
             responses=_problems(403, 404))
async def resume(body: Selection, actor: Key) -> dict[str, int]:
    return {"changed": await monitoring.set_paused(actor, body.ids, False)}


@router.get("/monitors/{monitor_id}", tags=["monitors"], summary="One monitor", responses=_problems(404))
async def get_monitor(monitor_id: RowId, actor: Key) -> MonitorOut:
    return (await _outs([await monitoring.get_monitor(monitor_id, actor=actor)]))[0]


@router.patch("/monitors/{monitor_id}", tags=["monitors"], summary="Change a monitor's settings",
              responses=_problems(403, 404, 422))
async def update_monitor(monitor_id: RowId, body: MonitorSettings, actor: Key) -> MonitorOut:
    monitor = await monitoring.update_monitor(actor, monitor_id, **_settings(body))
    return (await _outs([monitor]))[0]


@router.delete("/monitors/{monitor_id}", status_code=204, tags=["monitors"], summary="Delete a monitor",
               description="Its heartbeats and rollups go with it; its component is released.",
               responses=_problems(403, 404))
async def delete_monitor(monitor_id: RowId, actor: Key) -> Response:
    await monitoring.delete_monitor(actor, monitor_id)
    return Response(status_code=204)


@router.post("/monitors/{monitor_id}/check", tags=["monitors"], summary="Check now",
             description="Runs the check at once and records the result like a scheduled one.",
             responses=_problems(403, 404, 422))
async def check_now(monitor_id: RowId, actor: Key) -> ResultOut:
    return _result(await monitoring.check_now(actor, monitor_id))


@router.get("/monitors/{monitor_id}/results", tags=["monitors"],
            summary="Response times, state changes and recent checks", responses=_problems(404, 422))
async def results(monitor_id: RowId, actor: Key,
                  range: Annotated[str, Query(description="24h, 7d, 30d or 90d")] = "24h") -> ResultsOut:
    await monitoring.get_monitor(monitor_id, actor=actor)
    points = await monitoring.chart(monitor_id, range)
    return ResultsOut(
        range=range,
        points=[PointOut(at=_epoch(p.at), avg_ms=p.avg_ms, min_ms=p.min_ms, max_ms=p.max_ms, up=p.up, down=p.down,
                         degraded=p.degraded, maintenance=p.maintenance) for p in points],
        events=[EventOut(at=_time(e.at), old_state=e.old_state, new_state=e.new_state, message=e.message)
                for e in await monitoring.events_of(monitor_id)],
        heartbeats=[HeartbeatOut(at=_epoch(h.at_ms / 1000), status=h.status, latency_ms=h.latency_ms,
                                 maintenance=h.maintenance, message=h.message)
                    for h in await monitoring.heartbeats_of(monitor_id)])


# --- the push URL (no key: the token is the secret) ---------------------------------------------------------------

@push_router.api_route("/api/push/{token}", methods=["GET", "POST"], include_in_schema=False)
async def push(token: str, request: Request) -> Response:
    """``?status=up|degraded|down&msg=...&ping=MS`` (CONTRACT.md). 404 for an unknown token, 422 for a bad value."""
    from fastapi.responses import JSONResponse

    status = (request.query_params.get("status") or "up").lower()
    if status not in ("up", "degraded", "down"):
        return JSONResponse({"ok": False, "error": "status must be up, degraded or down"}, status_code=422)
    ping_text = request.query_params.get("ping")
    ping: float | None = None
    if ping_text:
        try:
            ping = float(ping_text)
            if not 0 <= ping < 3_600_000:
                raise ValueError
        except ValueError:
            return JSONResponse({"ok": False, "error": "ping must be a number of milliseconds"}, status_code=422)
    message = (request.query_params.get("msg") or "")[:500]
    if len(token) > 100 or not await engine.receive_push(token, status, message, ping):
        return JSONResponse({"ok": False, "error": "no push monitor has this token"}, status_code=404)
    return JSONResponse({"ok": True})

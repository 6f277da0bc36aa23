"""Management API for incidents, their templates, and scheduled maintenance (/api/v1, CONTRACT.md).

An incident or a maintenance window of a page outside the teams of the key's user answers 404, as an unknown id
does (app/auth/scope.py).

Adapters only: JSON → service calls (role check, write, audit, events) and rows → JSON. Statuses, impacts and
times are passed to the services as given, so that a bad value gets the services' own field message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import api_actor
from app.api.pagination import Paging
from app.auth import Actor, scope
from app.services import incidents, maintenance
from app.services.errors import NotFound
from app.services.validation import row_id
from app.snapshot import store
from storage.models import (
    Incident,
    IncidentComponent,
    IncidentTemplate,
    IncidentUpdate,
    Maintenance,
    MaintenanceComponent,
    MaintenanceUpdate,
    StatusPage,
)


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    from app.api.management import _problems as problems

    return problems(*codes)


router = APIRouter(prefix="/api/v1", responses=_problems(401))
Key = Annotated[Actor, Depends(api_actor)]
Ref = Annotated[str | int, Field(description="an id or, for pages, a slug")]
Timestamp = Annotated[str | None, Field(json_schema_extra={"format": "date-time"},
                                        examples=["2026-11-23T14:05:00+01:00"])]
STATUS_HELP = "INVESTIGATING, IDENTIFIED, MONITORING or RESOLVED"
IMPACT_HELP = "MAJOR, PARTIAL, DEGRADED or MINOR"
COMPONENTS_HELP = ("{component id: status} — the status each component takes while the incident is open "
                   "(OPERATIONAL, DEGRADED, PARTIAL_OUTAGE, MAJOR_OUTAGE, MAINTENANCE or the Statuspage spellings)")
TIME_HELP = "ISO 8601; without an offset it is read in the page's (or the given) time zone"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentCreate(_Body):
    name: str
    impact: str = Field("MINOR", description=IMPACT_HELP)
    status: str = Field("INVESTIGATING", description=STATUS_HELP)
    body: str = Field(description="the first update, Markdown")
    page: Ref
    components: dict[str, str] = Field(default_factory=dict, description=COMPONENTS_HELP)
    started_at: str | None = Field(None, description=f"when it began (default now); {TIME_HELP}")
    backfill: bool = Field(False, description="record an incident that is already over; notifies nobody")
    resolved_at: str | None = Field(None, description="backfill only: when it ended")
    pinned: bool = False


class UpdateCreate(_Body):
    status: str = Field(description=STATUS_HELP)
    body: str = Field(description="Markdown")
    components: dict[str, str] | None = Field(None, description=COMPONENTS_HELP)


class Resolve(_Body):
    body: str = incidents.RESOLVED_BODY


class IncidentChange(_Body):
    name: str = None  # type: ignore[assignment]
    impact: str = Field(None, description=IMPACT_HELP)  # type: ignore[assignment]
    pinned: bool = None  # type: ignore[assignment]


class Postmortem(_Body):
    body: str = Field(description="the root-cause write-up, Markdown")
    publish: bool = Field(True, description="false saves a draft that visitors do not see")


class TemplateBody(_Body):
    name: str
    title: str
    body: str = ""
    impact: str = Field("MINOR", description=IMPACT_HELP)
    components: dict[str, str] = Field(default_factory=dict, description=COMPONENTS_HELP)


class MaintenanceCreate(_Body):
    name: str
    body: str = Field("", description="what will happen, Markdown")
    page: Ref
    starts_at: str | None = Field(None, description=f"{TIME_HELP}; optional for a recurring window")
    ends_at: str | None = Field(None, description=f"{TIME_HELP}; default start + the rule's duration")
    time_zone: str | None = Field(None, description="IANA name; default the page's")
    components: list[Ref] = Field(default_factory=list)
    recurrence: dict[str, Any] | None = Field(None, description=(
        '{"kind": "weekly", "days": [0-6, Monday = 0], "time": "HH:MM", "duration_minutes": N} or '
        '{"kind": "cron", "expression": "m h dom mon dow", "duration_minutes": N}'))
    remind_minutes: int = Field(60, description="the maintenance.reminder event fires this long before the start")
    backfill: bool = Field(False, description="record a window that is already over; notifies nobody")


class Note(_Body):
    body: str = ""


class Extend(_Body):
    ends_at: str = Field(description=TIME_HELP)
    body: str = ""


# --- output -----------------------------------------------------------------------------------------------------

class UpdateOut(BaseModel):
    id: str
    status: str
    body: str
    display_at: Timestamp
    author: str | None
    affected_components: dict[str, dict[str, str | None]]


class IncidentOut(BaseModel):
    id: str
    page_id: str
    name: str
    status: str
    impact: str
    pinned: bool
    backfilled: bool
    started_at: Timestamp
    identified_at: Timestamp
    monitoring_at: Timestamp
    resolved_at: Timestamp
    created_at: Timestamp
    updated_at: Timestamp
    components: dict[str, str] = Field(description="component id → the status the incident holds it at")
    updates: list[UpdateOut] = Field(description="newest first")
    postmortem_body: str
    postmortem_published_at: Timestamp
    url: str


class TemplateOut(BaseModel):
    id: str
    name: str
    title: str
    body: str
    impact: str
    components: dict[str, str]


class MaintenanceUpdateOut(BaseModel):
    id: str
    state: str
    body: str
    display_at: Timestamp
    author: str | None


class MaintenanceOut(BaseModel):
    id: str
    page_id: str
    name: str
    body: str
    state: str
    time_zone: str
    starts_at: Timestamp
    ends_at: Timestamp
    started_at: Timestamp
    completed_at: Timestamp
    components: list[str]
    recurrence: dict[str, Any] | None
    series_id: str | None
    remind_minutes: int
    backfilled: bool
    updates: list[MaintenanceUpdateOut] = Field(description="newest first")
    url: str


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def _origins(page_ids: set[int]) -> dict[int, str]:
    """Each page's public address, to which an incident's or maintenance's path is appended."""
    rows = await StatusPage.filter(id__in=page_ids).values("id", "slug", "custom_domain")
    return {r["id"]: (f"https://{r['custom_domain']}" if r["custom_domain"] else store.base_url)
            + f"/status/{r['slug']}" for r in rows}


async def _incidents_out(rows: list[Incident]) -> list[IncidentOut]:
    """The incidents as the API shows them, in four queries whatever their number."""
    ids = [i.id for i in rows]
    held: dict[int, dict[str, str]] = {}
    for iid, cid, status in await IncidentComponent.filter(incident_id__in=ids).values_list(
            "incident_id", "component_id", "status"):
        held.setdefault(iid, {})[str(cid)] = str(getattr(status, "value", status))
    updates: dict[int, list[UpdateOut]] = {}
    for u in await IncidentUpdate.filter(incident_id__in=ids).order_by("-display_at", "-id").prefetch_related(
            "author"):
        updates.setdefault(u.incident_id, []).append(UpdateOut(  # type: ignore[attr-defined]
            id=str(u.id), status=u.status.value, body=u.body, display_at=_time(u.display_at),
            author=u.author.email if u.author else None, affected_components=u.affected_components or {}))
    origins = await _origins({i.page_id for i in rows})  # type: ignore[attr-defined]
    return [IncidentOut(
        id=str(i.id), page_id=str(i.page_id), name=i.name, status=i.status.value,  # type: ignore[attr-defined]
        impact=i.impact.value, pinned=i.pinned, backfilled=i.backfilled, started_at=_time(i.started_at),
        identified_at=_time(i.identified_at), monitoring_at=_time(i.monitoring_at), resolved_at=_time(i.resolved_at),
        created_at=_time(i.created_at), updated_at=_time(i.updated_at), components=held.get(i.id, {}),
        updates=updates.get(i.id, []), postmortem_body=i.postmortem_body,
        postmortem_published_at=_time(i.postmortem_published_at),
        url=f"{origins[i.page_id]}/incidents/{i.id}")  # type: ignore[attr-defined]
        for i in rows]


async def _incident_out(incident_id: int, actor: Actor | None = None) -> IncidentOut:
    i = await Incident.filter(id=incident_id).first()
    if i is None or not await scope.page_in_scope(actor, i.page_id):  # type: ignore[attr-defined]
        raise NotFound(f"No incident with id {incident_id}.")
    return (await _incidents_out([i]))[0]


async def _maintenances_out(rows: list[Maintenance]) -> list[MaintenanceOut]:
    """The windows as the API shows them, in four queries whatever their number."""
    ids = [m.id for m in rows]
    affected: dict[int, list[int]] = {}
    for mid, cid in await MaintenanceComponent.filter(maintenance_id__in=ids).values_list(
            "maintenance_id", "component_id"):
        affected.setdefault(mid, []).append(cid)
    updates: dict[int, list[MaintenanceUpdateOut]] = {}
    for u in await MaintenanceUpdate.filter(maintenance_id__in=ids).order_by("-display_at", "-id") \
            .prefetch_related("author"):
        updates.setdefault(u.maintenance_id, []).append(MaintenanceUpdateOut(  # type: ignore[attr-defined]
            id=str(u.id), state=u.state.value, body=u.body, display_at=_time(u.display_at),
            author=u.author.email if u.author else None))
    origins = await _origins({m.page_id for m in rows})  # type: ignore[attr-defined]
    return [MaintenanceOut(
        id=str(m.id), page_id=str(m.page_id), name=m.name, body=m.body,  # type: ignore[attr-defined]
        state=m.state.value, time_zone=m.time_zone, starts_at=_time(m.scheduled_for),
        ends_at=_time(m.scheduled_until), started_at=_time(m.started_at), completed_at=_time(m.completed_at),
        components=[str(c) for c in sorted(affected.get(m.id, []))], recurrence=m.recurrence,
        series_id=str(m.series_id) if m.series_id else None, remind_minutes=m.remind_minutes,
        backfilled=m.backfilled, updates=updates.get(m.id, []),
        url=f"{origins[m.page_id]}/maintenance/{m.id}")  # type: ignore[attr-defined]
        for m in rows]


async def _maintenance_out(maintenance_id: int, actor: Actor | None = None) -> MaintenanceOut:
    m = await Maintenance.filter(id=maintenance_id).first()
    if m is None or not await scope.page_in_scope(actor, m.page_id):  # type: ignore[attr-defined]
        raise NotFound(f"No maintenance with id {maintenance_id}.")
    return (await _maintenances_out([m]))[0]


def _id(value: str, what: str) -> int:
    found = row_id(value)
    if found is None:
        raise NotFound(f"No {what} with id {value}.")
    return found


async def _page_filter(page: str | None, actor: Actor) -> int | None:
    if page is None:
        return None
    from app.services.pages import find_page

    return (await find_page(page, actor=actor)).id


PageQuery = Annotated[str | None, Query(description="only this page's (id or slug)")]

# --- incidents --------------------------------------------------------------------------------------------------


@router.get("/incidents", tags=["incidents"], summary="List incidents, open ones first",
            responses=_problems(404))
async def list_incidents(actor: Key, paging: Paging, page: PageQuery = None) -> list[IncidentOut]:
    rows = paging.apply(await incidents.list_incidents(await _page_filter(page, actor), actor=actor), order="list")
    return await _incidents_out(rows)  # list_incidents gave only what the key may see


@router.post("/incidents", status_code=201, tags=["incidents"], summary="Open an incident",
             description="Publishes `incident.created` (or nothing but a page update for a backfill).",
             responses=_problems(403, 422))
async def create_incident(body: IncidentCreate, actor: Key, response: Response) -> IncidentOut:
    incident = await incidents.create_incident(
        actor, page=body.page, name=body.name, impact=body.impact, status=body.status, body=body.body,
        components=body.components, started_at=body.started_at, resolved_at=body.resolved_at,
        backfill=body.backfill, pinned=body.pinned)
    response.headers["Location"] = f"/api/v1/incidents/{incident.id}"
    return await _incident_out(incident.id, actor)


@router.get("/incidents/{incident_id}", tags=["incidents"], summary="One incident with its timeline",
            responses=_problems(404))
async def get_incident(incident_id: str, actor: Key) -> IncidentOut:
    return await _incident_out(_id(incident_id, "incident"), actor)


@router.patch("/incidents/{incident_id}", tags=["incidents"], summary="Rename, change impact, pin or unpin",
              responses=_problems(403, 404, 422))
async def change_incident(incident_id: str, body: IncidentChange, actor: Key) -> IncidentOut:
    iid = _id(incident_id, "incident")
    await incidents.edit_incident(actor, iid, **body.model_dump(exclude_unset=True))
    return await _incident_out(iid, actor)


@router.post("/incidents/{incident_id}/updates", status_code=201, tags=["incidents"],
             summary="Post an update (may change the status and the components' statuses)",
             responses=_problems(403, 404, 422))
async def post_update(incident_id: str, body: UpdateCreate, actor: Key, response: Response) -> IncidentOut:
    iid = _id(incident_id, "incident")
    await incidents.post_update(actor, iid, status=body.status, body=body.body, components=body.components)
    response.headers["Location"] = f"/api/v1/incidents/{iid}"  # the update lives in its incident's timeline
    return await _incident_out(iid, actor)


@router.post("/incidents/{incident_id}/resolve", status_code=201, tags=["incidents"],
             summary="Resolve: components return to operational unless something else holds them",
             responses=_problems(403, 404, 422))
async def resolve_incident(incident_id: str, actor: Key, response: Response, body: Resolve | None = None
                           ) -> IncidentOut:
    iid = _id(incident_id, "incident")
    await incidents.resolve_incident(actor, iid, (body or Resolve()).body)
    response.headers["Location"] = f"/api/v1/incidents/{iid}"
    return await _incident_out(iid, actor)


@router.put("/incidents/{incident_id}/postmortem", tags=["incidents"],
            summary="Save or publish the root-cause write-up of a resolved incident",
            responses=_problems(403, 404, 422))
async def set_postmortem(incident_id: str, body: Postmortem, actor: Key) -> IncidentOut:
    iid = _id(incident_id, "incident")
    await incidents.set_postmortem(actor, iid, body.body, publish=body.publish)
    return await _incident_out(iid, actor)


@router.delete("/incidents/{incident_id}", status_code=204, tags=["incidents"], summary="Delete an incident",
               responses=_problems(403, 404))
async def delete_incident(incident_id: str, actor: Key) -> Response:
    await incidents.delete_incident(actor, _id(incident_id, "incident"))
    return Response(status_code=204)


# --- templates --------------------------------------------------------------------------------------------------

def _template_out(t: IncidentTemplate, visible: set[int] | None = None) -> TemplateOut:
    """A template as JSON; components outside the key's scope (``visible``: None for all) are left out."""
    return TemplateOut(id=str(t.id), name=t.name, title=t.title, body=t.body, impact=str(t.impact.value),
                       components={cid: status for cid, status in (t.components or {}).items()
                                   if visible is None or int(cid) in visible})


@router.get("/incident-templates", tags=["incident templates"], summary="List incident templates")
async def list_templates(actor: Key) -> list[TemplateOut]:
    visible = await scope.visible_component_ids(actor)
    return [_template_out(t, visible) for t in await incidents.list_templates()]


@router.get("/incident-templates/{template_id}", tags=["incident templates"], summary="One incident template",
            responses=_problems(404))
async def get_template(template_id: str, actor: Key) -> TemplateOut:
    wanted = _id(template_id, "template")
    found = next((t for t in await incidents.list_templates() if t.id == wanted), None)
    if found is None:
        raise NotFound(f"No template with id {wanted}.")
    return _template_out(found, await scope.visible_component_ids(actor))


@router.post("/incident-templates", status_code=201, tags=["incident templates"], summary="Create a template",
             responses=_problems(403, 422))
async def create_template(body: TemplateBody, actor: Key, response: Response) -> TemplateOut:
    template = await incidents.save_template(actor, **body.model_dump())
    response.headers["Location"] = f"/api/v1/incident-templates/{template.id}"
    return _template_out(template, await scope.visible_component_ids(actor))


@router.put("/incident-templates/{template_id}", tags=["incident templates"], summary="Replace a template",
            responses=_problems(403, 404, 422))
async def replace_template(template_id: str, body: TemplateBody, actor: Key) -> TemplateOut:
    return _template_out(await incidents.save_template(actor, template_id=_id(template_id, "template"),
                                                       **body.model_dump()), await scope.visible_component_ids(actor))


@router.delete("/incident-templates/{template_id}", status_code=204, tags=["incident templates"],
               summary="Delete a template", responses=_problems(403, 404))
async def delete_template(template_id: str, actor: Key) -> Response:
    await incidents.delete_template(actor, _id(template_id, "template"))
    return Response(status_code=204)


# --- maintenance ------------------------------------------------------------------------------------------------

@router.get("/maintenance", tags=["maintenance"], summary="List maintenance: in progress, upcoming, completed",
            responses=_problems(404))
async def list_maintenance(actor: Key, paging: Paging, page: PageQuery = None) -> list[MaintenanceOut]:
    rows = paging.apply(await maintenance.list_maintenances(await _page_filter(page, actor), actor=actor),
                        order="list")
    return await _maintenances_out(rows)  # list_maintenances gave only what the key may see


@router.post("/maintenance", status_code=201, tags=["maintenance"], summary="Schedule maintenance",
             description="Started and completed on time by Beacon; `maintenance.reminder` fires `remind_minutes` "
                         "before the start.", responses=_problems(403, 422))
async def schedule_maintenance(body: MaintenanceCreate, actor: Key, response: Response) -> MaintenanceOut:
    m = await maintenance.schedule_maintenance(
        actor, page=body.page, name=body.name, body=body.body, starts_at=body.starts_at, ends_at=body.ends_at,
        time_zone=body.time_zone, components=body.components, recurrence_rule=body.recurrence,
        remind_minutes=body.remind_minutes, backfill=body.backfill)
    response.headers["Location"] = f"/api/v1/maintenance/{m.id}"
    return await _maintenance_out(m.id, actor)


@router.get("/maintenance/{maintenance_id}", tags=["maintenance"], summary="One maintenance with its updates",
            responses=_problems(404))
async def get_maintenance(maintenance_id: str, actor: Key) -> MaintenanceOut:
    return await _maintenance_out(_id(maintenance_id, "maintenance"), actor)


@router.post("/maintenance/{maintenance_id}/start", tags=["maintenance"], summary="Start now (early)",
             responses=_problems(403, 404, 422))
async def start_maintenance(maintenance_id: str, actor: Key, body: Note | None = None) -> MaintenanceOut:
    mid = _id(maintenance_id, "maintenance")
    await maintenance.start_maintenance(actor, mid, (body or Note()).body)
    return await _maintenance_out(mid, actor)


@router.post("/maintenance/{maintenance_id}/complete", tags=["maintenance"], summary="Complete now (early)",
             responses=_problems(403, 404, 422))
async def complete_maintenance(maintenance_id: str, actor: Key, body: Note | None = None) -> MaintenanceOut:
    mid = _id(maintenance_id, "maintenance")
    await maintenance.complete_maintenance(actor, mid, (body or Note()).body)
    return await _maintenance_out(mid, actor)


@router.post("/maintenance/{maintenance_id}/extend", tags=["maintenance"], summary="Move the end",
             responses=_problems(403, 404, 422))
async def extend_maintenance(maintenance_id: str, body: Extend, actor: Key) -> MaintenanceOut:
    mid = _id(maintenance_id, "maintenance")
    await maintenance.extend_maintenance(actor, mid, body.ends_at, body.body)
    return await _maintenance_out(mid, actor)


@router.post("/maintenance/{maintenance_id}/updates", status_code=201, tags=["maintenance"],
             summary="Post an update", responses=_problems(403, 404, 422))
async def post_maintenance_update(maintenance_id: str, body: Note, actor: Key, response: Response
                                  ) -> MaintenanceOut:
    mid = _id(maintenance_id, "maintenance")
    await maintenance.post_maintenance_update(actor, mid, body.body)
    response.headers["Location"] = f"/api/v1/maintenance/{mid}"
    return await _maintenance_out(mid, actor)


@router.delete("/maintenance/{maintenance_id}", status_code=204, tags=["maintenance"],
               summary="Cancel a maintenance that has not started",
               description="For a recurring window the next occurrence is scheduled unless `end_series=true`.",
               responses=_problems(403, 404, 422))
async def cancel_maintenance(maintenance_id: str, actor: Key, end_series: bool = False) -> Response:
    await maintenance.cancel_maintenance(actor, _id(maintenance_id, "maintenance"), end_series=end_series)
    return Response(status_code=204)

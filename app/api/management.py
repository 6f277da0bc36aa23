"""Management REST API under /api/v1: flat JSON in and out, authenticated by API key (app/api/auth.py).

Handlers are adapters: they turn JSON into service calls (which check the key's role, write, audit and publish)
and rows into JSON; they read models directly only to answer GETs. Errors leave as ``application/problem+json``
(app/api/problems.py): 401 without a valid key, 403 when the key's role is too low, 404 for an unknown id (and
for a page, or what belongs to it, outside the teams of the key's user: app/auth/scope.py), 422 with
``errors: {field: message}`` for bad input. The schema is served at /api/v1/openapi.json and a Swagger UI at
/api/v1/docs (its script and stylesheet load from a CDN, so the docs page needs internet access in the browser;
the JSON schema does not).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

from app.api.auth import api_actor
from app.api.pagination import Paging
from app.auth import Actor, scope
from app.enums import ComponentStatus
from app.services import components, pages
from app.services.errors import NotFound
from app.services.validation import row_id
from app.snapshot import store
from storage.models import Component, Placement, StatusPage

VERSION = "1"
OPENAPI_URL = "/api/v1/openapi.json"


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: dict[str, str] | None = Field(None, description="field → what is wrong with it (422 only)")


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    # FastAPI documents its own 422 shape on every route with parameters unless the route names 422 itself.
    described = {401: "No valid API key", 403: "The key's role may not do this", 404: "No such object",
                 422: "Invalid input; `errors` names each field"}
    return {code: {"model": Problem, "description": described[code]} for code in codes}


router = APIRouter(prefix="/api/v1", responses=_problems(401))


# --- input ----------------------------------------------------------------------------------------------------

_STATUS_BY_STATUSPAGE_NAME = {s.statuspage: s for s in ComponentStatus}


def _status_spelling(value: Any) -> Any:
    # Accept our names in any case and the Statuspage spellings, so clients written for Statuspage work.
    if isinstance(value, str):
        text = value.strip()
        return _STATUS_BY_STATUSPAGE_NAME.get(text.lower(), text.upper())
    return value


Status = Annotated[ComponentStatus, BeforeValidator(_status_spelling),
                   Field(description="OPERATIONAL, DEGRADED, PARTIAL_OUTAGE, MAJOR_OUTAGE or MAINTENANCE "
                                     "(the Statuspage spellings such as `degraded_performance` are accepted too)")]
Ref = Annotated[str | StrictInt, Field(description="an id or, for pages, a slug")]


class _Body(BaseModel):
    # A misspelt field is an error, not silently ignored.
    model_config = ConfigDict(extra="forbid")


class PageCreate(_Body):
    title: str
    slug: str = Field(description="lowercase letters, digits and hyphens: the page is served at /status/{slug}")
    description: str = ""
    public: bool = True
    active: bool = Field(True, description="false keeps the page a draft, hidden from visitors")


class ComponentCreate(_Body):
    name: str
    description: str = ""
    link: str = ""
    status: Status = ComponentStatus.OPERATIONAL
    pages: list[Ref] = Field(description="the pages that show the component, by id or slug")
    group_id: Ref | None = Field(None, description="a group on one of those pages (its page is added)")


class ComponentChange(_Body):
    """Only the fields sent are changed; ``null`` is not a value for any of them."""

    name: str = None  # type: ignore[assignment]
    description: str = None  # type: ignore[assignment]
    link: str = None  # type: ignore[assignment]
    status: Status = None  # type: ignore[assignment]
    only_show_if_degraded: bool = None  # type: ignore[assignment]
    show_uptime: bool = None  # type: ignore[assignment]


# --- output ---------------------------------------------------------------------------------------------------

Timestamp = Annotated[str | None, Field(json_schema_extra={"format": "date-time"},
                                        examples=["2025-01-31T12:00:00+00:00"])]


class PageOut(BaseModel):
    id: str
    slug: str
    title: str
    description: str
    public: bool
    active: bool
    is_default: bool
    custom_domain: str | None
    time_zone: str
    url: str
    created_at: Timestamp
    updated_at: Timestamp


class PlacementOut(BaseModel):
    page_id: str
    group_id: str | None
    position: int


class ComponentOut(BaseModel):
    id: str
    name: str
    description: str
    link: str
    status: ComponentStatus
    only_show_if_degraded: bool
    show_uptime: bool
    pages: list[str]
    placements: list[PlacementOut]
    created_at: Timestamp
    updated_at: Timestamp


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _page_out(page: StatusPage) -> PageOut:
    # the same address the public snapshot advertises (app/snapshot.py)
    url = f"https://{page.custom_domain}/" if page.custom_domain else f"{store.base_url}/status/{page.slug}"
    return PageOut(id=str(page.id), slug=page.slug, title=page.title, description=page.description,
                   public=page.public, active=page.active, is_default=page.is_default,
                   custom_domain=page.custom_domain, time_zone=page.time_zone, url=url,
                   created_at=_time(page.created_at), updated_at=_time(page.updated_at))


async def _components_out(rows: list[Component], actor: Actor | None = None) -> list[ComponentOut]:
    """The components as JSON; their placements on pages outside the actor's scope are left out."""
    placed: dict[int, list[PlacementOut]] = {}
    placements = await Placement.filter(component_id__in=[c.id for c in rows]).order_by("page_id").values(
        "component_id", "page_id", "group_id", "position")
    visible = await scope.visible_page_ids(actor)
    for p in placements:
        if visible is not None and p["page_id"] not in visible:
            continue
        placed.setdefault(p["component_id"], []).append(PlacementOut(
            page_id=str(p["page_id"]), group_id=None if p["group_id"] is None else str(p["group_id"]),
            position=p["position"]))
    return [ComponentOut(id=str(c.id), name=c.name, description=c.description, link=c.link, status=c.status,
                         only_show_if_degraded=c.only_show_if_degraded, show_uptime=c.show_uptime,
                         pages=[p.page_id for p in placed.get(c.id, [])], placements=placed.get(c.id, []),
                         created_at=_time(c.created_at), updated_at=_time(c.updated_at))
            for c in rows]


async def _component_out(component: Component, actor: Actor | None = None) -> ComponentOut:
    return (await _components_out([component], actor))[0]


# --- lookups ----------------------------------------------------------------------------------------------------

def _component_id(value: str) -> int:
    component_id = row_id(value)
    if component_id is None:
        raise NotFound(f"No component with id {value}.")
    return component_id


# --- routes -----------------------------------------------------------------------------------------------------

Key = Annotated[Actor, Depends(api_actor)]


@router.get("/pages", tags=["pages"], summary="List status pages")
async def list_pages(actor: Key, paging: Paging) -> list[PageOut]:
    return [_page_out(p) for p in paging.apply(await pages.list_pages(actor))]


@router.post("/pages", status_code=201, tags=["pages"], summary="Create a status page",
             responses=_problems(403, 422))
async def create_page(body: PageCreate, actor: Key, response: Response) -> PageOut:
    page = await pages.create_page(actor, **body.model_dump())
    response.headers["Location"] = f"/api/v1/pages/{page.id}"
    return _page_out(page)


@router.get("/pages/{page}", tags=["pages"], summary="One status page, by id or slug",
            responses=_problems(404, 422))
async def get_page(page: str, actor: Key) -> PageOut:
    return _page_out(await pages.find_page(page, actor=actor))


@router.get("/components", tags=["components"], summary="List components", responses=_problems(404, 422))
async def list_components(actor: Key, paging: Paging, page: Annotated[str | None, Query(
        description="only the components shown on this page (id or slug)")] = None) -> list[ComponentOut]:
    page_id = None if page is None else (await pages.find_page(page, actor=actor)).id
    return await _components_out(paging.apply(await components.list_components(actor, page_id)), actor)


@router.post("/components", status_code=201, tags=["components"], summary="Create a component",
             responses=_problems(403, 422))
async def create_component(body: ComponentCreate, actor: Key, response: Response) -> ComponentOut:
    component = await components.create_component(
        actor, name=body.name, description=body.description, link=body.link, status=body.status,
        pages=body.pages, group_id=body.group_id)
    response.headers["Location"] = f"/api/v1/components/{component.id}"
    return await _component_out(component, actor)


@router.get("/components/{component_id}", tags=["components"], summary="One component",
            responses=_problems(404, 422))
async def get_component(component_id: str, actor: Key) -> ComponentOut:
    return await _component_out(await components.get_component(_component_id(component_id), actor=actor), actor)


@router.patch("/components/{component_id}", tags=["components"], summary="Change a component",
              description="Send only the fields to change. A status change alone is its own event "
                          "(`component.status_changed`) and updates the public pages.",
              responses=_problems(403, 404, 422))
async def change_component(component_id: str, body: ComponentChange, actor: Key) -> ComponentOut:
    component = await components.update_component(actor, _component_id(component_id),
                                                  **body.model_dump(exclude_unset=True))
    return await _component_out(component, actor)


@router.delete("/components/{component_id}", status_code=204, tags=["components"], summary="Delete a component",
               responses=_problems(403, 404, 422))
async def delete_component(component_id: str, actor: Key) -> Response:
    await components.delete_component(actor, _component_id(component_id))
    return Response(status_code=204)


# --- documentation ----------------------------------------------------------------------------------------------

_schema: dict[str, Any] | None = None


@router.get("/openapi.json", include_in_schema=False)
async def openapi() -> JSONResponse:
    global _schema
    if _schema is None:
        _schema = get_openapi(
            title="Beacon management API", version=VERSION, routes=[r for sub in _routers() for r in sub.routes],
            description="Manage status pages, components, incidents and maintenance with an API key "
                        "(`Authorization: Bearer <key>` or `Auth: <key>`). Errors are `application/problem+json`.")
        _label_problems(_schema)
    return JSONResponse(_schema)


PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def _label_problems(schema: dict[str, Any]) -> None:
    """Every error answer is a Problem under application/problem+json (app/api/problems.py), also the 422 that
    FastAPI documents by itself as its HTTPValidationError; and every operation may answer 422 (bad input)."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = Problem.model_json_schema()
    for operation in (op for path in schema.get("paths", {}).values() for op in path.values()):
        responses = operation.setdefault("responses", {})
        responses.setdefault("422", {"description": "Invalid input; `errors` names each field"})
        for code, response in responses.items():
            if code.startswith("4"):
                response["content"] = {"application/problem+json": {"schema": PROBLEM_REF}}
    for unused in ("HTTPValidationError", "ValidationError"):
        schema["components"]["schemas"].pop(unused, None)


@router.get("/docs", include_in_schema=False)
async def docs() -> HTMLResponse:
    # Swagger UI's assets come from its default CDN; without internet the page stays blank (the schema above
    # is self-contained).
    return get_swagger_ui_html(openapi_url=OPENAPI_URL, title="Beacon management API")


def _routers() -> list[APIRouter]:
    """Every router of the management API, in the order the docs list them."""
    from app.api import (
        audit_routes,
        channels,
        custom_metrics,
        incidents,
        monitors,
        people,
        structure,
        subscribers_api,
    )

    return [router, structure.router, incidents.router, custom_metrics.router, monitors.router, channels.router,
            subscribers_api.router, people.router, audit_routes.router]


def include(app: FastAPI) -> None:
    """Add the management API to the outer app (before NiceGUI is mounted at "/")."""
    for sub in _routers():
        app.include_router(sub)

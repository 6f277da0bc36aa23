"""Management API for a page's settings and structure: change or delete a page, its groups (nested), and where its
components sit (/api/v1/pages/{page}…, /api/v1/groups).

Adapters only: JSON → ``app.services.pages`` and ``app.services.groups`` (which check the role, write, audit and
publish) and rows → JSON. A page, group or component outside the key's teams answers 404 like an unknown one.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.api.auth import api_actor
from app.api.management import PageOut, _page_out, _problems
from app.auth import Actor, scope
from app.enums import ComponentStatus
from app.services import components, groups, pages
from app.services.errors import Invalid, NotFound
from app.services.transaction import authorize
from app.services.validation import row_id
from storage.models import ComponentGroup, Placement, StatusPage

router = APIRouter(prefix="/api/v1", responses=_problems(401))
Key = Annotated[Actor, Depends(api_actor)]
Ref = Annotated[str | StrictInt, Field(description="an id or, for pages, a slug")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PageChange(_Body):
    """Only the fields sent are changed (``pages.EDITABLE``)."""

    title: str = None  # type: ignore[assignment]
    slug: str = None  # type: ignore[assignment]
    description: str = None  # type: ignore[assignment]
    public: bool = None  # type: ignore[assignment]
    active: bool = Field(None, description="false: a draft, hidden from visitors")  # type: ignore[assignment]
    custom_domain: str | None = Field(None, description="host name such as status.example.com; null: none")
    time_zone: str = Field(None, description="IANA name, e.g. Europe/Berlin")  # type: ignore[assignment]
    theme: str = Field(None, description="auto, light or dark")  # type: ignore[assignment]
    brand_color: str = Field(None, description="#rrggbb or #rgb")  # type: ignore[assignment]
    footer_text: str = None  # type: ignore[assignment]
    header_color: str | None = Field(None, description="#rrggbb or #rgb; null: the theme's")
    uptime_days: StrictInt = Field(None, description="30, 60 or 90")  # type: ignore[assignment]
    show_response_times: bool = None  # type: ignore[assignment]
    incident_history_days: StrictInt = Field(None, description="1 to 365")  # type: ignore[assignment]


class GroupCreate(_Body):
    page: Ref = Field(description="the page's id or slug")
    name: str
    parent_id: Ref | None = Field(None, description="a group of the same page to nest it in; null: top level")


class GroupChange(_Body):
    name: str


class MoveIn(_Body):
    kind: Literal["component", "group"]
    id: Ref = Field(description="the component's or the group's id")
    parent_group_id: Ref | None = Field(None, description="the group to put it in; null: the page's top level")
    position: StrictInt = Field(ge=0, description="its index on that level, counted without it; past the end: last")


class PlaceIn(_Body):
    group_id: Ref | None = Field(None, description="a group of the page; null or absent: the top level")


class PageSettingsOut(PageOut):
    theme: str
    brand_color: str
    footer_text: str
    header_color: str | None
    uptime_days: int
    show_response_times: bool
    incident_history_days: int
    team_id: str | None


class NodeOut(BaseModel):
    kind: Literal["component", "group"]
    id: str
    name: str
    status: ComponentStatus = Field(description="a group's: the worst of what it holds")
    position: int = Field(description="its index on its level (the order the public page shows)")
    items: list[NodeOut] = Field(default_factory=list, description="a group's components and groups, in order")


NodeOut.model_rebuild()


class StructureOut(BaseModel):
    page_id: str
    items: list[NodeOut]


class GroupOut(BaseModel):
    id: str
    page_id: str
    parent_id: str | None
    name: str
    position: int


class PlacementOut(BaseModel):
    page_id: str
    component_id: str
    group_id: str | None
    position: int


# --- helpers ----------------------------------------------------------------------------------------------------

def _settings_out(page: StatusPage) -> PageSettingsOut:
    team_id = page.team_id  # type: ignore[attr-defined]
    return PageSettingsOut(**_page_out(page).model_dump(), theme=page.theme, brand_color=page.brand_color,
                           footer_text=page.footer_text, header_color=page.header_color,
                           uptime_days=page.uptime_days, show_response_times=page.show_response_times,
                           incident_history_days=page.incident_history_days,
                           team_id=None if team_id is None else str(team_id))


def _nodes(nodes: tuple[groups.Node, ...]) -> list[NodeOut]:
    return [NodeOut(kind=n.kind, id=str(n.id), name=n.name, status=n.status, position=i,  # type: ignore[arg-type]
                    items=_nodes(n.items))
            for i, n in enumerate(nodes)]


async def _structure(page_id: int, actor: Actor) -> StructureOut:
    return StructureOut(page_id=str(page_id), items=_nodes(await groups.structure(page_id, actor)))


def _group_out(group: ComponentGroup) -> GroupOut:
    parent = group.parent_id  # type: ignore[attr-defined]
    return GroupOut(id=str(group.id), page_id=str(group.page_id), parent_id=None if parent is None else str(parent),  # type: ignore[attr-defined]
                    name=group.name, position=group.position)


def _renamed(exc: Invalid, names: dict[str, str]) -> Invalid:
    """The service's field names as this API spells them."""
    return Invalid({names.get(name, name): message for name, message in exc.errors.items()})


def _id(value: str, what: str) -> int:
    found = row_id(value)
    if found is None:
        raise NotFound(f"No {what} with id {value}.")
    return found


async def _group(group_id: str, actor: Actor) -> ComponentGroup:
    group = await ComponentGroup.filter(id=_id(group_id, "group")).first()
    if group is None or not await scope.page_in_scope(actor, group.page_id):  # type: ignore[attr-defined]
        raise NotFound(f"No group with id {group_id}.")
    return group


# --- pages ------------------------------------------------------------------------------------------------------

@router.patch("/pages/{page}", tags=["pages"], summary="Change a status page",
              description="Send only the fields to change: title, slug, description, public, active, custom_domain, "
                          "time_zone, theme, brand_color, footer_text, header_color, uptime_days, "
                          "show_response_times, incident_history_days.",
              responses=_problems(403, 404, 422))
async def change_page(page: str, body: PageChange, actor: Key) -> PageSettingsOut:
    authorize(actor, "page.update")
    found = await pages.find_page(page, actor=actor)
    return _settings_out(await pages.update_page(actor, found.id, **body.model_dump(exclude_unset=True)))


@router.get("/pages/{page}/settings", tags=["pages"], summary="Every setting of a page, by id or slug",
            responses=_problems(404, 422))
async def page_settings(page: str, actor: Key) -> PageSettingsOut:
    return _settings_out(await pages.find_page(page, actor=actor))


@router.post("/pages/{page}/activate", tags=["pages"], summary="Publish a draft page",
             responses=_problems(403, 404))
async def activate_page(page: str, actor: Key) -> PageSettingsOut:
    authorize(actor, "page.update")
    return _settings_out(await pages.activate(actor, (await pages.find_page(page, actor=actor)).id))


@router.delete("/pages/{page}", status_code=204, tags=["pages"], summary="Delete a status page",
               description="Its groups, placements, incidents, maintenance and subscribers go with it; its "
                           "components stay (with their other pages).",
               responses=_problems(403, 404))
async def delete_page(page: str, actor: Key) -> Response:
    authorize(actor, "page.delete")
    await pages.delete_page(actor, (await pages.find_page(page, actor=actor)).id)
    return Response(status_code=204)


@router.get("/pages/{page}/structure", tags=["structure"], summary="A page's groups and components, nested, "
            "in display order", responses=_problems(404))
async def page_structure(page: str, actor: Key) -> StructureOut:
    return await _structure((await pages.find_page(page, actor=actor)).id, actor)


@router.post("/pages/{page}/move", tags=["structure"], summary="Reorder, or move into or out of a group",
             description="Puts the component or group at `position` among the items of `parent_group_id` (null: "
                         "the top level). Answers the page's structure afterwards.",
             responses=_problems(403, 404, 422))
async def move(page: str, body: MoveIn, actor: Key) -> StructureOut:
    authorize(actor, "group.move")
    found = await pages.find_page(page, actor=actor)
    try:
        await groups.move(actor, found.id, body.kind, body.id, body.parent_group_id, body.position)  # type: ignore[arg-type]
    except Invalid as exc:
        raise _renamed(exc, {"item_kind": "kind", "item_id": "id", "index": "position"}) from None
    return await _structure(found.id, actor)


@router.put("/pages/{page}/components/{component_id}", status_code=201, tags=["structure"],
            summary="Show a component on this page", description="Last on the top level, or in `group_id`. "
            "A component already on the page answers 422.", responses=_problems(403, 404, 422))
async def place(page: str, component_id: str, actor: Key, response: Response,
                body: PlaceIn | None = None) -> PlacementOut:
    authorize(actor, "component.place")
    found = await pages.find_page(page, actor=actor)
    component = await components.get_component(_id(component_id, "component"), actor=actor)
    placement = await groups.place_component(actor, component.id, found.id, body.group_id if body else None)  # type: ignore[arg-type]
    response.headers["Location"] = f"/api/v1/pages/{found.id}/components/{component.id}"
    group = placement.group_id  # type: ignore[attr-defined]
    return PlacementOut(page_id=str(found.id), component_id=str(component.id),
                        group_id=None if group is None else str(group), position=placement.position)


@router.get("/pages/{page}/components/{component_id}", tags=["structure"], summary="Where a component sits on "
            "this page", responses=_problems(404))
async def placement(page: str, component_id: str, actor: Key) -> PlacementOut:
    found = await pages.find_page(page, actor=actor)
    row = await Placement.filter(page_id=found.id, component_id=_id(component_id, "component")).first()
    if row is None:
        raise NotFound(f"Component {component_id} is not on this page.")
    group = row.group_id  # type: ignore[attr-defined]
    return PlacementOut(page_id=str(found.id), component_id=str(row.component_id),  # type: ignore[attr-defined]
                        group_id=None if group is None else str(group), position=row.position)


@router.delete("/pages/{page}/components/{component_id}", status_code=204, tags=["structure"],
               summary="Stop showing a component on this page", description="The component itself stays.",
               responses=_problems(403, 404))
async def remove(page: str, component_id: str, actor: Key) -> Response:
    authorize(actor, "component.place")
    found = await pages.find_page(page, actor=actor)
    component = await components.get_component(_id(component_id, "component"), actor=actor)
    try:
        await groups.remove_from_page(actor, component.id, found.id)
    except Invalid as exc:  # "That component is not on this page.": nothing at this address
        raise NotFound(exc.errors.get("component_id", str(exc))) from None
    return Response(status_code=204)


# --- groups -----------------------------------------------------------------------------------------------------

@router.post("/groups", status_code=201, tags=["structure"], summary="Create a group",
             description="Last on the page's top level, or inside `parent_id`.", responses=_problems(403, 422))
async def create_group(body: GroupCreate, actor: Key, response: Response) -> GroupOut:
    authorize(actor, "group.create")
    page = await pages.page_field(None, body.page, actor)
    try:
        group = await groups.create_group(actor, page.id, body.name, body.parent_id)  # type: ignore[arg-type]
    except Invalid as exc:
        raise _renamed(exc, {"page_id": "page"}) from None
    response.headers["Location"] = f"/api/v1/groups/{group.id}"
    return _group_out(group)


@router.get("/groups/{group_id}", tags=["structure"], summary="One group", responses=_problems(404))
async def get_group(group_id: str, actor: Key) -> GroupOut:
    return _group_out(await _group(group_id, actor))


@router.patch("/groups/{group_id}", tags=["structure"], summary="Rename a group",
              responses=_problems(403, 404, 422))
async def rename_group(group_id: str, body: GroupChange, actor: Key) -> GroupOut:
    await groups.rename_group(actor, _id(group_id, "group"), body.name)
    return _group_out(await _group(group_id, actor))


@router.delete("/groups/{group_id}", status_code=204, tags=["structure"], summary="Delete a group",
               description="What it holds takes its place in its parent's level.", responses=_problems(403, 404))
async def delete_group(group_id: str, actor: Key) -> Response:
    await groups.delete_group(actor, _id(group_id, "group"))
    return Response(status_code=204)

"""Components, their placement on pages, and the groups that hold them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app import events
from app.auth import Actor, scope
from app.enums import ComponentStatus
from app.services import groups
from app.services.errors import Invalid, NotFound
from app.services.groups import create_group  # noqa: F401  (its home was here; callers still import it so)
from app.services.transaction import authorize, change, diff
from app.services.validation import collect, link_problem, row_id, slug_problem, text_problem
from storage.models import Component, ComponentGroup, Placement, StatusPage

EDITABLE = ("name", "description", "link", "status", "only_show_if_degraded", "show_uptime")


def _fields(component: Component) -> dict[str, Any]:
    return {name: getattr(component, name) for name in EDITABLE}


def parse_status(value: Any, field: str = "status") -> ComponentStatus:
    if isinstance(value, ComponentStatus):
        return value
    text = str(value).strip()
    by_statuspage_name = {s.statuspage: s for s in ComponentStatus}  # clients written for Statuspage
    if text.lower() in by_statuspage_name:
        return by_statuspage_name[text.lower()]
    try:
        return ComponentStatus(text.upper())
    except ValueError:
        allowed = ", ".join(s.value for s in ComponentStatus)
        raise Invalid({field: f"Unknown status '{value}'; use one of {allowed}."}) from None


async def placement_problems(conn: Any, page_id: int, component_ids: list[int]) -> list[str]:
    """What is wrong with naming these components for something on a page: unknown ids, or not on that page."""
    if not component_ids:
        return []
    existing = set(await Component.filter(id__in=component_ids).using_db(conn).values_list("id", flat=True))
    placed = set(await Placement.filter(page_id=page_id, component_id__in=component_ids).using_db(conn)
                 .values_list("component_id", flat=True))
    return [f"No component with id {cid}." if cid not in existing else f"Component {cid} is not on this status page."
            for cid in component_ids if cid not in placed]


async def page_ids_of(component_id: int, conn: Any = None) -> set[int]:
    rows = await Placement.filter(component_id=component_id).using_db(conn).values_list("page_id", flat=True)
    return set(rows)


async def _resolve_pages(refs: list[int | str], conn: Any, actor: Actor | None = None
                         ) -> tuple[list[int], list[str]]:
    """Page ids for refs given as ids or slugs: (found ids in order, refs not found). A page outside the actor's
    scope counts as not found."""
    found: list[int] = []
    missing: list[str] = []
    visible = await scope.visible_page_ids(actor, conn) if refs else None
    for ref in refs:
        query = StatusPage.filter(id=page_id) if (page_id := row_id(ref)) is not None else None
        page = await query.using_db(conn).first() if query is not None else None
        if page is None and isinstance(ref, str) and slug_problem(ref.strip()) is None:
            page = await StatusPage.filter(slug=ref.strip()).using_db(conn).first()
        if page is None or (visible is not None and page.id not in visible):
            missing.append(str(ref))
        elif page.id not in found:
            found.append(page.id)
    return found, missing


async def create_component(actor: Actor, *, name: str, pages: list[int | str] | None = None,
                           description: str = "", status: Any = ComponentStatus.OPERATIONAL,
                           group_id: int | str | None = None, link: str = "") -> Component:
    """A new component, placed on ``pages`` (ids or slugs) and optionally in a group of one of them."""
    name, link = (name or "").strip(), (link or "").strip()
    authorize(actor, "component.create")
    errors = collect(name=text_problem(name, "component name"),
                     description=text_problem(description or "", "description", required=False, max_length=5000),
                     link=link_problem(link))
    try:
        status = parse_status(status)
    except Invalid as exc:
        errors.update(exc.errors)
    async with change(actor, "component.create") as ch:
        page_ids, missing = await _resolve_pages(list(pages or []), ch.conn, actor)
        if missing:
            errors["pages"] = f"No status page {', '.join(repr(m) for m in missing)}."
        group = None
        if group_id is not None:
            gid = row_id(group_id)
            group = await ComponentGroup.filter(id=gid).using_db(ch.conn).first() if gid else None
            if group is not None and not await scope.page_in_scope(actor, group.page_id, ch.conn):  # type: ignore[attr-defined]
                group = None
            if group is None:
                errors["group_id"] = f"No group with id {group_id}."
            elif group.page_id not in page_ids:  # type: ignore[attr-defined]
                page_ids.append(group.page_id)  # type: ignore[attr-defined]
        if errors:
            raise Invalid(errors)
        component = await Component.create(using_db=ch.conn, name=name, description=description, status=status,
                                           link=link)
        for page_id in page_ids:
            in_group = group is not None and group.page_id == page_id  # type: ignore[attr-defined]
            group_here = group.id if in_group else None  # type: ignore[union-attr]
            # last on its own level: components and child groups share one position sequence per level
            position = await groups.end_position(ch.conn, page_id, group_here)
            await Placement.create(using_db=ch.conn, page_id=page_id, component_id=component.id,
                                   group_id=group_here, position=position)
        values = {"name": name, "description": description, "status": status, "link": link, "pages": page_ids,
                  "group_id": group.id if group else None}
        await ch.audit("component.create", "component", component.id, diff({}, values))
        ch.emit(events.COMPONENT_CREATED, {"component_id": component.id, "name": name}, set(page_ids))
    return component


async def update_component(actor: Actor, component_id: int, **values: Any) -> Component:
    """Change fields of a component; a status change is its own permission and event."""
    action = "component.set_status" if set(values) == {"status"} else "component.update"
    authorize(actor, action)  # a caller without the right learns nothing from input checks
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise Invalid({name: "This field cannot be changed." for name in sorted(unknown)})
    errors: dict[str, str] = {}
    if "name" in values:
        values["name"] = (values["name"] or "").strip()
        errors.update(collect(name=text_problem(values["name"], "component name")))
    if "link" in values:
        values["link"] = (values["link"] or "").strip()
        errors.update(collect(link=link_problem(values["link"])))
    if "description" in values:
        values["description"] = values["description"] or ""
        errors.update(collect(description=text_problem(values["description"], "description", required=False,
                                                       max_length=5000)))
    if "status" in values:
        try:
            values["status"] = parse_status(values["status"])
        except Invalid as exc:
            errors.update(exc.errors)
    if errors:
        raise Invalid(errors)
    async with change(actor, action) as ch:
        component = await get_component(component_id, actor=actor, conn=ch.conn)
        before = _fields(component)
        changes = diff(before, values)
        if not changes:
            return component
        # a queryset update skips auto_now: set updated_at so pages and APIs show when it changed
        now = datetime.now(UTC)
        await Component.filter(id=component_id).using_db(ch.conn).update(**values, updated_at=now)
        await ch.audit(action, "component", component_id, changes)
        page_ids = await page_ids_of(component_id, ch.conn)
        if "status" in changes:
            ch.emit(events.COMPONENT_STATUS_CHANGED, {
                "component_id": component_id, "name": values.get("name", component.name),
                "old_status": before["status"].value, "new_status": values["status"].value,
                "updated_at": now.isoformat(),
            }, page_ids)
        if set(changes) - {"status"}:
            ch.emit(events.COMPONENT_UPDATED, {"component_id": component_id}, page_ids)
    return await Component.get(id=component_id)


async def set_status(actor: Actor, component_id: int, status: Any) -> Component:
    return await update_component(actor, component_id, status=status)


async def delete_component(actor: Actor, component_id: int) -> None:
    async with change(actor, "component.delete") as ch:
        component = await get_component(component_id, actor=actor, conn=ch.conn)
        page_ids = await page_ids_of(component_id, ch.conn)
        await Component.filter(id=component_id).using_db(ch.conn).delete()
        before = _fields(component)
        await ch.audit("component.delete", "component", component_id, diff(before, dict.fromkeys(before)),
                       severity="warning")
        ch.emit(events.COMPONENT_DELETED, {"component_id": component_id, "name": component.name}, page_ids)


async def get_component(component_id: int, *, actor: Actor | None = None, conn: Any = None) -> Component:
    """The component; NotFound if there is none or, given an ``actor``, if no page in their scope shows it (a
    component on no page is in everybody's scope)."""
    component = await Component.filter(id=component_id).using_db(conn).first()
    if component is None:
        raise NotFound(f"No component with id {component_id}.")
    await scope.require_component(actor, component_id, conn)
    return component


async def list_components(actor: Actor | None = None, page_id: int | None = None) -> list[Component]:
    """Every component (or those shown on ``page_id``) by id; given an ``actor``, those in their scope."""
    query = Component.all() if page_id is None else Component.filter(placements__page_id=page_id)
    visible = await scope.visible_component_ids(actor)
    if visible is not None:
        query = query.filter(id__in=visible)
    return await query.order_by("id")

"""A page's structure: its groups (nested to any depth), where each component sits on it, and which pages show a
component at all.

A page is a tree. On each level, the components placed there (``Placement.position``) and the child groups
(``ComponentGroup.position``) share ONE position sequence, which is the order the public page shows
(``app.snapshot.ordered``: by position, then kind, then id). Moves, deletions and removals renumber the levels
they touch 0..n-1; new items go last on their level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from app import events
from app.auth import Actor, scope
from app.enums import ComponentStatus
from app.services.errors import Invalid, NotFound
from app.services.transaction import Change, authorize, change, diff
from app.services.validation import collect, row_id, text_problem
from app.status import worst
from storage.models import Component, ComponentGroup, Placement, StatusPage

ItemKind = Literal["component", "group"]
KINDS: tuple[str, ...] = ("component", "group")


@dataclass(slots=True)
class _Item:
    """One entry of a level: a placed component or a child group, with the row that holds its position."""

    kind: str
    id: int  # the component's or the group's id
    row: int  # Placement.id for a component, ComponentGroup.id for a group
    position: int

    @property
    def key(self) -> tuple[str, int]:
        return self.kind, self.id


async def _level(conn: Any, page_id: int, parent_id: int | None) -> list[_Item]:
    """The items directly inside ``parent_id`` (None: the top level) of a page, in display order."""
    groups = await ComponentGroup.filter(page_id=page_id, parent_id=parent_id).using_db(conn) \
        .values_list("id", "position")
    placements = await Placement.filter(page_id=page_id, group_id=parent_id).using_db(conn) \
        .values_list("id", "component_id", "position")
    items = [_Item("group", gid, gid, pos) for gid, pos in groups]
    items += [_Item("component", cid, pid, pos) for pid, cid, pos in placements]
    # the same order as app.snapshot.ordered, so that an index here is the index a viewer sees
    items.sort(key=lambda item: (item.position, item.kind, item.id))
    return items


async def end_position(conn: Any, page_id: int, parent_id: int | None) -> int:
    """The position that puts a new item last on its level. That is the number of items there while the level
    is numbered 0..n-1; a level with gaps (a component deleted since) still gets a position after all of them."""
    items = await _level(conn, page_id, parent_id)
    return max(len(items), max((item.position for item in items), default=-1) + 1)


async def _renumber(conn: Any, items: list[_Item]) -> None:
    """Store positions 0..n-1 in list order, writing only the rows whose position changes."""
    for index, item in enumerate(items):
        if item.position != index:
            model = ComponentGroup if item.kind == "group" else Placement
            await model.filter(id=item.row).using_db(conn).update(position=index)
            item.position = index


async def _lock_page(ch: Change, page_id: int) -> None:
    # two admins dragging on one page at once must not interleave their renumbering (PostgreSQL; SQLite
    # writes one transaction at a time anyway)
    await ch.lock(f"page-structure:{page_id}")


async def _require_page(conn: Any, page_id: int | None, actor: Actor | None = None) -> int:
    """The page's id; NotFound for an unknown page or one outside the actor's scope."""
    if page_id is None or not await StatusPage.filter(id=page_id).using_db(conn).exists() \
            or not await scope.page_in_scope(actor, page_id, conn):
        raise NotFound("No such status page.")
    return page_id


def _optional_id(value: Any) -> tuple[int | None, bool]:
    """(id, ok) for an optional reference: None and "" mean "none"; anything else must name a row."""
    if value is None or value == "":
        return None, True
    parsed = row_id(value)
    return parsed, parsed is not None


@dataclass(frozen=True, slots=True)
class Node:
    """A component or a group of a page as stored, with what the group holds in display order."""

    kind: str  # "component" or "group"
    id: int
    name: str
    status: ComponentStatus  # a group's: the worst inside it
    items: tuple[Node, ...] = ()


async def structure(page_id: int, actor: Actor | None = None) -> tuple[Node, ...]:
    """The page's tree read straight from the database (the editor shows what was stored, not a snapshot that
    may still be rebuilding). Two queries, whatever the size of the page; given an ``actor``, NotFound for a page
    outside their scope."""
    if actor is not None:
        await scope.require_page(actor, page_id)
    group_rows = await ComponentGroup.filter(page_id=page_id).values("id", "name", "parent_id", "position")
    placement_rows = await Placement.filter(page_id=page_id).values(
        "group_id", "position", id="component__id", name="component__name", status="component__status")
    known = {row["id"] for row in group_rows}
    by_parent: dict[int | None, list[tuple[int, str, dict[str, Any]]]] = {}
    for row in group_rows:
        by_parent.setdefault(row["parent_id"] if row["parent_id"] in known else None, []).append(
            (row["position"], "group", row))
    for row in placement_rows:
        by_parent.setdefault(row["group_id"] if row["group_id"] in known else None, []).append(
            (row["position"], "component", row))

    def level(parent: int | None, seen: frozenset[int]) -> tuple[Node, ...]:
        nodes = []
        for _, kind, row in sorted(by_parent.get(parent, []), key=lambda e: (e[0], e[1], e[2]["id"])):
            if kind == "component":
                nodes.append(Node("component", row["id"], row["name"], ComponentStatus(row["status"])))
            elif row["id"] not in seen:  # a cycle in stored parents must not hang the editor
                items = level(row["id"], seen | {row["id"]})
                nodes.append(Node("group", row["id"], row["name"], worst(item.status for item in items), items))
        return tuple(nodes)

    return level(None, frozenset())


# --- groups -------------------------------------------------------------------------------------------------
async def create_group(actor: Actor, page_id: int, name: str, parent_id: int | None = None) -> ComponentGroup:
    """A new group at the end of the page's top level, or of ``parent_id``'s level (a group of the same page)."""
    name = (name or "").strip()
    errors = collect(name=text_problem(name, "group name"))
    parent, parent_ok = _optional_id(parent_id)
    if not parent_ok:
        errors["parent_id"] = "Choose a group of this page, or none."
    async with change(actor, "group.create") as ch:
        page = row_id(page_id)
        if page is None or not await StatusPage.filter(id=page).using_db(ch.conn).exists() \
                or not await scope.page_in_scope(actor, page, ch.conn):
            errors["page_id"] = f"No status page with id {page_id}."
        elif parent is not None and not await ComponentGroup.filter(id=parent, page_id=page).using_db(ch.conn) \
                .exists():
            errors["parent_id"] = "The parent group must exist on the same page."
        if errors:
            raise Invalid(errors)
        assert page is not None
        await _lock_page(ch, page)
        position = await end_position(ch.conn, page, parent)
        group = await ComponentGroup.create(using_db=ch.conn, page_id=page, parent_id=parent, name=name,
                                            position=position)
        await ch.audit("group.create", "group", group.id,
                       diff({}, {"name": name, "page_id": page, "parent_id": parent, "position": position}))
        ch.emit(events.GROUP_CHANGED, {"group_id": group.id, "page_id": page}, {page})
    return group


async def rename_group(actor: Actor, group_id: int, name: str) -> ComponentGroup:
    """Give a group a new name; the same name again writes nothing."""
    authorize(actor, "group.update")  # a caller without the right learns nothing from input checks
    name = (name or "").strip()
    errors = collect(name=text_problem(name, "group name"))
    if errors:
        raise Invalid(errors)
    async with change(actor, "group.update") as ch:
        group = await _group(ch.conn, group_id, actor)
        changes = diff({"name": group.name}, {"name": name})
        if not changes:
            return group
        await ComponentGroup.filter(id=group.id).using_db(ch.conn).update(name=name)
        page_id = group.page_id  # type: ignore[attr-defined]
        await ch.audit("group.update", "group", group.id, changes)
        ch.emit(events.GROUP_CHANGED, {"group_id": group.id, "page_id": page_id}, {page_id})
    group.name = name
    return group


async def delete_group(actor: Actor, group_id: int) -> None:
    """Delete a group but nothing in it: its components and child groups take its place in its parent's level
    (or the top level), in their order."""
    async with change(actor, "group.delete") as ch:
        group = await _group(ch.conn, group_id, actor)
        page_id, parent_id = group.page_id, group.parent_id  # type: ignore[attr-defined]
        await _lock_page(ch, page_id)
        level = await _level(ch.conn, page_id, parent_id)
        inside = await _level(ch.conn, page_id, group.id)
        index = next(i for i, item in enumerate(level) if item.key == ("group", group.id))
        await ComponentGroup.filter(page_id=page_id, parent_id=group.id).using_db(ch.conn).update(parent_id=parent_id)
        await Placement.filter(page_id=page_id, group_id=group.id).using_db(ch.conn).update(group_id=parent_id)
        # empty now: the database's cascade has nothing left to take with it
        await ComponentGroup.filter(id=group.id).using_db(ch.conn).delete()
        await _renumber(ch.conn, level[:index] + inside + level[index + 1:])
        await ch.audit("group.delete", "group", group.id, {
            "name": {"old": group.name, "new": None},
            "page_id": {"old": page_id, "new": None},
            "parent_id": {"old": parent_id, "new": None},
            "position": {"old": index, "new": None},
            # what moved up, so that the entry alone says how to rebuild the group
            "lifted": {"old": [list(item.key) for item in inside], "new": parent_id},
        }, severity="warning")
        ch.emit(events.GROUP_CHANGED, {"group_id": group.id, "page_id": page_id}, {page_id})


async def _group(conn: Any, group_id: Any, actor: Actor | None = None) -> ComponentGroup:
    gid = row_id(group_id)
    group = await ComponentGroup.filter(id=gid).using_db(conn).first() if gid is not None else None
    if group is None or not await scope.page_in_scope(actor, group.page_id, conn):  # type: ignore[attr-defined]
        raise NotFound(f"No group with id {group_id}.")
    return group


# --- where things sit ---------------------------------------------------------------------------------------
async def move(actor: Actor, page_id: int, item_kind: ItemKind | str, item_id: int, parent_group_id: int | None,
               index: int) -> None:
    """Put a component or a group of the page at ``index`` among the items of ``parent_group_id`` (None: the top
    level), counted after taking it out of its old place; an index past the end puts it last. Both levels are
    renumbered 0..n-1. Dropping an item where it already is writes nothing.

    Refused (``Invalid``): an unknown kind, an item not on the page, a parent group of another page, and a group
    into itself or one of its own descendants.
    """
    authorize(actor, "group.move")  # a caller without the right learns nothing from input checks
    errors: dict[str, str] = {}
    if item_kind not in KINDS:
        errors["item_kind"] = "Move a 'component' or a 'group'."
    item = row_id(item_id)
    if item is None:
        errors["item_id"] = f"No {item_kind if item_kind in KINDS else 'item'} with id {item_id}."
    parent, parent_ok = _optional_id(parent_group_id)
    if not parent_ok:
        errors["parent_group_id"] = "Choose a group of this page, or the top level."
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        errors["index"] = "The position must be a whole number, 0 or more."
    if errors:
        raise Invalid(errors)
    assert item is not None

    async with change(actor, "group.move") as ch:
        page = await _require_page(ch.conn, row_id(page_id), actor)
        await _lock_page(ch, page)
        parents: dict[int, int | None] = dict(
            await ComponentGroup.filter(page_id=page).using_db(ch.conn).values_list("id", "parent_id"))
        if item_kind == "group":
            if item not in parents:
                raise Invalid({"item_id": "That group is not on this page."})
            old_parent = parents[item]
        else:
            placement = await Placement.filter(page_id=page, component_id=item).using_db(ch.conn).first()
            if placement is None:
                raise Invalid({"item_id": "That component is not on this page."})
            old_parent = placement.group_id  # type: ignore[attr-defined]
        if parent is not None and parent not in parents:
            raise Invalid({"parent_group_id": "The group must be one of this page's groups."})
        if item_kind == "group" and _within(parent, item, parents):
            raise Invalid({"parent_group_id": "A group cannot be moved into itself or into one of its own groups."})

        old_level = await _level(ch.conn, page, old_parent)
        old_index = next(i for i, entry in enumerate(old_level) if entry.key == (item_kind, item))
        if parent == old_parent and min(index, len(old_level) - 1) == old_index:
            return
        moving = old_level.pop(old_index)
        new_level = old_level if parent == old_parent else await _level(ch.conn, page, parent)
        new_index = min(index, len(new_level))
        new_level.insert(new_index, moving)
        if parent != old_parent:
            if item_kind == "group":
                await ComponentGroup.filter(id=item).using_db(ch.conn).update(parent_id=parent)
            else:
                await Placement.filter(id=moving.row).using_db(ch.conn).update(group_id=parent)
            await _renumber(ch.conn, old_level)
        await _renumber(ch.conn, new_level)
        await ch.audit(f"{item_kind}.move", item_kind, item, {
            "page_id": {"old": page, "new": page},
            "parent_group_id": {"old": old_parent, "new": parent},
            "position": {"old": old_index, "new": new_index},
        })
        ch.emit(events.GROUP_CHANGED, {"page_id": page, "item_kind": item_kind, "item_id": item}, {page})


def _within(group_id: int | None, ancestor: int, parents: dict[int, int | None]) -> bool:
    """Whether ``group_id`` is ``ancestor`` or lies somewhere inside it."""
    seen: set[int] = set()
    while group_id is not None and group_id not in seen:  # ``seen``: a stored cycle must not hang the call
        if group_id == ancestor:
            return True
        seen.add(group_id)
        group_id = parents.get(group_id)
    return False


async def place_component(actor: Actor, component_id: int, page_id: int, group_id: int | None = None) -> Placement:
    """Show an existing component on one more page, last in the top level or in ``group_id`` (of that page)."""
    authorize(actor, "component.place")
    errors: dict[str, str] = {}
    component_ref = row_id(component_id)
    if component_ref is None:
        errors["component_id"] = f"No component with id {component_id}."
    group, group_ok = _optional_id(group_id)
    if not group_ok:
        errors["group_id"] = "Choose a group of this page, or the top level."
    if errors:
        raise Invalid(errors)
    async with change(actor, "component.place") as ch:
        page = await _require_page(ch.conn, row_id(page_id), actor)
        component = await Component.filter(id=component_ref).using_db(ch.conn).first()
        if component is None or not await scope.component_in_scope(actor, component.id, ch.conn):
            raise Invalid({"component_id": f"No component with id {component_id}."})
        await _lock_page(ch, page)
        if await Placement.filter(page_id=page, component_id=component.id).using_db(ch.conn).exists():
            raise Invalid({"component_id": f"'{component.name}' is already on this page."})
        if group is not None and not await ComponentGroup.filter(id=group, page_id=page).using_db(ch.conn).exists():
            raise Invalid({"group_id": "The group must be one of this page's groups."})
        position = await end_position(ch.conn, page, group)
        placement = await Placement.create(using_db=ch.conn, page_id=page, component_id=component.id,
                                           group_id=group, position=position)
        await ch.audit("component.place", "component", component.id, {
            "page_id": {"old": None, "new": page},
            "parent_group_id": {"old": None, "new": group},
            "position": {"old": None, "new": position},
        })
        ch.emit(events.COMPONENT_UPDATED, {"component_id": component.id, "page_id": page}, {page})
    return placement


async def remove_from_page(actor: Actor, component_id: int, page_id: int) -> None:
    """Stop showing a component on one page. The component itself stays, with its other pages and history, and
    can be placed again."""
    authorize(actor, "component.place")
    component_ref = row_id(component_id)
    if component_ref is None:
        raise Invalid({"component_id": f"No component with id {component_id}."})
    async with change(actor, "component.place") as ch:
        page = await _require_page(ch.conn, row_id(page_id), actor)
        await _lock_page(ch, page)
        placement = await Placement.filter(page_id=page, component_id=component_ref).using_db(ch.conn).first()
        if placement is None:
            raise Invalid({"component_id": "That component is not on this page."})
        parent = placement.group_id  # type: ignore[attr-defined]
        level = await _level(ch.conn, page, parent)
        index = next(i for i, entry in enumerate(level) if entry.key == ("component", component_ref))
        await Placement.filter(id=placement.id).using_db(ch.conn).delete()
        await _renumber(ch.conn, level[:index] + level[index + 1:])
        await ch.audit("component.remove_from_page", "component", component_ref, {
            "page_id": {"old": page, "new": None},
            "parent_group_id": {"old": parent, "new": None},
            "position": {"old": index, "new": None},
        })
        ch.emit(events.COMPONENT_UPDATED, {"component_id": component_ref, "page_id": page}, {page})

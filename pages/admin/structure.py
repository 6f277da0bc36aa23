"""/admin/pages/{page_id}/structure: a page's groups and components as a tree to rearrange by drag and drop.

Every level of the tree is a SortableJS list (NiceGUI's ``make_sortable``) sharing one sortable group, so that a
row can be dropped into any other level. A drop calls ``groups.move`` and the tree is drawn again from the
database, so the screen always shows what was stored — also when the move was refused. Each visitor's tree,
its drag bookkeeping and its collapsed groups live in that visitor's ``StructureEditor``, never at module level
(which every client would share).

The same moves are offered without dragging in each row's menu (up, down, into the group above, out of the
group), for keyboards and for anyone who cannot drag precisely.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import Request
from nicegui import background_tasks, ui
from nicegui.events import SortableEventArguments

from app.auth import Actor, scope
from app.enums import ComponentStatus
from app.services import groups
from app.services.errors import Invalid, ServiceError
from app.services.groups import Node
from app.services.validation import text_problem
from app.snapshot import store
from pages.admin.page_editor import scoped_page
from pages.theme import Form, frame, notify_done
from storage.models import Component, Placement, StatusPage

log = logging.getLogger(__name__)

SORTABLE_GROUP = "structure"  # one name for every level: rows may move between groups and levels
HANDLE = ".drag-handle"
# SortableJS's recommendation for nested lists: let the dragged row float on <body> and swap only once the pointer
# is well inside a neighbour, so that entering a nested list is deliberate
SORTABLE_OPTIONS = {"fallbackOnBody": True, "swapThreshold": 0.65, "emptyInsertThreshold": 12}
TOP = ""  # the "top level" choice of the group selects

# dark text on a light tint: AA contrast on the white admin background
STATUS_LOOK = {
    ComponentStatus.OPERATIONAL: "bg-green-100 text-green-900",
    ComponentStatus.DEGRADED: "bg-amber-100 text-amber-900",
    ComponentStatus.PARTIAL_OUTAGE: "bg-orange-100 text-orange-900",
    ComponentStatus.MAJOR_OUTAGE: "bg-red-100 text-red-900",
    ComponentStatus.MAINTENANCE: "bg-blue-100 text-blue-900",
}
ROW = "w-full items-center gap-1 sm:gap-2 no-wrap px-1 sm:px-2 py-1"
# name and status side by side; on a phone the status goes under the name rather than squeezing it away
NAME_AND_STATUS = "grow min-w-0 flex flex-col items-start gap-0.5 sm:flex-row sm:items-center sm:gap-2"
LEVEL = "tree-level w-full gap-1"
CSS = """
.tree-level:empty { min-height: 2.5rem; border: 1px dashed #cbd5e1; border-radius: .375rem; }
.tree-level:empty::before { content: "Drop components or groups here"; color: #64748b; font-size: .8125rem;
                            padding: .625rem .75rem; }
.drag-handle { cursor: grab; touch-action: none; }
.sortable-chosen .drag-handle, .sortable-drag .drag-handle { cursor: grabbing; }
"""


def _attr(text: str) -> str:
    return text.replace('"', "&quot;")


BADGE = "shrink-0 rounded-full px-2 py-0.5 text-xs font-medium"


def status_badge(status: ComponentStatus) -> ui.label:
    return ui.label(status.label).classes(f"{BADGE} {STATUS_LOOK[status]}").props(f'data-status="{status.value}"')


def icon_button(icon: str, label: str, on_click: Callable[[], Any] | None = None) -> ui.button:
    """A round icon button, named for screen readers by ``label``."""
    return ui.button(icon=icon, on_click=on_click).props(f'flat round dense color=grey-8 aria-label="{_attr(label)}"')


def show_status(badge: ui.label, status: ComponentStatus) -> None:
    badge.set_text(status.label)
    badge.classes(replace=f"{BADGE} {STATUS_LOOK[status]}")
    badge.props(f'data-status="{status.value}"')


def shape(nodes: tuple[Node, ...]) -> tuple:
    """The tree without statuses: what a status change leaves alone."""
    return tuple((node.kind, node.id, node.name, shape(node.items)) for node in nodes)


def statuses(nodes: tuple[Node, ...]) -> dict[tuple[str, int], ComponentStatus]:
    found: dict[tuple[str, int], ComponentStatus] = {}
    for node in nodes:
        found[(node.kind, node.id)] = node.status
        found.update(statuses(node.items))
    return found


def group_paths(nodes: Iterable[Node], prefix: str = "") -> dict[int, str]:
    """Each group's name with its parents', e.g. 'Regions › Europe', in display order."""
    paths: dict[int, str] = {}
    for node in nodes:
        if node.kind == "group":
            path = f"{prefix} › {node.name}" if prefix else node.name
            paths[node.id] = path
            paths.update(group_paths(node.items, path))
    return paths


class StructureEditor:
    """One visitor's editor of one page's structure."""

    def __init__(self, page: StatusPage, actor: Actor) -> None:
        self.page_id = page.id
        self.actor = actor
        self.nodes: tuple[Node, ...] | None = None  # what the tree shows
        self.collapsed: set[int] = set()
        # what a drop refers to: sortable row element id → (kind, id); list element id → its group (None: top)
        self.rows: dict[int, tuple[str, int]] = {}
        self.levels: dict[int, int | None] = {}
        self._stop: Callable[[], None] | None = None
        self._reloading = False
        self._again = False  # another reload was asked for while one ran
        self._force_again = False
        self._toggles: dict[int, tuple[ui.button, ui.element]] = {}  # group id → its toggle and its contents
        self._badges: dict[tuple[str, int], ui.label] = {}  # (kind, id) → its status badge
        self._parents: dict[int, Node | None] = {}  # group id → the group around it (None: the top level)

        ui.add_css(CSS)
        with ui.card().classes("w-full gap-2 p-5"):
            with ui.row().classes("w-full items-baseline justify-between"):
                ui.label("Components and groups").classes("text-lg font-semibold")
                ui.label("Drag ⠿ to reorder, or onto another group to move it there.") \
                    .classes("text-sm text-slate-600")
            self.empty = ui.label("Nothing on this page yet: add a group or a component below.") \
                .classes("text-slate-600")
            self.root = self._level(None)
        with ui.row().classes("w-full gap-6 items-start"):
            self._new_group_form()
            self._place_form()

    # --- the tree ---------------------------------------------------------------------------------------------
    def _level(self, group_id: int | None) -> ui.column:
        level = ui.column().classes(LEVEL).props(f'data-level="{group_id or "top"}"')
        level.make_sortable(SORTABLE_OPTIONS, group=SORTABLE_GROUP, handle=HANDLE, on_end=self._dropped)
        self.levels[level.id] = group_id
        return level

    def render(self, nodes: tuple[Node, ...]) -> None:
        self.nodes = nodes
        self.rows.clear()
        self._toggles.clear()
        self._badges.clear()
        self._parents.clear()
        self.levels = {self.root.id: None}
        self.root.clear()
        with self.root:
            self._items(nodes, None)
        self.empty.set_visibility(not nodes)
        self._update_choices(nodes)

    def _items(self, nodes: tuple[Node, ...], parent: Node | None) -> None:
        for index, node in enumerate(nodes):
            if node.kind == "group":
                self._group(node, parent, nodes, index)
            else:
                self._component(node, parent, nodes, index)

    def _component(self, node: Node, parent: Node | None, siblings: tuple[Node, ...], index: int) -> None:
        with ui.row().classes(f"{ROW} rounded border border-slate-200 bg-white") as row:
            row.props(f'data-component-id="{node.id}"').mark(f"component-{node.id}")
            self._handle(node)
            ui.icon("widgets", size="xs").classes("text-slate-400 max-sm:hidden")
            with ui.element("div").classes(NAME_AND_STATUS):
                ui.label(node.name).classes("grow min-w-0 max-w-full truncate")
                self._badges[("component", node.id)] = status_badge(node.status)
            self._menu(node, parent, siblings, index)
            icon_button("remove_circle_outline", f"Remove {node.name} from this page", lambda n=node: self._remove(n)) \
                .classes("max-sm:hidden").mark(f"remove-{node.id}") \
                .tooltip("Remove from this page (the component stays on its other pages)")
        self.rows[row.id] = ("component", node.id)

    def _group(self, node: Node, parent: Node | None, siblings: tuple[Node, ...], index: int) -> None:
        self._parents[node.id] = parent
        open_ = node.id not in self.collapsed
        with ui.column().classes("w-full gap-1 rounded border border-slate-300 bg-slate-50 p-1") as box:
            box.props(f'data-group-id="{node.id}"').mark(f"group-{node.id}")
            with ui.row().classes(ROW):
                self._handle(node)
                toggle = icon_button("expand_more", f"Collapse {node.name}", lambda n=node: self._toggle(n))
                with ui.element("div").classes(NAME_AND_STATUS):
                    ui.label(node.name).classes("grow min-w-0 max-w-full truncate font-semibold")
                    ui.label(f"{len(node.items)} inside").classes("text-xs text-slate-500 shrink-0 max-sm:hidden")
                    self._badges[("group", node.id)] = status_badge(node.status)
                self._menu(node, parent, siblings, index)
                icon_button("edit", f"Rename {node.name}", lambda n=node: self._rename_dialog(n)) \
                    .classes("max-sm:hidden").mark(f"rename-{node.id}").tooltip("Rename")
                icon_button("delete_outline", f"Delete {node.name}", lambda n=node: self._delete_dialog(n)) \
                    .classes("max-sm:hidden").mark(f"delete-{node.id}") \
                    .tooltip("Delete the group; what it holds stays on the page")
            with ui.element("div").classes("w-full pl-3 sm:pl-7 pr-1 pb-1") as inner:
                with self._level(node.id):
                    self._items(node.items, node)
        self.rows[box.id] = ("group", node.id)
        self._toggles[node.id] = (toggle, inner)
        self._show_open(node, open_)

    def _show_open(self, node: Node, open_: bool) -> None:
        toggle, inner = self._toggles[node.id]
        toggle.props(f'icon={"expand_more" if open_ else "chevron_right"} aria-expanded="{str(open_).lower()}" '
                     f'aria-label="{"Collapse" if open_ else "Expand"} {_attr(node.name)}"')
        inner.set_visibility(open_)

    @staticmethod
    def _handle(node: Node) -> None:
        ui.icon("drag_indicator").classes("drag-handle text-slate-500 text-xl shrink-0") \
            .props(f'aria-label="Drag {_attr(node.name)}" role="img"')

    def _menu(self, node: Node, parent: Node | None, siblings: tuple[Node, ...], index: int) -> None:
        """The moves a drag can make, one click each; then the row's own actions, whose buttons a phone hides."""
        previous = siblings[index - 1] if index > 0 else None
        parent_id = parent.id if parent is not None else None
        choices: list[tuple[str, str, int | None, int]] = []  # (what, its label, new parent, new index)
        if index > 0:
            choices.append(("up", "Move up", parent_id, index - 1))
        if index < len(siblings) - 1:
            choices.append(("down", "Move down", parent_id, index + 1))
        if previous is not None and previous.kind == "group":
            choices.append(("into", f"Move into {previous.name}", previous.id, len(previous.items)))
        if parent is not None:
            grandparent = self._parents[parent.id]
            outer = grandparent.items if grandparent is not None else (self.nodes or ())
            choices.append(("out", f"Move out of {parent.name}", grandparent.id if grandparent else None,
                            outer.index(parent) + 1))
        with icon_button("more_vert", f"Actions for {node.name}").mark(f"move-{node.kind}-{node.id}"):
            with ui.menu():
                for what, label, target, at in choices:
                    ui.menu_item(label, on_click=lambda t=target, i=at, n=node: self._move(n.kind, n.id, t, i)) \
                        .mark(f"move-{node.kind}-{node.id}-{what}")
                if choices:
                    ui.separator()
                if node.kind == "group":
                    ui.menu_item("Rename…", on_click=lambda n=node: self._rename_dialog(n))
                    ui.menu_item("Delete group…", on_click=lambda n=node: self._delete_dialog(n))
                else:
                    ui.menu_item("Remove from this page", on_click=lambda n=node: self._remove(n))

    def _toggle(self, node: Node) -> None:
        self.collapsed.symmetric_difference_update({node.id})
        self._show_open(node, node.id not in self.collapsed)

    # --- changes --------------------------------------------------------------------------------------------
    async def _dropped(self, e: SortableEventArguments) -> None:
        item = self.rows.get(e.item.id)
        if item is None or e.target.id not in self.levels:  # from a tree drawn over since: show the stored one
            await self.reload(force=True)
            return
        if e.source is e.target and e.old_index == e.new_index:
            return
        await self._move(item[0], item[1], self.levels[e.target.id], e.new_index)

    async def _move(self, kind: str, item_id: int, parent_id: int | None, index: int) -> None:
        try:
            await groups.move(self.actor, self.page_id, kind, item_id, parent_id, index)
        except ServiceError as exc:
            ui.notify(_message(exc), type="negative")
        # SortableJS has already moved the row in the browser: draw what was stored, moved or refused
        await self.reload(force=True)

    async def _remove(self, node: Node) -> None:
        try:
            await groups.remove_from_page(self.actor, node.id, self.page_id)
        except ServiceError as exc:
            ui.notify(_message(exc), type="negative")
        else:
            notify_done(f"'{node.name}' removed from this page")
        await self.reload()

    def _rename_dialog(self, node: Node) -> None:
        form = Form()
        with ui.dialog() as dialog, ui.card().classes("w-96 gap-3"):
            ui.label(f"Rename {node.name}").classes("text-lg font-semibold")
            name = form.field("name", ui.input("Group name", value=node.name).props("outlined dense autofocus")
                              .classes("w-full"), lambda v: text_problem(v.strip(), "group name"))
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                save = form.submits(ui.button("Save"))

        async def submit() -> None:
            if not form.check_all():
                return
            try:
                group = await groups.rename_group(self.actor, node.id, name.value)
            except ServiceError as exc:
                form.show(exc)
                return
            dialog.close()
            notify_done(f"Group renamed to '{group.name}'")
            await self.reload()

        save.on_click(submit)
        name.on("keydown.enter", submit)
        dialog.on("hide", dialog.delete)  # a dialog per click: gone once closed
        dialog.open()

    def _delete_dialog(self, node: Node) -> None:
        parent = self._parents.get(node.id)
        where = f"the group {parent.name}" if parent is not None else "the top level"
        held = len(node.items)
        with ui.dialog() as dialog, ui.card().classes("w-96 gap-3"):
            ui.label(f"Delete the group {node.name}?").classes("text-lg font-semibold")
            ui.label(f"The {held} item{'s' if held != 1 else ''} inside it move up to {where}, in its place."
                     if held else "It is empty.").classes("text-slate-700")
            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                confirm = ui.button("Delete group", color="negative")

        async def delete() -> None:
            try:
                await groups.delete_group(self.actor, node.id)
            except ServiceError as exc:
                ui.notify(_message(exc), type="negative")
            else:
                notify_done(f"Group '{node.name}' deleted")
            dialog.close()
            await self.reload()

        confirm.on_click(delete)
        dialog.on("hide", dialog.delete)
        dialog.open()

    def _new_group_form(self) -> None:
        form = Form()
        with ui.card().classes("grow basis-80 gap-3 p-5"):
            ui.label("New group").classes("text-lg font-semibold")
            name = form.field("name", ui.input("New group name").props("outlined dense").classes("w-full"),
                              lambda v: text_problem(v.strip(), "group name"))
            self.group_parent = ui.select({TOP: "Top level"}, value=TOP, label="Inside") \
                .props("outlined dense options-dense").classes("w-full").mark("new-group-parent")
            button = form.submits(ui.button("Add group", icon="create_new_folder"))

        async def add() -> None:
            if not form.check_all():
                return
            parent = self.group_parent.value or None
            try:
                group = await groups.create_group(self.actor, self.page_id, name.value, parent)
            except ServiceError as exc:
                form.show(exc)
                return
            notify_done(f"Group '{group.name}' added")
            form.reset()
            if parent is not None:
                self.collapsed.discard(parent)  # show the new group where it went
            await self.reload()

        button.on_click(add)
        name.on("keydown.enter", add)

    def _place_form(self) -> None:
        with ui.card().classes("grow basis-80 gap-3 p-5"):
            ui.label("Show a component from another page").classes("text-lg font-semibold")
            self.candidates = ui.select({}, label="Component", with_input=True) \
                .props("outlined dense options-dense").classes("w-full").mark("place-component")
            self.place_parent = ui.select({TOP: "Top level"}, value=TOP, label="Inside") \
                .props("outlined dense options-dense").classes("w-full").mark("place-parent")
            self.place_button = ui.button("Add to this page", icon="add_link", on_click=self._place)
            self.no_candidates = ui.label("Every component is on this page already.").classes("text-sm text-slate-600")

    async def _place(self) -> None:
        component_id = self.candidates.value
        if component_id is None:
            self.candidates.error = "Choose a component."
            return
        self.candidates.error = None
        try:
            await groups.place_component(self.actor, component_id, self.page_id, self.place_parent.value or None)
        except ServiceError as exc:
            ui.notify(_message(exc), type="negative")
        else:
            notify_done(f"'{self.candidates.options.get(component_id, 'Component')}' added to this page")
            self.candidates.set_value(None)
        await self.reload(force=True)  # also when refused: the list of candidates may be out of date

    def _update_choices(self, nodes: tuple[Node, ...]) -> None:
        options = {TOP: "Top level", **group_paths(nodes)}
        for select in (self.group_parent, self.place_parent):
            if select.value not in options:
                select.value = TOP
            select.set_options(options, value=select.value)

    async def _load_candidates(self) -> None:
        """Components not on this page, each with the pages that show it: only components and pages in the
        visitor's scope (app/auth/scope.py)."""
        here = set(await Placement.filter(page_id=self.page_id).values_list("component_id", flat=True))
        visible_pages = await scope.visible_page_ids(self.actor)
        visible_components = await scope.visible_component_ids(self.actor)
        shown_on: dict[int, list[str]] = {}
        for component_id, page_id, title in await Placement.exclude(page_id=self.page_id) \
                .values_list("component_id", "page_id", "page__title"):
            if visible_pages is None or page_id in visible_pages:
                shown_on.setdefault(component_id, []).append(title)
        options = {}
        for component_id, name in await Component.all().order_by("name", "id").values_list("id", "name"):
            if component_id not in here and (visible_components is None or component_id in visible_components):
                pages = ", ".join(sorted(shown_on.get(component_id, []))) or "no page"
                options[component_id] = f"{name} (on {pages})"
        value = self.candidates.value if self.candidates.value in options else None
        self.candidates.set_options(options, value=value)
        self.candidates.set_visibility(bool(options))
        self.place_parent.set_visibility(bool(options))
        self.place_button.set_visibility(bool(options))
        self.no_candidates.set_visibility(not options)

    # --- reading the stored tree --------------------------------------------------------------------------------
    async def reload(self, force: bool = False) -> None:
        """Draw the stored tree when it differs from the one shown (``force``: in any case). Calls made while a
        reload runs collapse into one more after it."""
        if self._reloading:
            self._again = True
            self._force_again = self._force_again or force
            return
        self._reloading = True
        try:
            while True:
                nodes = await groups.structure(self.page_id)
                if self.root.is_deleted:
                    return
                if force or self.nodes is None or shape(nodes) != shape(self.nodes):
                    self.render(nodes)
                    await self._load_candidates()
                elif nodes != self.nodes:
                    # only statuses changed (monitors do that often): redrawing the tree would cut short a drag
                    self._show_statuses(nodes)
                if not self._again:
                    return
                self._again = False
                force, self._force_again = self._force_again, False
        finally:
            self._reloading = False

    def _show_statuses(self, nodes: tuple[Node, ...]) -> None:
        shown = statuses(self.nodes or ())
        for key, status in statuses(nodes).items():
            if shown.get(key) is not status and key in self._badges:
                show_status(self._badges[key], status)
        self.nodes = nodes

    def follow(self) -> None:
        """Follow changes made elsewhere (another admin, the API, monitors) while the browser is connected."""
        if self._stop is None:
            self._stop = store.listen(self.page_id, lambda _: background_tasks.create(
                self.reload(), name=f"structure reload {self.page_id}"))
        background_tasks.create(self.reload(), name=f"structure reload {self.page_id}")

    def unfollow(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None


def _message(exc: ServiceError) -> str:
    return " ".join(exc.errors.values()) if isinstance(exc, Invalid) else str(exc)


@ui.page("/admin/pages/{page_id}/structure")
async def structure_editor(request: Request, page_id: str) -> None:
    found = await scoped_page(request, page_id)
    if found is None:
        return
    user, page, actor = found
    with frame(f"Structure of {page.title}", user.email, user.role):
        with ui.row().classes("w-full items-center justify-between"):
            with ui.column().classes("gap-0"):
                ui.link("← Dashboard", "/admin").classes("text-sm")
                ui.label(f"Structure of {page.title}").classes("text-2xl font-semibold")
            with ui.row().classes("gap-1"):
                ui.button("Edit page", icon="edit").props(f'flat dense no-caps href="/admin/pages/{page.id}"')
                ui.button("View", icon="open_in_new") \
                    .props(f'flat dense no-caps href="/status/{page.slug}" target="_blank"')
        editor = StructureEditor(page, actor)
    await editor.reload()

    client = ui.context.client
    client.on_connect(editor.follow)
    client.on_disconnect(editor.unfollow)
    client.on_delete(editor.unfollow)

"""/admin: every status page at a glance — its overall status, what is not operational, and a quick status
change per component — following changes made elsewhere (another admin, the API, monitors) without a reload.

Each card is drawn from the page's snapshot (app/snapshot.py) and updated in place from ``store.listen``: a
rebuild touches only the elements whose value changed, on the clients that show that page. The subscriptions
live while the browser is connected, so a tab that never connects or has gone costs no work per change.

Only the pages in the visitor's scope are shown (app/auth/scope.py): MEMBER and READ_ONLY users see the pages of
their teams and the pages of no team.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import Request
from nicegui import ui

from app import events
from app.auth import Actor, allowed, scope
from app.enums import ComponentStatus
from app.events import bus
from app.services import components as component_service
from app.services import pages as page_service
from app.services.errors import ServiceError
from app.services.validation import slug_problem, text_problem
from app.snapshot import ComponentView, PageSnapshot, store
from pages import session
from pages.theme import Form, frame, notify_done
from storage.models import StatusPage

STATUS_OPTIONS = {s.value: s.label for s in ComponentStatus}
OPERATIONAL = ComponentStatus.OPERATIONAL

# On-call order: the worst first, maintenance (planned) last among the ones needing a look.
ATTENTION_ORDER = {ComponentStatus.MAJOR_OUTAGE: 0, ComponentStatus.PARTIAL_OUTAGE: 1, ComponentStatus.DEGRADED: 2,
                   ComponentStatus.MAINTENANCE: 3}

# on a phone the select wraps below the name; from `sm` up they share one line and long names are cut
ROW = "w-full items-center gap-x-3 gap-y-1 sm:flex-nowrap rounded px-3 py-1 border-l-4"
ROW_TONE = {
    ComponentStatus.OPERATIONAL: "border-transparent",
    ComponentStatus.DEGRADED: "border-amber-500 bg-amber-50",
    ComponentStatus.PARTIAL_OUTAGE: "border-orange-500 bg-orange-50",
    ComponentStatus.MAJOR_OUTAGE: "border-red-600 bg-red-50",
    ComponentStatus.MAINTENANCE: "border-blue-500 bg-blue-50",
}
# Statuspage indicator → icon and a tint with dark text (AA contrast on the light admin theme)
BANNER = "w-full items-center gap-3 rounded-lg border-l-8 px-4 py-3"
INDICATOR_LOOK = {
    "none": ("check_circle", "border-green-600 bg-green-50 text-green-900"),
    "minor": ("error", "border-amber-500 bg-amber-50 text-amber-900"),
    "major": ("warning", "border-orange-500 bg-orange-50 text-orange-900"),
    "critical": ("report", "border-red-600 bg-red-50 text-red-900"),
    "maintenance": ("construction", "border-blue-600 bg-blue-50 text-blue-900"),
}
LIST = "w-full grid grid-cols-1 lg:grid-cols-2 gap-x-4 gap-y-1"


def suggest_slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:64]


async def slug_taken(slug: str) -> str | None:
    """The service's message for a slug another page uses, or None (a courtesy read: create_page decides)."""
    slug = slug.strip()
    if await StatusPage.filter(slug=slug).exists():
        return f"The slug '{slug}' is already used by another page."
    return None


def not_operational(snapshot: PageSnapshot) -> int:
    return sum(1 for c in snapshot.all_components if c.status is not OPERATIONAL)


def count_text(snapshot: PageSnapshot) -> str:
    total = len(snapshot.all_components)
    if total == 0:
        return "No components yet"
    broken = not_operational(snapshot)
    if broken == 0:
        return f"{total} component{'s' if total > 1 else ''} · all operational"
    return f"{broken} of {total} not operational"


def group_paths(snapshot: PageSnapshot) -> dict[int, str]:
    """Each group's name with its parents', e.g. 'Regions › Europe' (all_groups lists parents first)."""
    paths: dict[int, str] = {}
    for group in snapshot.all_groups:
        parent = paths.get(group.parent_id) if group.parent_id is not None else None
        paths[group.id] = f"{parent} › {group.name}" if parent else group.name
    return paths


def _set_text(label: ui.label | ui.link, text: str) -> None:
    if label.text != text:
        label.set_text(text)


class ComponentRow:
    """One component: name, group, and the select that changes its status."""

    def __init__(self, card: PageCard, component: ComponentView) -> None:
        self.card = card
        self.component_id = component.id
        # the status the snapshot last showed; a select change to any other value is the visitor's choice
        self.status = component.status
        self.name_text = component.name
        with ui.row().classes(f"{ROW} {ROW_TONE[component.status]}") as self.element:
            with ui.column().classes("gap-0 grow min-w-0"):
                self.name = ui.label(component.name).classes("w-full font-medium truncate")
                self.group = ui.label("").classes("w-full text-xs text-slate-500 truncate")
            self.select = ui.select(STATUS_OPTIONS, value=component.status.value,
                                    on_change=lambda e: self._chosen(e.value)) \
                .props(f'outlined dense options-dense aria-label="Status of {_attr(component.name)}"') \
                .classes("w-full sm:w-52 shrink-0").mark(f"status-{component.id}")
            if not card.may_set_status:
                self.select.disable()

    def show(self, component: ComponentView, group: str) -> None:
        if component.name != self.name_text:
            self.name_text = component.name
            self.name.set_text(component.name)
            self.select.props(f'aria-label="Status of {_attr(component.name)}"')
        _set_text(self.group, group)
        if component.status is not self.status:
            self.element.classes(remove=ROW_TONE[self.status], add=ROW_TONE[component.status])
            self.status = component.status
            self.select.set_value(component.status.value)

    async def _chosen(self, value: str) -> None:
        if value == self.status.value:  # the snapshot's own update (or a revert), not a choice
            return
        try:
            component = await component_service.set_status(self.card.actor, self.component_id, value)
        except ServiceError as exc:
            ui.notify(str(exc), type="negative")
            self.select.set_value(self.status.value)
            return
        notify_done(f"{component.name}: {ComponentStatus(value).label}")


class PageCard:
    """One status page: title and links, the overall indicator, the components needing attention first."""

    def __init__(self, page_id: int, actor: Actor) -> None:
        self.page_id = page_id
        self.actor = actor
        # a read-only user sees everything but is offered no change the service would refuse
        self.may_set_status = allowed(actor.role, "component.set_status")
        self.version = -1
        self.tone = ""
        self.rows: dict[int, ComponentRow] = {}
        self._stop: Callable[[], None] | None = None
        with ui.card().classes("w-full gap-3 p-5") as self.element:
            with ui.row().classes("w-full items-start justify-between gap-2"):
                with ui.column().classes("gap-0"):
                    with ui.row().classes("items-center gap-2"):
                        self.title = ui.label("…").classes("text-lg font-semibold")
                        self.draft = ui.badge("Draft", color="amber-2", text_color="amber-10").props("rounded")
                        self.private = ui.badge("Private", color="grey-3", text_color="grey-9").props("rounded")
                    self.address = ui.link("", "#", new_tab=True).classes("text-sm text-slate-600")
                with ui.row().classes("items-center gap-1"):
                    self.view = ui.button("View", icon="open_in_new").props('flat dense no-caps target="_blank"')
                    ui.button("Edit page", icon="edit").props(f'flat dense no-caps href="/admin/pages/{page_id}"')
                    ui.button("Structure", icon="account_tree") \
                        .props(f'flat dense no-caps href="/admin/pages/{page_id}/structure"')
            with ui.row().classes(BANNER) as self.banner:
                self.icon = ui.icon("hourglass_empty").classes("text-2xl")
                self.indicator = ui.label("Loading…").classes("text-base font-semibold")
                self.count = ui.label("").classes("ml-auto text-sm font-medium")
            self.attention = ui.element("div").classes(LIST)
            self.rest_heading = ui.label("Operational").classes("text-xs font-semibold uppercase tracking-wide "
                                                                "text-slate-500 pt-1")
            self.rest = ui.element("div").classes(LIST)
            if allowed(actor.role, "component.create"):
                self._add_component_form()
        self.draft.set_visibility(False)  # until the snapshot says so
        self.private.set_visibility(False)
        self.element.props(f'data-page-id="{page_id}"')

    def _add_component_form(self) -> None:
        form = Form()
        with ui.row().classes("w-full items-start gap-2 border-t border-slate-200 pt-3"):
            name = form.field("name", ui.input("New component name").props("outlined dense").classes("grow"),
                              lambda v: text_problem(v.strip(), "component name"))
            button = form.submits(ui.button("Add component", icon="add").props("outline"))

        async def add() -> None:
            if not form.check_all():
                return
            try:
                await component_service.create_component(self.actor, name=name.value, pages=[self.page_id])
            except ServiceError as exc:
                form.show(exc)
                return
            notify_done(f"Component '{name.value.strip()}' added")
            form.reset()  # the row itself arrives with the page's next snapshot

        button.on_click(add)
        name.on("keydown.enter", add)

    # --- following the snapshot -----------------------------------------------------------------------------
    def follow(self) -> None:
        if self._stop is None:
            self._stop = store.listen(self.page_id, self.show)
        snapshot = store.get(self.page_id)  # what changed while nobody listened
        if snapshot is not None:
            self.show(snapshot)

    def unfollow(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def show(self, snapshot: PageSnapshot) -> None:
        if snapshot.version == self.version or self.element.is_deleted:
            return
        self.version = snapshot.version
        page = snapshot.page
        _set_text(self.title, page.title)
        _set_text(self.address, f"/status/{page.slug}")
        self.element.props(f'data-page="{page.slug}"')
        self.address.props(f'href="/status/{page.slug}"')
        self.view.props(f'href="/status/{page.slug}"')
        self.draft.set_visibility(not page.active)
        self.private.set_visibility(not page.public)

        icon, tone = INDICATOR_LOOK[snapshot.indicator.indicator]
        if tone != self.tone:
            # remove/add, not replace: replacing would also drop NiceGUI's own row class
            self.banner.classes(remove=self.tone or None, add=tone)
            self.tone = tone
            self.icon.set_name(icon)
        _set_text(self.indicator, snapshot.indicator.description)
        _set_text(self.count, count_text(snapshot))

        paths = group_paths(snapshot)
        shown = set()
        for component in snapshot.all_components:
            shown.add(component.id)
            row = self.rows.get(component.id)
            if row is None:
                with self.rest:
                    row = self.rows[component.id] = ComponentRow(self, component)
            row.show(component, paths.get(component.group_id, "") if component.group_id else "")
        for gone in set(self.rows) - shown:
            self.rows.pop(gone).element.delete()

        display = list(snapshot.all_components)
        attention = sorted((c for c in display if c.status is not OPERATIONAL),
                           key=lambda c: ATTENTION_ORDER[c.status])  # stable: display order within a status
        _arrange(self.attention, [self.rows[c.id].element for c in attention])
        _arrange(self.rest, [self.rows[c.id].element for c in display if c.status is OPERATIONAL])
        self.attention.set_visibility(bool(attention))
        self.rest_heading.set_visibility(bool(attention) and len(attention) < len(display))


def _arrange(container: ui.element, elements: list[ui.element]) -> None:
    """Put ``elements`` into ``container`` in this order, moving only those not already in place."""
    for index, element in enumerate(elements):
        children = container.default_slot.children
        if index >= len(children) or children[index] is not element:
            element.move(container, index)


def _attr(text: str) -> str:
    return text.replace('"', "&quot;")


class Board:
    """Every page's card (of the pages in the actor's scope, ``visible``: None for all); pages created or deleted
    elsewhere, or moved into or out of the actor's teams, come and go while the browser is connected."""

    def __init__(self, actor: Actor, visible: set[int] | None = None) -> None:
        self.actor = actor
        self.cards: dict[int, PageCard] = {}
        self.following = False
        self._on_event = self._page_event  # one bound method, so that unsubscribe finds it
        self.empty = ui.label("No status pages yet. Create the first one below.").classes("text-slate-600")
        self.container = ui.column().classes("w-full gap-6")
        for page_id in sorted(store.by_id):
            if visible is None or page_id in visible:
                self.add(page_id)

    def add(self, page_id: int) -> None:
        if page_id in self.cards or self.container.is_deleted:
            return
        with self.container:
            card = self.cards[page_id] = PageCard(page_id, self.actor)
        snapshot = store.get(page_id)
        if self.following:
            card.follow()
        elif snapshot is not None:
            card.show(snapshot)
        self.empty.set_visibility(False)

    def remove(self, page_id: int) -> None:
        card = self.cards.pop(page_id, None)
        if card is not None:
            card.unfollow()
            card.element.delete()
        self.empty.set_visibility(not self.cards)

    def follow(self) -> None:
        if self.following:
            return
        self.following = True
        names = [events.PAGE_CREATED, events.PAGE_DELETED]
        if not scope.sees_everything(self.actor):
            # a page may have changed teams, or the user their teams
            names += [events.PAGE_UPDATED, events.USER_CHANGED]
        bus.subscribe(self._on_event, names)
        for card in self.cards.values():
            card.follow()

    def unfollow(self) -> None:
        self.following = False
        bus.unsubscribe(self._on_event)
        for card in self.cards.values():
            card.unfollow()

    async def _page_event(self, event: events.Event) -> None:
        if event.name == events.USER_CHANGED:
            visible = await scope.visible_page_ids(self.actor)
            for page_id in sorted(store.by_id):
                if visible is None or page_id in visible:
                    self.add(page_id)
            for page_id in [p for p in self.cards if visible is not None and p not in visible]:
                self.remove(page_id)
            return
        for page_id in event.page_ids:
            if event.name == events.PAGE_DELETED:
                self.remove(page_id)
            elif await scope.page_in_scope(self.actor, page_id):
                self.add(page_id)
            else:
                self.remove(page_id)


def _new_page_form(board: Board, actor: Actor) -> None:
    form = Form()
    with ui.card().classes("w-full gap-3 p-5"):
        ui.label("New status page").classes("text-lg font-semibold")
        with ui.row().classes("w-full items-start gap-2"):
            title = form.field("title", ui.input("Title").props("outlined dense").classes("grow"),
                               lambda v: text_problem(v, "title"))
            slug = form.field("slug", ui.input("Slug", placeholder="acme").props("outlined dense").classes("grow"),
                              lambda v: slug_problem(v.strip()), lookup=slug_taken)
            # suggested when the title is left, not per keystroke: a server-side fill racing the visitor's
            # typing in the slug field could wipe what they typed
            title.on("blur", lambda: slug.set_value(suggest_slug(title.value or "")) if not slug.value else None)
            button = form.submits(ui.button("Create page", icon="add"))

    async def create_page() -> None:
        if not form.check_all():
            return
        try:
            page = await page_service.create_page(actor, title=title.value, slug=slug.value)
        except ServiceError as exc:
            form.show(exc)
            return
        notify_done(f"Status page '{page.title}' created")
        form.reset()
        board.add(page.id)

    button.on_click(create_page)


@ui.page("/admin")
async def dashboard(request: Request) -> None:
    user = await session.require_user()
    if user is None:
        return
    actor = session.actor_for(user, request)

    with frame("Dashboard", user.email, user.role):
        ui.label("Status pages").classes("text-2xl font-semibold")
        board = Board(actor, await scope.visible_page_ids(actor))
        if allowed(actor.role, "page.create"):
            _new_page_form(board, actor)

    # Follow changes only while the browser is connected: on_disconnect also fires before a reconnect, and
    # on_connect again after it, where follow() catches up with what changed in between.
    client = ui.context.client
    client.on_connect(board.follow)
    client.on_disconnect(board.unfollow)
    client.on_delete(board.unfollow)

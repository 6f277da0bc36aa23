"""The pieces the incident, template and maintenance screens share: their vocabulary and look, the admin frame,
the Markdown editor with its live preview, the component status pickers, and small helpers for times, refusals and
following events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request
from nicegui import ui

from app import events, html, markdown
from app.auth import Actor
from app.enums import ComponentStatus, IncidentImpact, IncidentStatus
from app.events import bus
from app.services import groups
from app.services.errors import Forbidden, Invalid, NotFound, ServiceError
from app.services.transaction import authorize
from app.services.validation import row_id, to_moment
from pages.theme import frame, notify_done
from storage.models import Component, StatusPage, User

# --- vocabulary and look, shared by the incident, template and maintenance screens -------------------------------

# the public pages' own words (app/html.py): staff and visitors read the same thing
IMPACT_LABEL = html.IMPACT_LABEL
STATUS_LABEL = html.INCIDENT_STATUS_LABEL
IMPACT_OPTIONS = {impact.value: label for impact, label in IMPACT_LABEL.items()}
STATUS_OPTIONS = {status.value: label for status, label in STATUS_LABEL.items()}
NOT_AFFECTED = "none"
COMPONENT_CHOICES = {NOT_AFFECTED: "Not affected", **{s.value: s.label for s in ComponentStatus}}
# a component the incident already holds is let go by setting it to Operational, not by "Not affected"
HELD_CHOICES = {s.value: s.label for s in ComponentStatus}

TAG = "shrink-0 rounded-full px-2 py-0.5 text-xs font-medium whitespace-nowrap"
# dark text on a light tint: AA contrast on the white admin background
IMPACT_LOOK = {
    IncidentImpact.MAJOR: "bg-red-100 text-red-900",
    IncidentImpact.PARTIAL: "bg-orange-100 text-orange-900",
    IncidentImpact.DEGRADED: "bg-amber-100 text-amber-900",
    IncidentImpact.MINOR: "bg-yellow-50 text-yellow-900",
}
STATUS_LOOK = {
    IncidentStatus.INVESTIGATING: "bg-red-50 text-red-900",
    IncidentStatus.IDENTIFIED: "bg-orange-50 text-orange-900",
    IncidentStatus.MONITORING: "bg-blue-50 text-blue-900",
    IncidentStatus.RESOLVED: "bg-green-100 text-green-900",
}
CARD = "w-full gap-3 p-5"
HEADING = "text-lg font-semibold"
SECTION = "text-xs font-semibold uppercase tracking-wide text-slate-500"
MUTED = "text-sm text-slate-600"
INPUT = "outlined dense"
DATETIME = f"{INPUT} type=datetime-local stack-label"
# Tailwind's reset strips lists, headings and quotes: rendered Markdown gets its shape back here
MARKDOWN_CSS = """
.md { overflow-wrap: anywhere; line-height: 1.5; }
.md > * + * { margin-top: .5rem; }
.md h1, .md h2, .md h3, .md h4 { font-weight: 600; font-size: 1.05em; }
.md ul { list-style: disc; padding-left: 1.25rem; } .md ol { list-style: decimal; padding-left: 1.25rem; }
.md a { color: #1d4ed8; text-decoration: underline; }
.md code { background: #e2e8f0; border-radius: .25rem; padding: 0 .25rem; font-size: .875em; }
.md pre { background: #e2e8f0; border-radius: .375rem; padding: .5rem .75rem; overflow-x: auto; }
.md pre code { padding: 0; }
.md blockquote { border-left: 3px solid #cbd5e1; padding-left: .75rem; color: #475569; }
.md table { border-collapse: collapse; } .md th, .md td { border: 1px solid #cbd5e1; padding: .25rem .5rem; }
"""


def tag(text: str, look: str) -> ui.label:
    return ui.label(text).classes(f"{TAG} {look}")


def impact_tag(impact: IncidentImpact) -> ui.label:
    return tag(IMPACT_LABEL[impact], IMPACT_LOOK[impact]).props(f'data-impact="{impact.value}"')


def status_tag(status: IncidentStatus) -> ui.label:
    return tag(STATUS_LABEL[status], STATUS_LOOK[status]).props(f'data-status="{status.value}"')


def when(moment: datetime | None, zone: str) -> str:
    return html.local_time(moment, zone) if moment else "—"


def rendered(text: str) -> ui.html:
    # app.markdown.render sanitises with an allow-list already; NiceGUI's own pass would only repeat it
    return ui.html(markdown.render(text), sanitize=False).classes("md w-full text-sm text-slate-800")


def attr(text: str) -> str:
    return text.replace('"', "&quot;")


def moment_in(text: str | None, zone: str) -> datetime | str | None:
    """A date-time input's value read in ``zone``; text that names no moment goes on for the service to explain."""
    text = (text or "").strip()
    if not text:
        return None
    return to_moment(text, zone) or text


def refusal(actor: Actor, action: str) -> str | None:
    """The service's own refusal for ``action``, or None when the actor may do it."""
    try:
        authorize(actor, action)
    except Forbidden as exc:
        return str(exc)
    return None


def error_text(exc: ServiceError) -> str:
    """A service error as one sentence for a notification."""
    return " ".join(exc.errors.values()) if isinstance(exc, Invalid) else str(exc)


def no_check(_: str) -> None:
    """Choices from a fixed list need no check of their own; the service's answer still lands on the field."""
    return None


@contextmanager
def admin_frame(title: str, user: User) -> Iterator[None]:
    with frame(title, user.email, user.role):
        ui.add_css(MARKDOWN_CSS)
        yield


def fresh_dialog(container: ui.element) -> ui.dialog:
    """A dialog inside ``container``, replacing the one opened before. Keep the container out of refreshed
    sections: a refresh caused by someone else's change must not close a dialog that is being filled in."""
    container.clear()
    with container:
        return ui.dialog()


def confirm_delete(container: ui.element, *, question: str, consequence: str, button: str,
                   delete: Callable[[], Awaitable[Any]], done: str, then: Callable[[], Awaitable[Any] | None],
                   icon: str | None = None) -> None:
    """The "Delete …?" dialog every admin screen asks before deleting: "Keep it" or the red ``button``. A refusal
    shows as a notification and keeps the dialog open; success closes it, says ``done`` and calls ``then``."""
    with fresh_dialog(container) as dialog, ui.card().classes("w-[30rem] max-w-full gap-3 p-5"):
        ui.label(question).classes(HEADING)
        ui.label(consequence).classes(MUTED)

        async def confirmed() -> None:
            try:
                await delete()
            except ServiceError as exc:
                ui.notify(error_text(exc), type="negative")
                return
            dialog.close()
            notify_done(done)
            result = then()
            if result is not None:
                await result

        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Keep it", on_click=dialog.close).props("flat no-caps")
            ui.button(button, icon=icon, on_click=confirmed).props("unelevated no-caps color=negative")
    dialog.open()


def back_link(text: str, href: str) -> ui.link:
    return ui.link(f"← {text}", href).classes("text-sm")


def missing(user: User, message: str, back_text: str, back_href: str) -> None:
    """The whole screen for an unknown or malformed id."""
    with admin_frame("Not found", user):
        ui.label(message).classes("text-lg")
        ui.link(back_text, back_href)


def follow(names: Iterable[str], on_event: Callable[[events.Event], Awaitable[None]]) -> None:
    """Call ``on_event`` for each of these events while this browser is connected: a tab that never connects or
    has gone costs no work (the dashboard's pattern)."""
    client = ui.context.client
    names = list(names)

    async def handler(event: events.Event) -> None:
        if not client.is_deleted:
            await on_event(event)

    def start() -> None:
        bus.unsubscribe(handler)  # a reconnect must not subscribe twice
        bus.subscribe(handler, names)

    def stop() -> None:
        bus.unsubscribe(handler)

    client.on_connect(start)
    client.on_disconnect(stop)
    client.on_delete(stop)


class MarkdownField:
    """A Markdown textarea with its rendered preview beside it (below it on a phone), updated as one types."""

    def __init__(self, label: str, value: str = "", *, marker: str = "body", placeholder: str = "") -> None:
        with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-3"):
            self.textarea = ui.textarea(label, value=value, placeholder=placeholder) \
                .props(f"{INPUT} rows=6").classes("w-full").mark(marker)
            with ui.column().classes("w-full min-w-0 gap-1"):
                ui.label("Preview").classes(SECTION)
                with ui.element("div").classes("w-full min-h-[8rem] rounded border border-slate-200 bg-slate-50 "
                                               "px-3 py-2"):
                    self.hint = ui.label("The formatted text appears here as you type (Markdown).") \
                        .classes("text-sm text-slate-500")
                    self.preview = ui.html("", sanitize=False).classes("md w-full text-sm text-slate-800") \
                        .mark(f"{marker}-preview")
        self.textarea.on_value_change(self._render)
        self._render()

    @property
    def value(self) -> str:
        return self.textarea.value or ""

    def set_value(self, text: str) -> None:
        self.textarea.set_value(text)

    def _render(self) -> None:
        content = markdown.render(self.value)  # microseconds for a status message: fine on every keystroke
        self.preview.set_content(content)
        self.hint.set_visibility(not content)


# --- component status pickers ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Choice:
    """A component offered in a picker, with the path of the groups it sits in on that page."""

    id: int
    name: str
    group: str = ""


def _flatten(nodes: Iterable[groups.Node], path: str = "") -> list[Choice]:
    found: list[Choice] = []
    for node in nodes:
        if node.kind == "component":
            found.append(Choice(node.id, node.name, path))
        else:
            found.extend(_flatten(node.items, f"{path} › {node.name}" if path else node.name))
    return found


async def page_components(page_id: int) -> list[Choice]:
    """The page's components in the order the page shows them (read from the database, not a snapshot)."""
    return _flatten(await groups.structure(page_id))


class StatusPickers:
    """A status select per component of one page. Choices outlive a change of page, since a component may sit on
    several pages and a template names components of any page."""

    def __init__(self, chosen: dict[int, str] | None = None, held: Iterable[int] = ()) -> None:
        self.chosen: dict[int, str] = dict(chosen or {})
        self.held = set(held)
        self.shown: list[Choice] = []
        self.selects: dict[int, ui.select] = {}
        self.container = ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-x-6 gap-y-2")
        self.empty = ui.label("This page has no components yet.").classes(MUTED)
        self.empty.set_visibility(False)

    def show(self, components: list[Choice]) -> None:
        self.shown = components
        self.selects.clear()
        self.container.clear()
        with self.container:
            for component in components:
                self._row(component)
        self.empty.set_visibility(not components)

    def _row(self, component: Choice) -> None:
        options = HELD_CHOICES if component.id in self.held else COMPONENT_CHOICES
        with ui.row().classes("w-full items-center gap-x-3 gap-y-1 sm:flex-nowrap"):
            with ui.column().classes("gap-0 grow min-w-0"):
                ui.label(component.name).classes("w-full font-medium truncate")
                if component.group:
                    ui.label(component.group).classes("w-full text-xs text-slate-500 truncate")
            self.selects[component.id] = ui.select(
                options, value=self.chosen.get(component.id, NOT_AFFECTED),
                on_change=lambda e, cid=component.id: self.chosen.__setitem__(cid, e.value)) \
                .props(f'{INPUT} options-dense aria-label="Status of {attr(component.name)}"') \
                .classes("w-full sm:w-56 shrink-0").mark(f"component-{component.id}")

    def replace(self, statuses: dict[int, str]) -> None:
        """Choose exactly these statuses (a template's); every other component goes back to Not affected."""
        self.chosen = dict(statuses)
        for cid, select in self.selects.items():
            select.set_value(self.chosen.get(cid, NOT_AFFECTED))

    def wanted(self) -> dict[int, str]:
        """{component id: STATUS} for the components of the page shown."""
        return {c.id: value for c in self.shown if (value := self.chosen.get(c.id, NOT_AFFECTED)) != NOT_AFFECTED}

    def wanted_everywhere(self) -> dict[int, str]:
        """{component id: STATUS} for every component chosen on any page."""
        return {cid: value for cid, value in self.chosen.items() if value != NOT_AFFECTED}


async def component_names(ids: Iterable[int], known: dict[int, str] | None = None) -> dict[int, str]:
    names = dict(known or {})
    wanted = [cid for cid in set(ids) if cid not in names]
    if wanted:
        names.update(dict(await Component.filter(id__in=wanted).values_list("id", "name")))
    return names


def change_text(name: str, change: dict[str, str]) -> str:
    """'API: Operational → Major outage'."""
    def label(value: str | None) -> str:
        try:
            return ComponentStatus(value).label
        except ValueError:
            return str(value)
    return f"{name}: {label(change.get('old'))} → {label(change.get('new'))}"


def id_in_address(text: str) -> int:
    """The row id in an address; NotFound for anything that is not one (so 'abc' reads as an unknown id)."""
    number = row_id(text)
    if number is None:
        raise NotFound(f"No such id '{text}'.")
    return number


class PageForm(Protocol):
    """A form about one status page's things (the incident composer, the maintenance scheduler)."""

    def build(self) -> None: ...

    async def choose_page(self, page_id: int) -> None: ...


async def form_screen(request: Request, *, title: str, back: tuple[str, str], action: str, cannot: str,
                      page: str | None, make: Callable[[Actor, list[StatusPage], StatusPage], Awaitable[PageForm]]
                      ) -> None:
    """The shell of a "new …" screen: sign-in, the role check (the service's refusal shown in words), a page to start
    with (``page`` by slug or id, else the first), then the form ``make`` builds for it."""
    from app.services import pages as page_service
    from pages import session

    user = await session.require_user()
    if user is None:
        return
    actor = session.actor_for(user, request)
    pages = await page_service.list_pages()
    with admin_frame(title, user):
        back_link(*back)
        ui.label(title).classes("text-2xl font-semibold")
        if (refused := refusal(actor, action)) is not None:
            ui.label(f"{cannot}: {refused}.").classes("text-negative").props('role="alert"')
            return
        if not pages:
            ui.label("There is no status page yet.").classes(MUTED)
            ui.link("Create one on the dashboard", "/admin")
            return
        chosen = next((p for p in pages if page and (p.slug == page or str(p.id) == page)), pages[0])
        form = await make(actor, pages, chosen)
        form.build()
    await form.choose_page(chosen.id)


class ItemScreen(Protocol):
    """The screen of one incident or maintenance."""

    async def load(self) -> None: ...

    def build(self) -> None: ...

    async def changed_elsewhere(self, event: events.Event) -> None: ...


async def item_screen(request: Request, raw_id: str, *, get: Callable[[int], Awaitable[Any]], missing_text: str,
                      back: tuple[str, str], make: Callable[[Actor, Any, StatusPage], ItemScreen],
                      follows: Iterable[str]) -> None:
    """The shell of one item's screen: sign-in, the item by the id in the address ("No such …" with a way back for
    an unknown or malformed one), its page, the screen, and a refresh when ``follows`` events arrive."""
    from app.services import pages as page_service
    from pages import session

    user = await session.require_user()
    if user is None:
        return
    try:
        item = await get(id_in_address(raw_id))
    except NotFound:
        missing(user, missing_text, *back)
        return
    page = await page_service.get_page(item.page_id)
    screen = make(session.actor_for(user, request), item, page)
    await screen.load()
    with admin_frame(item.name, user):
        screen.build()
    follow(follows, screen.changed_elsewhere)


ALL_PAGES = 0  # the page filter's "All pages"


class Listing:
    """The rows of a list screen (incidents, maintenance), filtered by page: a subclass loads its rows and draws them
    in a ``@ui.refreshable_method`` named ``rows``."""

    def __init__(self, actor: Actor, pages: list[StatusPage], page_id: int) -> None:
        self.actor = actor
        self.pages = {p.id: p for p in pages}
        self.page_id = page_id

    async def load(self) -> None:
        raise NotImplementedError

    def rows(self) -> None:
        raise NotImplementedError

    async def reload(self, _: Any = None) -> None:
        await self.load()
        await self.rows.refresh()  # type: ignore[attr-defined]

    async def filter(self, page_id: int | None) -> None:
        self.page_id = page_id or ALL_PAGES
        await self.reload()


async def list_screen(request: Request, page: str | None, *, title: str,
                      make: Callable[[Actor, list[StatusPage], int], Listing],
                      actions: Callable[[Actor], None], follows: Iterable[str]) -> None:
    """The shell of a list screen: sign-in, the pages in the user's scope with a filter (``page`` by slug or id
    preselected), the screen's own buttons (``actions``), the rows, and a refresh when ``follows`` events arrive."""
    from app.services import pages as page_service
    from pages import session

    user = await session.require_user()
    if user is None:
        return
    actor = session.actor_for(user, request)
    pages = await page_service.list_pages(actor)
    chosen = next((p for p in pages if p.slug == page or str(p.id) == page), None)
    listing = make(actor, pages, chosen.id if chosen else ALL_PAGES)
    await listing.load()
    with admin_frame(title, user):
        with ui.row().classes("w-full items-center justify-between gap-3"):
            ui.label(title).classes("text-2xl font-semibold")
            with ui.row().classes("items-center gap-2"):
                actions(actor)
        with ui.card().classes(CARD):
            ui.select({ALL_PAGES: "All pages", **{p.id: p.title for p in pages}}, label="Status page",
                      value=listing.page_id, on_change=lambda e: listing.filter(e.value)) \
                .props(INPUT).classes("w-full sm:w-72").mark("page-filter")
            listing.rows()
    follow(follows, listing.reload)

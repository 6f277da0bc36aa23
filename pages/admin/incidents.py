"""/admin/incidents: the list of incidents, the composer that opens one, and each incident's own screen (post
updates, resolve, pin, rename, delete, the root-cause write-up).

Every change goes through app/services/incidents.py with the signed-in user's Actor; a screen offers only what the
user's role allows, and shows the service's message when it refuses anyway. The shared pieces (Markdown editor,
component status pickers, tags) live in pages/admin/editing.py.

Only incidents of pages in the user's scope are listed or opened (app/auth/scope.py); another team's incident
reads "No such incident.", as an unknown id does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from nicegui import ui

from app import events, markdown
from app.auth import Actor, allowed, scope
from app.enums import ComponentStatus, IncidentImpact, IncidentStatus
from app.services import incidents as incident_service
from app.services.errors import NotFound, ServiceError
from app.services.validation import text_problem
from pages import session
from pages.admin.editing import (
    CARD,
    DATETIME,
    HEADING,
    IMPACT_OPTIONS,
    INPUT,
    MUTED,
    SECTION,
    STATUS_OPTIONS,
    Choice,
    Listing,
    MarkdownField,
    StatusPickers,
    back_link,
    change_text,
    component_names,
    confirm_delete,
    error_text,
    form_screen,
    fresh_dialog,
    impact_tag,
    item_screen,
    list_screen,
    moment_in,
    no_check,
    page_components,
    rendered,
    status_tag,
    tag,
    when,
)
from pages.theme import Form, notify_done
from storage.models import Incident, IncidentTemplate, IncidentUpdate, StatusPage

# --- scope ------------------------------------------------------------------------------------------------------

def scoped_get(request: Request, get: Callable[..., Awaitable[Any]]) -> Callable[[int], Awaitable[Any]]:
    """``get(id, actor=…)`` as the signed-in user, for ``item_screen``: an item of a page outside their teams is
    NotFound, as an unknown id is."""
    async def scoped(item_id: int) -> Any:
        user = await session.current_user()
        if user is None:  # item_screen has sent the visitor to sign in already
            raise NotFound("Not signed in.")
        return await get(item_id, actor=session.actor_for(user, request))
    return scoped


class NoPage:
    """What a "new …" screen shows when none of the pages offered is in the user's scope."""

    def build(self) -> None:
        ui.label("There is no status page yet.").classes(MUTED)
        ui.link("Back to the dashboard", "/admin")

    async def choose_page(self, page_id: int) -> None:
        return None


async def scoped_choice(actor: Actor, pages: list[StatusPage], chosen: StatusPage
                        ) -> tuple[list[StatusPage], StatusPage | None]:
    """The pages of a "new …" form narrowed to the actor's scope, and the one to start with (``chosen`` if it is
    among them, else the first); (``[]``, None) when none is."""
    pages = await scope.filter_pages(actor, pages)
    if not pages:
        return [], None
    return pages, chosen if chosen in pages else pages[0]


# --- /admin/incidents --------------------------------------------------------------------------------------------



async def _latest_updates(incident_ids: list[int]) -> dict[int, dict[str, Any]]:
    rows = await IncidentUpdate.filter(incident_id__in=incident_ids).order_by("-display_at", "-id") \
        .values("incident_id", "display_at", "body") if incident_ids else []
    latest: dict[int, dict[str, Any]] = {}
    for row in rows:
        latest.setdefault(row["incident_id"], row)
    return latest


class IncidentList(Listing):
    """Every incident (or one page's), open ones first; follows changes made elsewhere while connected."""

    def __init__(self, actor: Actor, pages: list[StatusPage], page_id: int) -> None:
        super().__init__(actor, pages, page_id)
        self.incidents: list[Incident] = []
        self.latest: dict[int, dict[str, Any]] = {}

    async def load(self) -> None:
        self.incidents = await incident_service.list_incidents(self.page_id or None, actor=self.actor)
        self.latest = await _latest_updates([i.id for i in self.incidents])

    @ui.refreshable_method
    def rows(self) -> None:
        if not self.incidents:
            ui.label("No incidents. All quiet.").classes(MUTED)
            return
        open_ = [i for i in self.incidents if i.status != IncidentStatus.RESOLVED]
        done = [i for i in self.incidents if i.status == IncidentStatus.RESOLVED]
        for heading, incidents in (("Open", open_), ("Resolved", done)):
            if incidents:
                ui.label(heading).classes(f"{SECTION} pt-2")
                with ui.column().classes("w-full gap-0"):
                    for incident in incidents:
                        self._row(incident)

    def _row(self, incident: Incident) -> None:
        page = self.pages.get(incident.page_id)  # type: ignore[attr-defined]
        zone = page.time_zone if page else "UTC"
        latest = self.latest.get(incident.id)
        with ui.row().classes("w-full items-start gap-x-4 gap-y-1 py-3 border-b border-slate-100 "
                              "flex-wrap sm:flex-nowrap").props(f'data-incident="{incident.id}"'):
            with ui.column().classes("gap-1 grow min-w-0"):
                with ui.row().classes("items-center gap-2 no-wrap min-w-0"):
                    if incident.pinned:
                        ui.icon("push_pin", size="xs").classes("text-slate-500").props('aria-label="Pinned"')
                    ui.link(incident.name, f"/admin/incidents/{incident.id}") \
                        .classes("font-medium text-slate-900 truncate").mark("incident-link")
                with ui.row().classes("items-center gap-2"):
                    impact_tag(incident.impact)
                    status_tag(incident.status)
                    ui.label(page.title if page else "").classes("text-sm text-slate-600")
                if latest:
                    ui.label(f"Last update {when(latest['display_at'], zone)}: {markdown.plain(latest['body'], 140)}") \
                        .classes("w-full text-sm text-slate-600 line-clamp-2 break-words")
            ui.label(f"Started {when(incident.started_at, zone)}").classes("shrink-0 text-sm text-slate-600")


def _incident_actions(actor: Actor) -> None:
    ui.button("Templates", icon="description").props('flat no-caps href="/admin/templates"')
    if allowed(actor.role, "incident.create"):
        ui.button("New incident", icon="add").props('unelevated no-caps href="/admin/incidents/new"')


@ui.page("/admin/incidents")
async def incident_list(request: Request, page: str | None = None) -> None:
    await list_screen(request, page, title="Incidents", make=IncidentList, actions=_incident_actions,
                      follows=[events.INCIDENT_CREATED, events.INCIDENT_UPDATED, events.INCIDENT_RESOLVED,
                               events.INCIDENT_BACKFILLED, events.INCIDENT_DELETED])


# --- /admin/incidents/new ----------------------------------------------------------------------------------------

class Composer:
    """The form that opens an incident: page, template, title, impact, status, message, components, backfill."""

    def __init__(self, actor: Actor, pages: list[StatusPage], templates: list[IncidentTemplate],
                 page: StatusPage) -> None:
        self.actor = actor
        self.pages = {p.id: p for p in pages}
        self.templates = {t.id: t for t in templates}
        self.page = page
        self.form = Form()

    def build(self) -> None:
        form = self.form
        with ui.card().classes(CARD):
            with ui.row().classes("w-full items-start gap-3"):
                self.page_select = form.field("page", ui.select(
                    {p.id: p.title for p in self.pages.values()}, label="Status page", value=self.page.id,
                    on_change=lambda e: self.choose_page(e.value)).props(INPUT).classes("grow min-w-[12rem]"),
                    lambda v: None if v else "Choose a status page.")
                with ui.column().classes("grow min-w-[12rem] gap-0"):
                    ui.select({t.id: t.name for t in self.templates.values()}, label="Template", clearable=True,
                              on_change=lambda e: self.apply_template(e.value)) \
                        .props(INPUT).classes("w-full").mark("template")
                    ui.link("Manage templates", "/admin/templates").classes("text-xs pt-1")
            self.title = form.field("name", ui.input("Title", placeholder="e.g. Elevated error rates on the API")
                                    .props(INPUT).classes("w-full").mark("title"),
                                    lambda v: text_problem(v.strip(), "title", max_length=incident_service.NAME_MAX))
            with ui.row().classes("w-full items-start gap-3"):
                self.impact = form.field("impact", ui.select(IMPACT_OPTIONS, label="Impact",
                                                             value=IncidentImpact.MINOR.value)
                                         .props(INPUT).classes("grow min-w-[12rem]").mark("impact"), no_check)
                self.status = form.field("status", ui.select(STATUS_OPTIONS, label="Status",
                                                             value=IncidentStatus.INVESTIGATING.value)
                                         .props(INPUT).classes("grow min-w-[12rem]").mark("status"), no_check)
            self.body = MarkdownField("Message", placeholder="What is happening, and what are you doing about it?")
            form.field("body", self.body.textarea, incident_service.body_problem)
        with ui.card().classes(CARD):
            ui.label("Affected components").classes(HEADING)
            ui.label("What each component shows while the incident is open. Not affected leaves it as it is.") \
                .classes(MUTED)
            self.pickers = StatusPickers()
        with ui.card().classes(CARD):
            self.backfill = ui.switch("Backfill (already over)", on_change=lambda e: self.show_backfill(e.value))
            with ui.column().classes("w-full gap-1") as self.times:
                with ui.row().classes("w-full items-start gap-3"):
                    self.started = form.field("started_at", ui.input("Started").props(DATETIME)
                                              .classes("grow min-w-[14rem]").mark("started_at"), no_check)
                    self.resolved = form.field("resolved_at", ui.input("Resolved").props(DATETIME)
                                               .classes("grow min-w-[14rem]").mark("resolved_at"), no_check)
                self.zone_hint = ui.label().classes("text-xs text-slate-500")
                ui.label("A backfilled incident is recorded as resolved: it changes no component and notifies "
                         "nobody.").classes("text-xs text-slate-500")
            self.times.set_visibility(False)
        with ui.row().classes("w-full justify-end"):
            form.submits(ui.button("Open incident", icon="campaign", on_click=self.open).props("unelevated no-caps"))
        self._show_zone()

    async def choose_page(self, page_id: int | None) -> None:
        if page_id is None:
            return
        if page_id not in self.pages:  # form_screen's first choice may be a page outside the user's scope
            page_id = self.page.id
        self.page = self.pages[page_id]
        self._show_zone()
        self.pickers.show(await page_components(page_id))

    def _show_zone(self) -> None:
        self.zone_hint.set_text(f"Times are read in the page's time zone, {self.page.time_zone}.")

    def show_backfill(self, on: bool) -> None:
        self.times.set_visibility(on)
        self.status.set_enabled(not on)  # a backfilled incident is resolved by definition

    def apply_template(self, template_id: int | None) -> None:
        template = self.templates.get(template_id) if template_id is not None else None
        if template is None:
            return
        self.title.set_value(template.title)
        self.body.set_value(template.body)
        self.impact.set_value(IncidentImpact(template.impact).value)
        self.pickers.replace({int(cid): status for cid, status in (template.components or {}).items()})

    async def open(self) -> None:
        if not self.form.check_all():
            return
        zone, backfill = self.page.time_zone, bool(self.backfill.value)
        try:
            incident = await incident_service.create_incident(
                self.actor, page=self.page.id, name=self.title.value or "", impact=self.impact.value,
                status=self.status.value, body=self.body.value, components=self.pickers.wanted(), backfill=backfill,
                started_at=moment_in(self.started.value, zone) if backfill else None,
                resolved_at=moment_in(self.resolved.value, zone) if backfill else None)
        except ServiceError as exc:
            self.form.show(exc)  # field messages on their inputs; everything typed stays
            return
        notify_done(f"Incident '{incident.name}' opened")
        ui.navigate.to(f"/admin/incidents/{incident.id}")


@ui.page("/admin/incidents/new")
async def new_incident(request: Request, page: str | None = None) -> None:
    async def make(actor: Actor, pages: list[StatusPage], chosen: StatusPage) -> Composer | NoPage:
        pages, first = await scoped_choice(actor, pages, chosen)
        if first is None:
            return NoPage()
        return Composer(actor, pages, await incident_service.list_templates(), first)

    await form_screen(request, title="New incident", back=("Incidents", "/admin/incidents"), action="incident.create",
                      cannot="You cannot open incidents", page=page, make=make)


# --- /admin/incidents/{id} ---------------------------------------------------------------------------------------

class IncidentScreen:
    """One incident: its header and actions, the update form, the timeline and, once resolved, the postmortem."""

    dialogs: ui.element  # dialogs go here, outside the refreshed sections (set when the screen is built)

    def __init__(self, actor: Actor, incident: Incident, page: StatusPage) -> None:
        self.actor = actor
        self.incident = incident
        self.page = page
        self.may_update = allowed(actor.role, "incident.update")
        self.may_delete = allowed(actor.role, "incident.delete")
        self.updates: list[IncidentUpdate] = []
        self.held: dict[int, ComponentStatus] = {}
        self.components: list[Choice] = []
        self.names: dict[int, str] = {}
        self.gone = False

    def build(self) -> None:
        back_link("Incidents", "/admin/incidents")
        self.header()
        self.actions()
        self.timeline()
        self.dialogs = ui.element("div")

    @property
    def zone(self) -> str:
        return self.page.time_zone

    @property
    def resolved(self) -> bool:
        return self.incident.status == IncidentStatus.RESOLVED

    async def load(self) -> None:
        try:
            self.incident = await incident_service.get_incident(self.incident.id, actor=self.actor)
        except NotFound:
            self.gone = True
            return
        self.updates = await incident_service.timeline(self.incident.id)
        self.held = await incident_service.held_components(self.incident.id)
        self.components = await page_components(self.page.id)
        mentioned = [int(cid) for u in self.updates for cid in (u.affected_components or {})]
        self.names = await component_names([*mentioned, *self.held], {c.id: c.name for c in self.components})

    async def reload(self, everything: bool = True) -> None:
        await self.load()
        await self.header.refresh()
        await self.timeline.refresh()
        if everything:
            await self.actions.refresh()

    async def changed_elsewhere(self, event: events.Event) -> None:
        if event.data.get("incident_id") == self.incident.id:
            await self.reload(everything=False)  # the forms keep what is being typed

    # --- header ----------------------------------------------------------------------------------------------
    @ui.refreshable_method
    def header(self) -> None:
        incident = self.incident
        with ui.card().classes(CARD):
            if self.gone:
                ui.label("This incident has been deleted.").classes("text-lg").props('role="alert"')
                ui.link("Back to the incidents", "/admin/incidents")
                return
            with ui.row().classes("w-full items-start justify-between gap-3"):
                with ui.column().classes("gap-1 min-w-0"):
                    ui.label(incident.name).classes("text-2xl font-semibold break-words")
                    with ui.row().classes("items-center gap-2"):
                        impact_tag(incident.impact)
                        status_tag(incident.status)
                        if incident.pinned:
                            tag("Pinned", "bg-slate-200 text-slate-800")
                        if incident.backfilled:
                            tag("Backfilled", "bg-slate-100 text-slate-700")
                ui.button("View on status page", icon="open_in_new").props(
                    f'flat no-caps target="_blank" href="/status/{self.page.slug}/incidents/{incident.id}"')
            with ui.column().classes("gap-0 text-sm text-slate-600"):
                ui.label(f"Page: {self.page.title} · times in {self.zone}")
                ui.label(f"Started {when(incident.started_at, self.zone)}")
                if incident.resolved_at:
                    ui.label(f"Resolved {when(incident.resolved_at, self.zone)}")
            self._header_buttons()

    def _header_buttons(self) -> None:
        if not (self.may_update or self.may_delete):
            return
        with ui.row().classes("items-center gap-2"):
            if self.may_update:
                ui.button("Unpin" if self.incident.pinned else "Pin", icon="push_pin", on_click=self.toggle_pin) \
                    .props("outline no-caps")
                ui.button("Edit title and impact", icon="edit", on_click=self.edit).props("outline no-caps")
            if self.may_delete:
                ui.button("Delete", icon="delete", on_click=self.confirm_delete).props("outline no-caps color=negative")

    async def toggle_pin(self) -> None:
        try:
            await incident_service.edit_incident(self.actor, self.incident.id, pinned=not self.incident.pinned)
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            return
        notify_done("Unpinned" if self.incident.pinned else "Pinned to the top of the page")
        await self.reload(everything=False)

    def edit(self) -> None:
        form = Form()
        with fresh_dialog(self.dialogs) as dialog, ui.card().classes("w-[32rem] max-w-full gap-3 p-5"):
            ui.label("Edit incident").classes(HEADING)
            name = form.field("name", ui.input("Title", value=self.incident.name).props(INPUT).classes("w-full")
                              .mark("edit-title"),
                              lambda v: text_problem(v.strip(), "title", max_length=incident_service.NAME_MAX))
            impact = form.field("impact", ui.select(IMPACT_OPTIONS, label="Impact",
                                                    value=IncidentImpact(self.incident.impact).value)
                                .props(INPUT).classes("w-full").mark("edit-impact"), no_check)

            async def save() -> None:
                if not form.check_all():
                    return
                try:
                    await incident_service.edit_incident(self.actor, self.incident.id, name=name.value or "",
                                                         impact=impact.value)
                except ServiceError as exc:
                    form.show(exc)
                    return
                dialog.close()
                notify_done("Incident saved")
                await self.reload(everything=False)

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                form.submits(ui.button("Save", on_click=save).props("unelevated no-caps"))
        dialog.open()

    def confirm_delete(self) -> None:
        confirm_delete(self.dialogs, question=f"Delete '{self.incident.name}'?",
                       consequence="It disappears from the status page and the components it holds are released. "
                                   "This cannot be undone.",
                       button="Delete incident", icon="delete", done="Incident deleted",
                       delete=lambda: incident_service.delete_incident(self.actor, self.incident.id),
                       then=lambda: ui.navigate.to("/admin/incidents"))

    # --- post an update, resolve, postmortem -----------------------------------------------------------------
    @ui.refreshable_method
    def actions(self) -> None:
        if self.gone:
            return
        if self.may_update:
            self._update_form()
            if self.resolved:
                self._postmortem_editor()
        elif self.incident.postmortem_published_at:
            with ui.card().classes(CARD):
                ui.label("Postmortem").classes(HEADING)
                rendered(self.incident.postmortem_body)

    def _update_form(self) -> None:
        form = Form()
        with ui.card().classes(CARD):
            ui.label("Post an update").classes(HEADING)
            if self.resolved:
                ui.label("This incident is resolved. An update with another status reopens it.").classes(MUTED)
            status = form.field("status", ui.select(STATUS_OPTIONS, label="Status",
                                                    value=IncidentStatus(self.incident.status).value)
                                .props(INPUT).classes("w-full sm:w-72").mark("update-status"), no_check)
            body = MarkdownField("Message", marker="update-body")
            form.field("body", body.textarea, incident_service.body_problem)
            ui.label("Components").classes(f"{SECTION} pt-2")
            pickers = StatusPickers({cid: s.value for cid, s in self.held.items()}, held=self.held)
            pickers.show(self.components)

            async def post() -> None:
                if not form.check_all():
                    return
                try:
                    await incident_service.post_update(self.actor, self.incident.id, status=status.value,
                                                       body=body.value, components=pickers.wanted())
                except ServiceError as exc:
                    form.show(exc)
                    return
                notify_done("Update posted")
                await self.reload()

            async def resolve() -> None:
                try:
                    await incident_service.resolve_incident(
                        self.actor, self.incident.id,
                        body=body.value if body.value.strip() else incident_service.RESOLVED_BODY)
                except ServiceError as exc:
                    form.show(exc)
                    return
                notify_done("Incident resolved")
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                if not self.resolved:
                    ui.button("Resolve", icon="check_circle", on_click=resolve) \
                        .props("outline no-caps color=positive").tooltip(
                            "Resolve now, with the message typed above or the standard one")
                form.submits(ui.button("Post update", icon="send", on_click=post).props("unelevated no-caps"))

    def _postmortem_editor(self) -> None:
        incident = self.incident
        published = incident.postmortem_published_at
        form = Form()
        with ui.card().classes(CARD):
            with ui.row().classes("w-full items-center justify-between gap-2"):
                ui.label("Postmortem").classes(HEADING)
                if published:
                    tag(f"Published {when(published, self.zone)}", "bg-green-100 text-green-900")
                elif incident.postmortem_body.strip():
                    tag("Draft: not on the status page", "bg-slate-100 text-slate-700")
            ui.label("The root-cause write-up, shown on the incident's public page once published.").classes(MUTED)
            body = MarkdownField("Write-up", incident.postmortem_body, marker="postmortem")
            form.field("postmortem", body.textarea, no_check)

            async def save(publish: bool, done: str) -> None:
                try:
                    await incident_service.set_postmortem(self.actor, incident.id, body.value, publish=publish)
                except ServiceError as exc:
                    form.show(exc)
                    return
                notify_done(done)
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                if published:
                    ui.button("Unpublish", on_click=lambda: save(False, "Postmortem unpublished")) \
                        .props("flat no-caps")
                    ui.button("Save", icon="save", on_click=lambda: save(True, "Postmortem saved")) \
                        .props("unelevated no-caps")
                else:
                    ui.button("Save draft", on_click=lambda: save(False, "Draft saved")).props("outline no-caps")
                    ui.button("Publish", icon="publish", on_click=lambda: save(True, "Postmortem published")) \
                        .props("unelevated no-caps")

    # --- timeline --------------------------------------------------------------------------------------------
    @ui.refreshable_method
    def timeline(self) -> None:
        if self.gone:
            return
        with ui.card().classes(CARD):
            ui.label("Timeline").classes(HEADING)
            for update in self.updates:
                self._entry(update)

    def _entry(self, update: IncidentUpdate) -> None:
        author = update.author.email if update.author else "Beacon (automatic)"
        with ui.column().classes("w-full gap-1 border-l-2 border-slate-200 pl-4 py-1") \
                .props(f'data-update="{update.id}"'):
            with ui.row().classes("items-center gap-x-2 gap-y-0"):
                status_tag(update.status)
                ui.label(when(update.display_at, self.zone)).classes("text-sm text-slate-700")
                ui.label(f"by {author}").classes("text-sm text-slate-500")
            rendered(update.body)
            for cid, change in (update.affected_components or {}).items():
                ui.label(change_text(self.names.get(int(cid), f"Component {cid}"), change)) \
                    .classes("text-xs text-slate-600")


@ui.page("/admin/incidents/{incident_id}")
async def incident_detail(request: Request, incident_id: str) -> None:
    await item_screen(request, incident_id, get=scoped_get(request, incident_service.get_incident),
                      missing_text="No such incident.",
                      back=("Back to the incidents", "/admin/incidents"), make=IncidentScreen,
                      follows=[events.INCIDENT_UPDATED, events.INCIDENT_RESOLVED, events.INCIDENT_BACKFILLED,
                               events.INCIDENT_DELETED])

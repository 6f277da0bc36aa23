"""/admin/templates: prepared incidents. Picking one in the composer fills in its title, message, impact and
component statuses; the components may come from any status page in the user's scope (app/auth/scope.py): those
of other teams' pages are neither offered nor named."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.auth import Actor, allowed, scope
from app.enums import ComponentStatus, IncidentImpact
from app.services import incidents as incident_service
from app.services import pages as page_service
from app.services.errors import ServiceError
from app.services.validation import text_problem
from pages import session
from pages.admin.editing import (
    CARD,
    HEADING,
    IMPACT_OPTIONS,
    INPUT,
    MUTED,
    SECTION,
    MarkdownField,
    StatusPickers,
    admin_frame,
    back_link,
    component_names,
    confirm_delete,
    impact_tag,
    no_check,
    page_components,
    rendered,
)
from pages.theme import Form, notify_done
from storage.models import IncidentTemplate, Placement, StatusPage


class TemplateScreen:
    """The list of templates and one editor, for a new template or the one being edited."""

    dialogs: ui.element  # dialogs go here, outside the refreshed sections (set when the screen is built)

    def __init__(self, actor: Actor, pages: list[StatusPage]) -> None:
        self.actor = actor
        self.pages = {p.id: p for p in pages}
        self.may_manage = allowed(actor.role, "template.manage")
        self.templates: list[IncidentTemplate] = []
        self.names: dict[int, str] = {}
        self.visible: set[int] | None = None  # the components in the actor's scope (None: all)
        self.editing: IncidentTemplate | None = None
        self.card: ui.card | None = None

    async def load(self) -> None:
        self.templates = await incident_service.list_templates()
        self.visible = await scope.visible_component_ids(self.actor)
        self.names = await component_names(int(cid) for t in self.templates for cid in (t.components or {}))

    # --- the list ------------------------------------------------------------------------------------------------
    @ui.refreshable_method
    def listing(self) -> None:
        with ui.card().classes(CARD):
            ui.label("Templates").classes(HEADING)
            if not self.templates:
                ui.label("No templates yet.").classes(MUTED)
            for template in self.templates:
                self._item(template)

    def _item(self, template: IncidentTemplate) -> None:
        with ui.column().classes("w-full gap-1 py-3 border-b border-slate-100").props(
                f'data-template="{template.id}"'):
            with ui.row().classes("w-full items-start justify-between gap-2"):
                with ui.column().classes("gap-1 min-w-0"):
                    with ui.row().classes("items-center gap-2"):
                        ui.label(template.name).classes("font-medium")
                        impact_tag(IncidentImpact(template.impact))
                    ui.label(f"Title: {template.title}").classes(MUTED)
                if self.may_manage:
                    with ui.row().classes("items-center gap-1"):
                        ui.button("Edit", icon="edit", on_click=lambda t=template: self.edit(t)) \
                            .props("flat dense no-caps")
                        ui.button("Delete", icon="delete", on_click=lambda t=template: self.confirm_delete(t)) \
                            .props("flat dense no-caps color=negative")
            if template.body.strip():
                rendered(template.body)
            for cid, status in (template.components or {}).items():
                if self.visible is not None and int(cid) not in self.visible:
                    continue
                ui.label(f"{self.names.get(int(cid), f'Component {cid}')}: {ComponentStatus(status).label}") \
                    .classes("text-xs text-slate-600")

    # --- the editor ----------------------------------------------------------------------------------------------
    @ui.refreshable_method
    async def editor(self) -> None:
        if not self.may_manage:
            return
        template = self.editing
        chosen = {int(cid): status for cid, status in (template.components or {}).items()} if template else {}
        form = Form()
        with ui.card().classes(f"{CARD} scroll-mt-20").mark("template-editor") as card:
            self.card = card
            ui.label(f"Edit template '{template.name}'" if template else "New template").classes(HEADING)
            with ui.row().classes("w-full items-start gap-3"):
                name = form.field("name", ui.input("Template name", value=template.name if template else "")
                                  .props(INPUT).classes("grow min-w-[12rem]").mark("template-name"),
                                  lambda v: text_problem(v.strip(), "template name", max_length=100))
                impact = form.field("impact", ui.select(IMPACT_OPTIONS, label="Impact", value=IncidentImpact(
                    template.impact if template else IncidentImpact.MINOR).value)
                    .props(INPUT).classes("grow min-w-[12rem]").mark("template-impact"), no_check)
            title = form.field("title", ui.input("Incident title", value=template.title if template else "")
                               .props(INPUT).classes("w-full").mark("template-title"),
                               lambda v: text_problem(v.strip(), "title", max_length=incident_service.NAME_MAX))
            body = MarkdownField("Message", template.body if template else "", marker="template-body")
            form.field("body", body.textarea, no_check)
            ui.label("Component statuses").classes(f"{SECTION} pt-2")
            page_id = await self._first_page(chosen)
            page_select = ui.select({p.id: p.title for p in self.pages.values()}, label="Show the components of",
                                    value=page_id).props(INPUT).classes("w-full sm:w-72")
            pickers = StatusPickers(chosen)
            if page_id is not None:
                pickers.show(await page_components(page_id))

            async def show_page(page_id: int | None) -> None:
                if page_id is not None:
                    pickers.show(await page_components(page_id))

            page_select.on_value_change(lambda e: show_page(e.value))

            async def save() -> None:
                if not form.check_all():
                    return
                try:
                    saved = await incident_service.save_template(
                        self.actor, name=name.value or "", title=title.value or "", body=body.value,
                        impact=impact.value, components=pickers.wanted_everywhere(),
                        template_id=template.id if template else None)
                except ServiceError as exc:
                    form.show(exc)
                    return
                notify_done(f"Template '{saved.name}' saved")
                await self.show(None)

            with ui.row().classes("w-full justify-end gap-2"):
                if template:
                    ui.button("Cancel", on_click=lambda: self.show(None)).props("flat no-caps")
                form.submits(ui.button("Save template", icon="save", on_click=save).props("unelevated no-caps"))

    async def _first_page(self, chosen: dict[int, str]) -> int | None:
        """A page showing one of the template's components, else the first page."""
        if chosen:
            placed = await Placement.filter(component_id__in=list(chosen)).order_by("page_id") \
                .values_list("page_id", flat=True)
            for page_id in placed:
                if page_id in self.pages:
                    return page_id
        return next(iter(self.pages), None)

    async def show(self, template: IncidentTemplate | None) -> None:
        self.editing = template
        await self.load()
        await self.listing.refresh()
        await self.editor.refresh()

    async def edit(self, template: IncidentTemplate) -> None:
        await self.show(template)
        if self.card is not None:  # the editor sits above the list: bring it into view
            self.card.client.run_javascript(f"getHtmlElement({self.card.id}).scrollIntoView({{behavior: 'smooth'}})")

    def confirm_delete(self, template: IncidentTemplate) -> None:
        confirm_delete(self.dialogs, question=f"Delete the template '{template.name}'?",
                       consequence="Incidents opened from it stay as they are.", button="Delete template",
                       icon="delete", done=f"Template '{template.name}' deleted",
                       delete=lambda: incident_service.delete_template(self.actor, template.id),
                       then=lambda: self.show(None if self.editing and self.editing.id == template.id
                                              else self.editing))


@ui.page("/admin/templates")
async def templates_page(request: Request) -> None:
    user = await session.require_user()
    if user is None:
        return
    actor = session.actor_for(user, request)
    screen = TemplateScreen(actor, await page_service.list_pages(actor))
    await screen.load()
    with admin_frame("Incident templates", user):
        back_link("Incidents", "/admin/incidents")
        ui.label("Incident templates").classes("text-2xl font-semibold")
        ui.label("Prepared incidents: picking one in the composer fills in the title, message, impact and component "
                 "statuses.").classes(MUTED)
        await screen.editor()
        screen.listing()
        screen.dialogs = ui.element("div")

"""/admin: status pages, their components, and the status of each."""

from __future__ import annotations

import re

from fastapi import Request
from nicegui import ui

from app.enums import ComponentStatus
from app.services import components as component_service
from app.services import pages as page_service
from app.services.errors import ServiceError
from pages import session
from pages.theme import clear_errors, frame, notify_done, show_errors
from storage.models import Placement

STATUS_OPTIONS = {s.value: s.label for s in ComponentStatus}
STATUS_COLOR = {
    ComponentStatus.OPERATIONAL: "positive", ComponentStatus.DEGRADED: "warning",
    ComponentStatus.PARTIAL_OUTAGE: "orange-9", ComponentStatus.MAJOR_OUTAGE: "negative",
    ComponentStatus.MAINTENANCE: "info",
}


def suggest_slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:64]


@ui.page("/admin")
async def dashboard(request: Request) -> None:
    user = await session.current_user()
    if user is None:
        ui.navigate.to("/login")
        return
    actor = session.actor_for(user, request)

    @ui.refreshable
    async def page_list() -> None:
        rows = await page_service.list_pages()
        if not rows:
            ui.label("No status pages yet. Create the first one below.").classes("text-slate-600")
        for page in rows:
            await page_card(page)

    async def page_card(page) -> None:
        placements = await Placement.filter(page_id=page.id).order_by("position", "id") \
            .prefetch_related("component", "group")
        with ui.card().classes("w-full gap-3").props(f'data-page="{page.slug}"'):
            with ui.row().classes("w-full items-center justify-between"):
                with ui.column().classes("gap-0"):
                    ui.label(page.title).classes("text-lg font-semibold")
                    ui.link(f"/status/{page.slug}", f"/status/{page.slug}", new_tab=True).classes("text-sm")
            for placement in placements:
                component = placement.component
                with ui.row().classes("w-full items-center justify-between border-t border-slate-200 pt-2"):
                    with ui.column().classes("gap-0"):
                        ui.label(component.name).classes("font-medium")
                        if placement.group is not None:
                            ui.label(placement.group.name).classes("text-xs text-slate-500")
                    with ui.row().classes("items-center gap-2"):
                        dot = ui.icon("circle", color=STATUS_COLOR[component.status]).classes("text-sm")
                        ui.select(STATUS_OPTIONS, value=component.status.value,
                                  on_change=lambda e, cid=component.id, dot=dot: set_status(cid, e.value, dot)) \
                            .props(f'outlined dense aria-label="Status of {component.name}"').classes("w-56")
            with ui.row().classes("w-full items-start gap-2 border-t border-slate-200 pt-3"):
                name = ui.input("New component name").props("outlined dense").classes("grow")
                fields = {"name": name}

                async def add(page_id=page.id, name=name, fields=fields) -> None:
                    clear_errors(fields)
                    try:
                        await component_service.create_component(actor, name=name.value, pages=[page_id])
                    except ServiceError as exc:
                        show_errors(exc, fields)
                        return
                    notify_done(f"Component '{name.value.strip()}' added")
                    page_list.refresh()

                ui.button("Add component", icon="add", on_click=add).props("outline")
                name.on("keydown.enter", add)

    async def set_status(component_id: int, value: str, dot: ui.icon) -> None:
        try:
            component = await component_service.set_status(actor, component_id, value)
        except ServiceError as exc:
            show_errors(exc)
            page_list.refresh()
            return
        dot.props(f"color={STATUS_COLOR[component.status]}")
        notify_done(f"{component.name}: {ComponentStatus(value).label}")

    with frame("Dashboard", user.email):
        ui.label("Status pages").classes("text-2xl font-semibold")
        await page_list()
        with ui.card().classes("w-full gap-3"):
            ui.label("New status page").classes("text-lg font-semibold")
            with ui.row().classes("w-full items-start gap-2"):
                title = ui.input("Title").props("outlined dense").classes("grow")
                slug = ui.input("Slug", placeholder="acme").props("outlined dense").classes("grow")
                # suggested when the title is left, not per keystroke: a server-side fill racing the visitor's
                # typing in the slug field could wipe what they typed
                title.on("blur", lambda: slug.set_value(suggest_slug(title.value)) if not slug.value else None)
                fields = {"title": title, "slug": slug}

                async def create_page() -> None:
                    clear_errors(fields)
                    try:
                        page = await page_service.create_page(actor, title=title.value, slug=slug.value)
                    except ServiceError as exc:
                        show_errors(exc, fields)
                        return
                    notify_done(f"Status page '{page.title}' created")
                    title.set_value("")
                    slug.set_value("")
                    clear_errors(fields)
                    page_list.refresh()

                ui.button("Create page", icon="add", on_click=create_page)

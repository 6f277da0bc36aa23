"""/admin/pages/{page_id}: every setting of one status page, checked as it is entered, with a live preview;
/admin/preview/{slug}: a draft or private page as signed-in staff see it; /admin/uploads/{name}: the brand images
that preview shows (the public asset route hides a page's images while the page is hidden).

A page outside the signed-in user's teams (app/auth/scope.py) is answered as if it did not exist, here and in the
structure editor (``scoped_page``)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from nicegui import app as ui_app
from nicegui import background_tasks, events, ui

from app import html
from app.api.assets import asset_response
from app.api.public import _not_found
from app.auth import Actor, allowed, scope
from app.enums import Role
from app.services import pages as page_service
from app.services.errors import Invalid, ServiceError
from app.snapshot import store
from pages import session
from pages.theme import frame, notify_done, signed_in_page
from storage.models import StatusPage, User

PREVIEW_DELAY_SECONDS = 0.3  # wait for a pause in typing before rendering the preview again
# The preview renders the page at a desktop width and scales it down to fit beside the form.
PREVIEW_WIDTH, PREVIEW_SCALE = 880, 0.6
UPTIME_OPTIONS = {days: f"{days} days" for days in page_service.UPTIME_WINDOWS}
IMAGE_LABELS = {"logo": "Logo", "favicon": "Favicon"}
IMAGE_HINTS = {
    "logo": "PNG, JPEG, GIF, WebP or ICO, up to 512 KiB; shown 48 px high above the title.",
    "favicon": "PNG, JPEG, GIF, WebP or ICO, up to 128 KiB; the icon in the browser tab.",
}


async def _staff() -> User | None:
    user = await session.current_user()
    return user if user is not None and allowed(Role(user.role), "page.view_private") else None


@ui_app.get("/admin/preview/{slug}", include_in_schema=False)
async def preview(slug: str) -> Response:
    """The page as visitors would see it once published, with a banner; 404 (as on the public route) for anyone
    not signed in, so a hidden page's existence does not leak."""
    snapshot = store.by_slug(slug)
    user = await _staff() if snapshot is not None else None
    if snapshot is None or user is None or not await scope.page_in_scope(Actor.for_user(user), snapshot.page.id):
        return _not_found()
    return HTMLResponse(html.status_page(snapshot, live_url="", preview=True),
                        headers={"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"})


@ui_app.get("/admin/uploads/{name}", include_in_schema=False)
async def uploaded_image(name: str) -> Response:
    if await _staff() is None:
        return _not_found()
    return asset_response(name, cache_control="private, max-age=31536000, immutable")


def _saved(page: StatusPage) -> dict[str, Any]:
    return {name: getattr(page, name) for name in page_service.EDITABLE if name != "active"}


class PageEditor:
    """One visitor's editor: the form's values, the saved values, and the preview that shows the difference."""

    def __init__(self, page: StatusPage, actor: Actor) -> None:
        self.page = page
        self.actor = actor
        self.saved = _saved(page)
        self.values = dict(self.saved)
        self.fields: dict[str, ui.element] = {}
        self.iframe: ui.element | None = None
        self._pending: asyncio.Task | None = None

    # --- values and messages ----------------------------------------------------------------------------
    def changed(self) -> dict[str, Any]:
        return {name: value for name, value in self.values.items()
                if page_service.normalise(name, value) != self.saved[name]}

    def set_value(self, name: str, value: Any) -> None:
        self.values[name] = value
        if "error" in self.fields[name].props:  # a message goes away as soon as the value is fixed
            self.check(name)
        self.schedule_preview()

    def check(self, name: str) -> bool:
        problem = page_service.setting_problem(name, self.values[name])
        self.show_problem(name, problem)
        return problem is None

    def show_problem(self, name: str, problem: str | None) -> None:
        element = self.fields.get(name)
        if element is None:
            return
        if problem:
            element.props["error"] = True
            element.props["error-message"] = problem
        else:
            element.props.pop("error", None)
            element.props.pop("error-message", None)

    def bind(self, name: str, element: ui.element, *, check_on_blur: bool = True) -> ui.element:
        """Keep ``values[name]`` in step with ``element``; show the service's message for it when it is left
        (choices from a fixed list need no check of their own)."""
        self.fields[name] = element
        element.on_value_change(lambda e: self.set_value(name, e.value))
        if check_on_blur:
            element.on("blur", lambda: self.check(name))
        return element

    # --- preview -------------------------------------------------------------------------------------------
    def preview_html(self) -> str | None:
        snapshot = store.get(self.page.id)
        if snapshot is None:
            return None
        # unsaved values that pass their checks; a half-typed colour keeps the saved one meanwhile
        overrides = {name: page_service.normalise(name, value) for name, value in self.values.items()
                     if page_service.setting_problem(name, value) is None}
        page = replace(snapshot.page, **overrides)
        return html.status_page(replace(snapshot, page=page), live_url="", preview=True)

    def render_preview(self) -> None:
        if self.iframe is None or self.iframe.is_deleted:
            return
        body = self.preview_html()
        if body is not None:
            self.iframe.props["srcdoc"] = body

    def schedule_preview(self) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()
        self._pending = background_tasks.create(self._render_later(), name="page-editor-preview")

    async def _render_later(self) -> None:
        await asyncio.sleep(PREVIEW_DELAY_SECONDS)
        self.render_preview()

    # --- actions -------------------------------------------------------------------------------------------
    async def save(self) -> None:
        problems = [name for name in self.values if not self.check(name)]
        if problems:
            ui.notify("Some settings need attention; see the messages on the fields.", type="warning")
            return
        changed = self.changed()
        if not changed:
            notify_done("Nothing to save")
            return
        try:
            self.page = await page_service.update_page(self.actor, self.page.id, **changed)
        except ServiceError as exc:
            self.show_error(exc)
            return
        self.saved = _saved(self.page)
        for name in changed:  # show what was stored: trimmed, lowercase colours and domains
            stored = self.saved[name]
            self.fields[name].set_value("" if stored is None else stored)
        notify_done("Page settings saved")
        self.state_area.refresh()

    def show_error(self, exc: ServiceError) -> None:
        leftover = []
        if isinstance(exc, Invalid):
            for name, text in exc.errors.items():
                if name in self.fields:
                    self.show_problem(name, text)
                else:
                    leftover.append(text)
        else:
            leftover.append(str(exc))
        if leftover:
            ui.notify(" ".join(leftover), type="negative")

    async def activate(self) -> None:
        try:
            self.page = await page_service.activate(self.actor, self.page.id)
        except ServiceError as exc:
            self.show_error(exc)
            return
        notify_done(f"'{self.page.title}' is active")
        self.state_area.refresh()

    async def back_to_draft(self) -> None:
        try:
            self.page = await page_service.update_page(self.actor, self.page.id, active=False)
        except ServiceError as exc:
            self.show_error(exc)
            return
        notify_done(f"'{self.page.title}' is a draft again")
        self.state_area.refresh()

    async def upload(self, kind: str, event: events.UploadEventArguments, message: ui.label) -> None:
        message.set_visibility(False)
        # refuse an oversized file before reading it into memory
        problem = page_service.size_problem(kind, event.file.size())
        try:
            if problem:
                raise Invalid({kind: problem})
            self.page = await page_service.set_page_image(self.actor, self.page.id, kind, event.file.name,
                                                          await event.file.read())
        except ServiceError as exc:
            message.set_text(exc.errors.get(kind, str(exc)) if isinstance(exc, Invalid) else str(exc))
            message.set_visibility(True)
            return
        finally:
            event.sender.reset()
        notify_done(f"{IMAGE_LABELS[kind]} uploaded")
        self.images.refresh()

    async def remove_image(self, kind: str) -> None:
        try:
            self.page = await page_service.clear_page_image(self.actor, self.page.id, kind)
        except ServiceError as exc:
            self.show_error(exc)
            return
        notify_done(f"{IMAGE_LABELS[kind]} removed")
        self.images.refresh()

    # --- layout --------------------------------------------------------------------------------------------
    @ui.refreshable_method
    def state_area(self) -> None:
        page = self.page
        with ui.row().classes("w-full items-center justify-between"):
            with ui.column().classes("gap-0"):
                ui.label(page.title).classes("text-2xl font-semibold")
                with ui.row().classes("items-center gap-3 text-sm"):
                    if page.active:
                        ui.badge("Active", color="positive")
                    else:
                        ui.badge("Draft", color="warning").classes("text-black")
                    if not page.public:
                        ui.badge("Private", color="grey-8")
                    if page.active and page.public:
                        ui.link(f"/status/{page.slug}", f"/status/{page.slug}", new_tab=True)
                    else:
                        ui.link("Open preview", f"/admin/preview/{page.slug}", new_tab=True)
            with ui.row().classes("items-center gap-2"):
                if page.active:
                    ui.button("Back to draft", on_click=self.back_to_draft).props("flat")
                else:
                    ui.button("Activate", icon="publish", on_click=self.activate)
        if not page.active:
            ui.label("A draft is visible only to signed-in staff. Activate publishes it.") \
                .classes("text-sm text-slate-600")

    @ui.refreshable_method
    def images(self) -> None:
        for kind in page_service.IMAGE_KINDS:
            name = getattr(self.page, f"{kind}_file")
            with ui.column().classes("w-full gap-1"):
                with ui.row().classes("w-full items-center justify-between"):
                    ui.label(IMAGE_LABELS[kind]).classes("font-medium")
                    if name:
                        with ui.row().classes("items-center gap-2"):
                            ui.element("img").props(f'src="/admin/uploads/{name}" alt="Current {kind}"') \
                                .classes("h-8 w-auto border border-slate-200 rounded")
                            ui.button("Remove", on_click=lambda kind=kind: self.remove_image(kind)) \
                                .props(f'flat dense color=negative aria-label="Remove {kind}"').mark(f"remove-{kind}")
                    else:
                        ui.label("none").classes("text-sm text-slate-500")
                message = ui.label().classes("text-negative text-sm").props('role="alert"')
                message.set_visibility(False)
                ui.upload(label=f"Upload {kind}", auto_upload=True,
                          on_upload=lambda e, kind=kind, message=message: self.upload(kind, e, message)) \
                    .props('accept="image/png,image/jpeg,image/gif,image/webp,image/x-icon,.ico" flat bordered '
                           'color=grey-2 text-color=grey-9') \
                    .classes("w-full").mark(f"upload-{kind}")
                ui.label(IMAGE_HINTS[kind]).classes("text-xs text-slate-500")

    def build(self) -> None:
        v = self.values
        # QUploader keeps a file list and a byte counter; uploads apply at once here, so neither says anything
        ui.add_css(".q-uploader__list, .q-uploader__subtitle { display: none; } .q-uploader { max-height: none; }")
        self.state_area()
        with ui.row().classes("w-full items-start gap-6"):
            with ui.column().classes("w-[400px] max-w-full gap-4"):
                with ui.card().classes("w-full gap-2"):
                    ui.label("Page").classes("text-lg font-semibold")
                    self.bind("title", ui.input("Title", value=v["title"]).props("outlined dense")
                              .classes("w-full"))
                    self.bind("slug", ui.input("Slug", value=v["slug"])
                              .props("outlined dense hint='The address: /status/slug'")
                              .classes("w-full"))
                    self.bind("description", ui.textarea("Description", value=v["description"])
                              .props("outlined dense autogrow").classes("w-full"))
                    self.bind("custom_domain", ui.input("Custom domain", value=v["custom_domain"] or "",
                                                        placeholder="status.example.com")
                              .props("outlined dense hint='Served at / on this host name'").classes("w-full"))
                    self.bind("public", ui.switch("Public: anyone may see it (off: signed-in staff only)",
                                                  value=v["public"]), check_on_blur=False)
                with ui.card().classes("w-full gap-2"):
                    ui.label("Appearance").classes("text-lg font-semibold")
                    self.bind("theme", ui.select(page_service.THEMES, label="Theme", value=v["theme"])
                              .props("outlined dense").classes("w-full"), check_on_blur=False)
                    self.bind("brand_color", ui.color_input("Brand colour", value=v["brand_color"], preview=True)
                              .props("outlined dense").classes("w-full"))
                    self.bind("header_color", ui.color_input("Header colour", value=v["header_color"] or "",
                                                             placeholder="none: plain header", preview=True)
                              .props("outlined dense clearable").classes("w-full"))
                    self.bind("footer_text", ui.textarea("Footer text", value=v["footer_text"])
                              .props("outlined dense autogrow counter maxlength=1000").classes("w-full"))
                    self.images()
                with ui.card().classes("w-full gap-2"):
                    ui.label("Display").classes("text-lg font-semibold")
                    zones = sorted(page_service.time_zones() | {v["time_zone"]})
                    self.bind("time_zone", ui.select(zones, label="Time zone", value=v["time_zone"],
                                                     with_input=True)
                              .props("outlined dense").classes("w-full"), check_on_blur=False)
                    ui.label("Uptime bars").classes("text-sm text-slate-600")
                    self.bind("uptime_days", ui.radio(UPTIME_OPTIONS, value=v["uptime_days"]
                                                      if v["uptime_days"] in UPTIME_OPTIONS else 90).props("inline"),
                              check_on_blur=False)
                    self.bind("show_response_times", ui.switch("Show response times",
                                                               value=v["show_response_times"]),
                              check_on_blur=False)
                    self.bind("incident_history_days", ui.number("Incident history (days)",
                                                                 value=v["incident_history_days"], step=1)
                              .props("outlined dense").classes("w-full"))
                ui.button("Save", icon="save", on_click=self.save).classes("w-full")
            # stays in view while the form scrolls
            with ui.column().classes("gap-2 sticky top-20"):
                ui.label("Preview (unsaved changes included)").classes("text-sm text-slate-600")
                width, height = round(PREVIEW_WIDTH * PREVIEW_SCALE), 900
                with ui.element("div").classes("overflow-hidden border border-slate-200 rounded bg-white") \
                        .style(f"width: {width}px; height: {height}px"):
                    # no scripts in the preview (sandbox without allow-scripts); same origin so that the
                    # staff-only images load with the session cookie
                    self.iframe = ui.element("iframe").props(
                        'sandbox="allow-same-origin" title="Preview of the status page"').mark("preview").style(
                        f"width: {PREVIEW_WIDTH}px; height: {round(height / PREVIEW_SCALE)}px; border: 0; "
                        f"transform: scale({PREVIEW_SCALE}); transform-origin: 0 0")
        self.render_preview()
        # the preview follows status changes made elsewhere while the editor is open
        stop = store.listen(self.page.id, lambda _: self.schedule_preview())
        ui.context.client.on_delete(stop)


async def scoped_page(request: Request, page_ref: str) -> tuple[User, StatusPage, Actor] | None:
    """(user, page, actor) for an admin screen about one page, by id or slug; None after sending a visitor who is
    not signed in to the sign-in page, or after saying that there is no such page — also when the page is outside
    the user's teams, in the same words, so that its existence does not leak."""
    found = await signed_in_page(page_ref)
    if found is None:
        return None
    user, page = found
    actor = session.actor_for(user, request)
    if not await scope.page_in_scope(actor, page.id):
        with frame("Page not found", user.email, user.role):
            ui.label("There is no such status page.").classes("text-lg")
            ui.link("Back to the dashboard", "/admin")
        return None
    return user, page, actor


@ui.page("/admin/pages/{page_id}")
async def page_editor(request: Request, page_id: str) -> None:
    found = await scoped_page(request, page_id)
    if found is None:
        return
    user, page, actor = found
    with frame(f"Edit {page.title}", user.email, user.role):
        ui.link("← Dashboard", "/admin").classes("text-sm")
        PageEditor(page, actor).build()

"""/admin/maintenance: announced maintenance windows — the list, the form that schedules one (once or recurring),
and each window's screen to start it early, extend it, complete it, cancel it and post updates.

Times typed into the forms are read in the window's time zone (the page's by default), as the service does;
times shown are in the page's zone with their offset.

Only windows of pages in the user's scope are listed or opened (app/auth/scope.py); another team's window reads
"No such maintenance.", as an unknown id does.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from nicegui import ui

from app import events, html, recurrence
from app.auth import Actor, allowed
from app.enums import MaintenanceState
from app.services import maintenance as maintenance_service
from app.services import pages as page_service
from app.services.errors import NotFound, ServiceError
from app.services.validation import text_problem
from pages.admin.editing import (
    CARD,
    DATETIME,
    HEADING,
    INPUT,
    MUTED,
    SECTION,
    Choice,
    Listing,
    MarkdownField,
    back_link,
    component_names,
    error_text,
    form_screen,
    fresh_dialog,
    item_screen,
    list_screen,
    no_check,
    page_components,
    rendered,
    tag,
    when,
)
from pages.admin.incidents import NoPage, scoped_choice, scoped_get
from pages.theme import Form, notify_done
from storage.models import Maintenance, MaintenanceComponent, MaintenanceUpdate, StatusPage

STATE_LABEL = html.MAINTENANCE_STATE_LABEL
STATE_LOOK = {
    MaintenanceState.SCHEDULED: "bg-blue-50 text-blue-900",
    MaintenanceState.IN_PROGRESS: "bg-amber-100 text-amber-900",
    MaintenanceState.COMPLETED: "bg-green-100 text-green-900",
}
SECTIONS = ((MaintenanceState.IN_PROGRESS, "In progress"), (MaintenanceState.SCHEDULED, "Upcoming"),
            (MaintenanceState.COMPLETED, "Completed"))
RECURRENCE_KINDS = {"none": "None", "weekly": "Weekly", "cron": "Cron"}
DAY_LABELS = tuple(name[:3] for name in recurrence.WEEKDAY_NAMES)  # Mon … Sun
PREVIEW_COUNT = 3
EVENTS = [events.MAINTENANCE_SCHEDULED, events.MAINTENANCE_STARTED, events.MAINTENANCE_COMPLETED,
          events.MAINTENANCE_UPDATED, events.MAINTENANCE_CANCELLED, events.MAINTENANCE_BACKFILLED]


def state_tag(state: MaintenanceState) -> ui.label:
    return tag(STATE_LABEL[state], STATE_LOOK[state]).props(f'data-state="{state.value}"')


def window_text(m: Maintenance, zone: str) -> str:
    return html.local_range(m.scheduled_for, m.scheduled_until, zone)


def rule_text(rule: dict[str, Any] | None) -> str:
    """'Every Tuesday at 02:00 for 2 h', or '' for a window that does not recur."""
    if not rule:
        return ""
    try:
        return recurrence.describe(recurrence.parse(rule))
    except ValueError:
        return "Recurring (the stored rule no longer reads)"


def upcoming(rule: dict[str, Any] | None, zone: str, now: datetime) -> list[str] | str:
    """The next occurrences of ``rule`` as text in ``zone``, or the sentence that says what is wrong with it."""
    try:
        parsed = recurrence.parse(rule)
        starts = recurrence.occurrences(parsed, now, zone, PREVIEW_COUNT)
    except ValueError as exc:
        return str(exc)
    if not starts:
        return "This rule never occurs; check its days and times."
    return [html.local_range(start, start + parsed.duration, zone) for start in starts]


def wall_clock(moment: datetime, zone: str) -> str:
    """The moment as a date-time input shows it, in ``zone``."""
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = UTC
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def whole(value: Any) -> Any:
    """ui.number hands over floats; the services want whole minutes (anything else goes on to be refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# --- /admin/maintenance ------------------------------------------------------------------------------------------



class MaintenanceList(Listing):
    """Every window (or one page's): in progress, upcoming, completed; follows changes made elsewhere."""

    def __init__(self, actor: Actor, pages: list[StatusPage], page_id: int) -> None:
        super().__init__(actor, pages, page_id)
        self.windows: list[Maintenance] = []

    async def load(self) -> None:
        self.windows = await maintenance_service.list_maintenances(self.page_id or None, actor=self.actor)

    @ui.refreshable_method
    def rows(self) -> None:
        if not self.windows:
            ui.label("No maintenance scheduled.").classes(MUTED)
            return
        for state, heading in SECTIONS:
            windows = [m for m in self.windows if m.state == state]
            if windows:
                ui.label(heading).classes(f"{SECTION} pt-2")
                with ui.column().classes("w-full gap-0"):
                    for m in windows:
                        self._row(m)

    def _row(self, m: Maintenance) -> None:
        page = self.pages.get(m.page_id)  # type: ignore[attr-defined]
        zone = page.time_zone if page else m.time_zone
        with ui.row().classes("w-full items-start gap-x-4 gap-y-1 py-3 border-b border-slate-100 "
                              "flex-wrap sm:flex-nowrap").props(f'data-maintenance="{m.id}"'):
            with ui.column().classes("gap-1 grow min-w-0"):
                ui.link(m.name, f"/admin/maintenance/{m.id}").classes("font-medium text-slate-900 truncate") \
                    .mark("maintenance-link")
                with ui.row().classes("items-center gap-2"):
                    state_tag(m.state)
                    ui.label(page.title if page else "").classes("text-sm text-slate-600")
                if described := rule_text(m.recurrence):
                    with ui.row().classes("items-center gap-1 text-sm text-slate-600 no-wrap"):
                        ui.icon("repeat", size="xs")
                        ui.label(described)
            ui.label(window_text(m, zone)).classes("shrink-0 text-sm text-slate-600")


def _maintenance_actions(actor: Actor) -> None:
    if allowed(actor.role, "maintenance.create"):
        ui.button("Schedule maintenance", icon="add").props('unelevated no-caps href="/admin/maintenance/new"')


@ui.page("/admin/maintenance")
async def maintenance_list(request: Request, page: str | None = None) -> None:
    await list_screen(request, page, title="Maintenance", make=MaintenanceList, actions=_maintenance_actions,
                      follows=EVENTS)


# --- /admin/maintenance/new --------------------------------------------------------------------------------------

class Scheduler:
    """The form that announces a window: page, title, description, times in a zone, components, recurrence."""

    def __init__(self, actor: Actor, pages: list[StatusPage], page: StatusPage) -> None:
        self.actor = actor
        self.pages = {p.id: p for p in pages}
        self.page = page
        self.form = Form()
        self.components: list[Choice] = []
        self.selected: set[int] = set()

    def build(self) -> None:
        self._about()
        self._when()
        with ui.card().classes(CARD):
            ui.label("Components").classes(HEADING)
            ui.label("They show Under maintenance while the window is in progress.").classes(MUTED)
            self.checklist = ui.element("div").classes("w-full grid grid-cols-1 sm:grid-cols-2 gap-x-6")
        self._recurrence()
        with ui.row().classes("w-full justify-end"):
            self.form.submits(ui.button("Schedule", icon="event", on_click=self.schedule)
                              .props("unelevated no-caps"))

    def _about(self) -> None:
        form = self.form
        with ui.card().classes(CARD):
            self.page_select = form.field("page", ui.select(
                {p.id: p.title for p in self.pages.values()}, label="Status page", value=self.page.id,
                on_change=lambda e: self.choose_page(e.value)).props(INPUT).classes("w-full sm:w-72"),
                lambda v: None if v else "Choose a status page.")
            self.title = form.field("name", ui.input("Title", placeholder="e.g. Database upgrade")
                                    .props(INPUT).classes("w-full").mark("title"),
                                    lambda v: text_problem(v.strip(), "title", max_length=maintenance_service.NAME_MAX))
            self.body = MarkdownField("Description", placeholder="What will happen, and what will visitors notice?")
            form.field("body", self.body.textarea, no_check)

    def _when(self) -> None:
        form = self.form
        with ui.card().classes(CARD):
            ui.label("When").classes(HEADING)
            with ui.row().classes("w-full items-start gap-3"):
                self.start = form.field("starts_at", ui.input("Start").props(DATETIME)
                                        .classes("grow min-w-[14rem]").mark("starts_at"), no_check)
                self.end = form.field("ends_at", ui.input("End").props(DATETIME)
                                      .classes("grow min-w-[14rem]").mark("ends_at"), no_check)
                zones = sorted(page_service.time_zones() | {"UTC", self.page.time_zone})
                self.zone = form.field("time_zone", ui.select(zones, label="Time zone", value=self.page.time_zone,
                                                              with_input=True, on_change=self.show_preview)
                                       .props(INPUT).classes("grow min-w-[14rem]").mark("time_zone"), no_check)
            with ui.row().classes("w-full items-start gap-3"):
                self.remind = form.field("remind_minutes", ui.number("Reminder (minutes before the start)", value=60,
                                                                     min=0, step=5)
                                         .props(INPUT).classes("grow min-w-[14rem]").mark("remind_minutes"), no_check)
                self.backfill = ui.switch("Backfill (already over)").classes("grow")

    def _recurrence(self) -> None:
        with ui.card().classes(CARD):
            ui.label("Repeat").classes(HEADING)
            self.kind = ui.radio(RECURRENCE_KINDS, value="none", on_change=self.show_recurrence) \
                .props("inline").mark("recurrence-kind")
            with ui.column().classes("w-full gap-2") as self.weekly:
                with ui.row().classes("items-center gap-x-2 gap-y-0"):
                    self.days = [ui.checkbox(label, on_change=self.show_preview).mark(f"day-{index}")
                                 for index, label in enumerate(DAY_LABELS)]
                self.time = ui.input("Time", value="02:00", on_change=self.show_preview) \
                    .props(f"{INPUT} type=time stack-label").classes("w-40").mark("weekly-time")
            with ui.column().classes("w-full gap-2") as self.cron:
                self.expression = ui.input("Cron expression", placeholder="0 3 * * SAT", on_change=self.show_preview) \
                    .props(f"{INPUT} hint='minute hour day-of-month month day-of-week'") \
                    .classes("w-full sm:w-96").mark("cron-expression")
            self.duration = ui.number("Duration (minutes)", value=60, min=1, step=15, on_change=self.show_preview) \
                .props(INPUT).classes("w-48").mark("duration")
            with ui.column().classes("w-full gap-1") as self.preview_box:
                ui.label("Next occurrences").classes(SECTION)
                self.preview = ui.column().classes("gap-0 text-sm").mark("recurrence-preview")
                ui.label("Leave start and end empty to begin at the next occurrence.").classes("text-xs text-slate-500")
        self.show_recurrence()

    # --- reacting to the form ---------------------------------------------------------------------------------
    async def choose_page(self, page_id: int | None) -> None:
        if page_id is None:
            return
        if page_id not in self.pages:  # form_screen's first choice may be a page outside the user's scope
            page_id = self.page.id
        self.page = self.pages[page_id]
        self.zone.set_value(self.page.time_zone)
        self.components = await page_components(page_id)
        self.checklist.clear()
        with self.checklist:
            if not self.components:
                ui.label("This page has no components yet.").classes(MUTED)
            for component in self.components:
                ui.checkbox(component.name, value=component.id in self.selected,
                            on_change=lambda e, cid=component.id: self._tick(cid, e.value)) \
                    .mark(f"component-{component.id}")

    def _tick(self, component_id: int, on: bool) -> None:
        if on:
            self.selected.add(component_id)
        else:
            self.selected.discard(component_id)

    def rule(self) -> dict[str, Any] | None:
        kind = self.kind.value
        minutes = whole(self.duration.value)
        if kind == "weekly":
            return {"kind": "weekly", "days": [i for i, box in enumerate(self.days) if box.value],
                    "time": self.time.value or "", "duration_minutes": minutes}
        if kind == "cron":
            return {"kind": "cron", "expression": self.expression.value or "", "duration_minutes": minutes}
        return None

    def show_recurrence(self) -> None:
        kind = self.kind.value
        self.weekly.set_visibility(kind == "weekly")
        self.cron.set_visibility(kind == "cron")
        self.duration.set_visibility(kind != "none")
        self.preview_box.set_visibility(kind != "none")
        self.show_preview()

    def show_preview(self) -> None:
        rule = self.rule()
        self.preview.clear()
        if rule is None:
            return
        found = upcoming(rule, self.zone.value or "UTC", datetime.now(UTC))
        with self.preview:
            if isinstance(found, str):
                ui.label(found).classes("text-negative").props('role="alert"')
            else:
                for text in found:
                    ui.label(text).mark("occurrence")

    async def schedule(self) -> None:
        if not self.form.check_all():
            return
        try:
            m = await maintenance_service.schedule_maintenance(
                self.actor, page=self.page.id, name=self.title.value or "", body=self.body.value,
                starts_at=self.start.value or None, ends_at=self.end.value or None, time_zone=self.zone.value,
                components=[c.id for c in self.components if c.id in self.selected], recurrence_rule=self.rule(),
                remind_minutes=whole(self.remind.value), backfill=bool(self.backfill.value))
        except ServiceError as exc:
            self.form.show(exc)  # field messages on their inputs (a rule's problem also shows in its preview)
            return
        notify_done(f"Maintenance '{m.name}' scheduled")
        ui.navigate.to(f"/admin/maintenance/{m.id}")


@ui.page("/admin/maintenance/new")
async def new_maintenance(request: Request, page: str | None = None) -> None:
    async def make(actor: Actor, pages: list[StatusPage], chosen: StatusPage) -> Scheduler | NoPage:
        pages, first = await scoped_choice(actor, pages, chosen)
        return NoPage() if first is None else Scheduler(actor, pages, first)

    await form_screen(request, title="Schedule maintenance", back=("Maintenance", "/admin/maintenance"),
                      action="maintenance.create", cannot="You cannot schedule maintenance", page=page, make=make)


# --- /admin/maintenance/{id} -------------------------------------------------------------------------------------

class MaintenanceScreen:
    """One window: what and when, the actions its state allows, an update form and its updates."""

    dialogs: ui.element  # dialogs go here, outside the refreshed sections (set when the screen is built)

    def __init__(self, actor: Actor, m: Maintenance, page: StatusPage) -> None:
        self.actor = actor
        self.m = m
        self.page = page
        self.may_update = allowed(actor.role, "maintenance.update")
        self.may_cancel = allowed(actor.role, "maintenance.cancel")
        self.updates: list[MaintenanceUpdate] = []
        self.component_names: list[str] = []
        self.gone = False

    def build(self) -> None:
        back_link("Maintenance", "/admin/maintenance")
        self.header()
        self.actions()
        self.timeline()
        self.dialogs = ui.element("div")

    @property
    def zone(self) -> str:
        return self.page.time_zone

    async def load(self) -> None:
        try:
            self.m = await maintenance_service.get_maintenance(self.m.id, actor=self.actor)
        except NotFound:
            self.gone = True
            return
        self.updates = await maintenance_service.maintenance_updates(self.m.id)
        await MaintenanceUpdate.fetch_for_list(self.updates, "author")
        ids = await MaintenanceComponent.filter(maintenance_id=self.m.id).order_by("id") \
            .values_list("component_id", flat=True)
        names = await component_names(ids)
        self.component_names = [names.get(cid, f"Component {cid}") for cid in ids]

    async def reload(self, everything: bool = True) -> None:
        await self.load()
        await self.header.refresh()
        await self.timeline.refresh()
        if everything:
            await self.actions.refresh()

    async def changed_elsewhere(self, event: events.Event) -> None:
        if event.data.get("maintenance_id") == self.m.id:
            await self.reload(everything=event.name != events.MAINTENANCE_UPDATED)

    # --- header and state actions ---------------------------------------------------------------------------
    @ui.refreshable_method
    def header(self) -> None:
        m = self.m
        with ui.card().classes(CARD):
            if self.gone:
                ui.label("This maintenance has been cancelled.").classes("text-lg").props('role="alert"')
                ui.link("Back to maintenance", "/admin/maintenance")
                return
            with ui.row().classes("w-full items-start justify-between gap-3"):
                with ui.column().classes("gap-1 min-w-0"):
                    ui.label(m.name).classes("text-2xl font-semibold break-words")
                    with ui.row().classes("items-center gap-2"):
                        state_tag(m.state)
                        if m.backfilled:
                            tag("Backfilled", "bg-slate-100 text-slate-700")
                ui.button("View on status page", icon="open_in_new").props(
                    f'flat no-caps target="_blank" href="/status/{self.page.slug}/maintenance/{m.id}"')
            with ui.column().classes("gap-0 text-sm text-slate-600"):
                ui.label(f"Window: {window_text(m, self.zone)}").classes("text-slate-900 font-medium")
                ui.label(f"Page: {self.page.title} · times in {self.zone}")
                if m.started_at:
                    ui.label(f"Started {when(m.started_at, self.zone)}")
                if m.completed_at:
                    ui.label(f"Completed {when(m.completed_at, self.zone)}")
                if described := rule_text(m.recurrence):
                    ui.label(f"Repeats: {described}")
                ui.label("Components: " + (", ".join(self.component_names) or "none"))
            if m.body.strip():
                rendered(m.body)
            self._state_buttons()

    def _state_buttons(self) -> None:
        state = self.m.state
        with ui.row().classes("items-center gap-2"):
            if self.may_update and state == MaintenanceState.SCHEDULED:
                ui.button("Start now", icon="play_arrow", on_click=self.start).props("unelevated no-caps")
            if self.may_update and state == MaintenanceState.IN_PROGRESS:
                ui.button("Complete now", icon="check_circle", on_click=self.complete) \
                    .props("unelevated no-caps color=positive")
            if self.may_update and state != MaintenanceState.COMPLETED:
                ui.button("Extend", icon="more_time", on_click=self.extend).props("outline no-caps")
            if self.may_cancel and state == MaintenanceState.SCHEDULED:
                ui.button("Cancel", icon="event_busy", on_click=self.confirm_cancel) \
                    .props("outline no-caps color=negative")

    async def _act(self, call: Awaitable[Any], done: str) -> bool:
        try:
            await call
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            return False
        notify_done(done)
        await self.reload()
        return True

    async def start(self) -> None:
        await self._act(maintenance_service.start_maintenance(self.actor, self.m.id), "Maintenance started")

    async def complete(self) -> None:
        done = "Maintenance completed" + ("; the next occurrence is scheduled" if self.m.recurrence else "")
        await self._act(maintenance_service.complete_maintenance(self.actor, self.m.id), done)

    def extend(self) -> None:
        form = Form()
        current = wall_clock(self.m.scheduled_until, self.m.time_zone)
        with fresh_dialog(self.dialogs) as dialog, ui.card().classes("w-[32rem] max-w-full gap-3 p-5"):
            ui.label("Change the end").classes(HEADING)
            end = form.field("ends_at", ui.input("New end", value=current).props(DATETIME).classes("w-full")
                             .mark("new-end"), no_check)
            ui.label(f"Read in {self.m.time_zone}.").classes("text-xs text-slate-500")
            note = form.field("body", ui.textarea("Message (optional)").props(f"{INPUT} rows=3").classes("w-full")
                              .mark("extend-body"), no_check)

            async def save() -> None:
                try:
                    await maintenance_service.extend_maintenance(self.actor, self.m.id, end.value or "",
                                                                 body=note.value or "")
                except ServiceError as exc:
                    form.show(exc)
                    return
                dialog.close()
                notify_done("New end saved")
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Close", on_click=dialog.close).props("flat no-caps")
                form.submits(ui.button("Save end", on_click=save).props("unelevated no-caps"))
        dialog.open()

    def confirm_cancel(self) -> None:
        recurring = bool(self.m.recurrence)
        with fresh_dialog(self.dialogs) as dialog, ui.card().classes("w-[30rem] max-w-full gap-3 p-5"):
            ui.label(f"Cancel '{self.m.name}'?").classes(HEADING)
            ui.label("It disappears from the status page." + (
                " This window repeats: cancel only this occurrence (the next one is scheduled) or end the whole "
                "series." if recurring else "")).classes(MUTED)

            async def cancel(end_series: bool) -> None:
                try:
                    await maintenance_service.cancel_maintenance(self.actor, self.m.id, end_series=end_series)
                except ServiceError as exc:
                    ui.notify(error_text(exc), type="negative")
                    return
                dialog.close()
                notify_done("Series ended" if end_series and recurring else "Maintenance cancelled")
                ui.navigate.to("/admin/maintenance")

            with ui.row().classes("w-full justify-end gap-2 flex-wrap"):
                ui.button("Keep it", on_click=dialog.close).props("flat no-caps")
                if recurring:
                    ui.button("This occurrence", on_click=lambda: cancel(False)).props("outline no-caps color=negative")
                    ui.button("Whole series", on_click=lambda: cancel(True)).props("unelevated no-caps color=negative")
                else:
                    ui.button("Cancel maintenance", on_click=lambda: cancel(False)) \
                        .props("unelevated no-caps color=negative")
        dialog.open()

    # --- updates -----------------------------------------------------------------------------------------------
    @ui.refreshable_method
    def actions(self) -> None:
        if self.gone or not self.may_update:
            return
        form = Form()
        with ui.card().classes(CARD):
            ui.label("Post an update").classes(HEADING)
            body = MarkdownField("Message", marker="update-body")
            form.field("body", body.textarea, no_check)  # the service says what an update needs

            async def post() -> None:
                if not form.check_all():
                    return
                try:
                    await maintenance_service.post_maintenance_update(self.actor, self.m.id, body.value)
                except ServiceError as exc:
                    form.show(exc)
                    return
                notify_done("Update posted")
                await self.reload()

            with ui.row().classes("w-full justify-end"):
                form.submits(ui.button("Post update", icon="send", on_click=post).props("unelevated no-caps"))

    @ui.refreshable_method
    def timeline(self) -> None:
        if self.gone:
            return
        with ui.card().classes(CARD):
            ui.label("Updates").classes(HEADING)
            if not self.updates:
                ui.label("No updates yet.").classes(MUTED)
            for update in self.updates:
                author = update.author.email if update.author else "Beacon (automatic)"
                with ui.column().classes("w-full gap-1 border-l-2 border-slate-200 pl-4 py-1"):
                    with ui.row().classes("items-center gap-x-2 gap-y-0"):
                        state_tag(update.state)
                        ui.label(when(update.display_at, self.zone)).classes("text-sm text-slate-700")
                        ui.label(f"by {author}").classes("text-sm text-slate-500")
                    rendered(update.body)


@ui.page("/admin/maintenance/{maintenance_id}")
async def maintenance_detail(request: Request, maintenance_id: str) -> None:
    await item_screen(request, maintenance_id, get=scoped_get(request, maintenance_service.get_maintenance),
                      missing_text="No such maintenance.", back=("Back to maintenance", "/admin/maintenance"),
                      make=MaintenanceScreen, follows=EVENTS)

"""/admin/monitors: the monitors — the list (state, last check, a 30-minute latency sparkline, 24 h uptime, bulk
pause and resume), the form that creates or edits one (its kind's own settings generated from the kind's fields,
"Test now" before saving), and each monitor's screen (uptime over 24 h / 7 d / 30 d / 90 d, the response-time
chart, state changes, recent checks, the push URL of a push monitor).

Every change goes through app/services/monitoring.py with the signed-in user's Actor; a screen offers only what the
user's role allows. Monitors of components outside the user's teams are not listed and read "No such monitor.".
Times are shown in UTC: a monitor belongs to no page, so there is no page time zone to read them in.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from nicegui import ui

from app import events
from app.auth import Actor, allowed
from app.enums import ComponentStatus
from app.services import components as component_service
from app.services import monitoring
from app.services.errors import Invalid, NotFound, ServiceError
from app.services.validation import text_problem
from app.snapshot import store
from app.uptime import format_percent
from monitors.base import CheckResult, Field, Kind
from pages.admin.editing import (
    CARD,
    HEADING,
    INPUT,
    MUTED,
    SECTION,
    admin_frame,
    attr,
    back_link,
    confirm_delete,
    error_text,
    follow,
    id_in_address,
    missing,
    no_check,
    refusal,
    tag,
    when,
)
from pages.theme import Form, notify_done
from storage.models import IncidentTemplate, Monitor, MonitorEvent, User

ZONE = "UTC"
EVENTS = [events.MONITOR_CHANGED, events.MONITOR_STATE_CHANGED]
STATE_LABEL = {"up": "Up", "degraded": "Degraded", "down": "Down", "pending": "Pending", "paused": "Paused"}
STATE_LOOK = {"up": "bg-green-100 text-green-900", "degraded": "bg-amber-100 text-amber-900",
              "down": "bg-red-100 text-red-900", "pending": "bg-slate-100 text-slate-700",
              "paused": "bg-slate-200 text-slate-700"}
DOT = {"up": "bg-green-500", "degraded": "bg-amber-500", "down": "bg-red-600", "pending": "bg-slate-400",
       "paused": "bg-slate-300 ring-1 ring-slate-400"}
STATE_FILTER = {"all": "All states", **STATE_LABEL}
DOWN_STATUSES = {ComponentStatus.MAJOR_OUTAGE.value: "Major outage",
                 ComponentStatus.PARTIAL_OUTAGE.value: "Partial outage"}
NONE = 0  # "no component" / "no template" in a select
RANGES = {"24h": "24 hours", "7d": "7 days", "30d": "30 days", "90d": "90 days"}
SPARK_MINUTES = 30
PAGE_SIZE = 100  # rows drawn at first; "Show more" adds as many (a NiceGUI row is a dozen elements)
RELOAD_PAUSE_SECONDS = 2.0


# --- small pieces ------------------------------------------------------------------------------------------------

def shown_state(m: Monitor) -> str:
    return "paused" if m.paused else (m.state if m.state in STATE_LABEL else "pending")


def state_tag(state: str) -> ui.label:
    return tag(STATE_LABEL.get(state, state), STATE_LOOK.get(state, STATE_LOOK["pending"])) \
        .props(f'data-state="{state}"')


def dot(state: str) -> ui.element:
    look = DOT.get(state, DOT["pending"])
    return ui.element("span").classes(f"inline-block shrink-0 w-2.5 h-2.5 rounded-full {look}") \
        .props(f'role="img" aria-label="{STATE_LABEL.get(state, state)}"')


def flapping_tag() -> ui.label:
    return tag("Flapping", "bg-purple-100 text-purple-900").props('title="Changing state often"')


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """'just now', '3 min ago', '2 h ago', '4 d ago'; 'never' for no moment."""
    if moment is None:
        return "never"
    seconds = ((now or datetime.now(UTC)) - moment).total_seconds()
    if seconds < 45:
        return "just now"
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def duration(seconds: int) -> str:
    """'30 s', '5 min', '1 h', '1 d'; uneven amounts in the largest unit that divides them."""
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def percent(value: float | None) -> str:
    """As the public pages write uptime (rounded down, so any downtime never reads 100 %)."""
    return "—" if value is None else format_percent(value).replace("%", " %")


def millis(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def sparkline(values: list[float | None], width: int = 120, height: int = 28) -> str:
    """An inline SVG of the values (None leaves a gap); empty text when there is nothing to draw."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    top = max(known) or 1.0
    step = width / max(1, len(values) - 1)
    pad = 2

    def y(v: float) -> float:
        return round(height - pad - (height - 2 * pad) * v / top, 1)

    runs: list[list[tuple[float, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((round(i * step, 1), y(v)))
    shapes = [f'<line x1="0" y1="{height - 0.5}" x2="{width}" y2="{height - 0.5}" stroke="#e2e8f0"/>']
    for run in runs:
        if len(run) == 1:
            shapes.append(f'<circle cx="{run[0][0]}" cy="{run[0][1]}" r="1.5" fill="#2563eb"/>')
        elif run:
            points = " ".join(f"{x},{yy}" for x, yy in run)
            shapes.append(f'<polyline points="{points}" fill="none" stroke="#2563eb" stroke-width="1.5" '
                          'stroke-linejoin="round" stroke-linecap="round"/>')
    label = f"Response time over the last {len(values)} minutes, up to {top:,.0f} ms"
    return (f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{label}"><title>{label}</title>{"".join(shapes)}</svg>')


def kind_label(name: str) -> str:
    return next((k.label for k in monitoring.kinds(include_scripts=True) if k.name == name), name)


def push_url(m: Monitor) -> str:
    return f"{store.base_url}/api/push/{m.push_token}"


def whole(value: Any) -> Any:
    """ui.number hands over floats; whole ones go on as ints (anything else goes on to be refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


async def _signed_in(request: Request) -> tuple[User, Actor] | None:
    from pages import session

    user = await session.require_user()
    if user is None:
        return None
    return user, session.actor_for(user, request)


async def _component_names(actor: Actor) -> dict[int, str]:
    return {c.id: c.name for c in await component_service.list_components(actor)}


# --- /admin/monitors ---------------------------------------------------------------------------------------------

class MonitorList:
    """Every monitor the user may see, with checkboxes for bulk pause and resume; follows changes made elsewhere
    and refreshes the figures every half minute."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.may_update = allowed(actor.role, "monitor.update")
        self.state = "all"
        self.monitors: list[Monitor] = []
        self.components: dict[int, str] = {}
        self.uptime: dict[int, Any] = {}
        self.sparks: dict[int, list[float | None]] = {}
        self.selected: set[int] = set()
        self.limit = PAGE_SIZE
        self._reloading = self._again = False

    async def load(self) -> None:
        self.monitors = await monitoring.list_monitors(self.actor)
        ids = [m.id for m in self.monitors]
        self.components = await _component_names(self.actor)
        self.uptime = {mid: w["24h"] for mid, w in (await monitoring.uptime(ids, ("24h",))).items()} if ids else {}
        self.sparks = await monitoring.sparklines(ids, SPARK_MINUTES) if ids else {}
        self.selected &= set(ids)

    async def reload(self, _: Any = None) -> None:
        """Reload and redraw; a burst of events (many monitors changing at once) makes one reload, then at most
        one more every couple of seconds."""
        if self._reloading:
            self._again = True
            return
        self._reloading = True
        try:
            while True:
                self._again = False
                await self.load()
                self.rows.refresh()
                if not self._again:
                    break
                await asyncio.sleep(RELOAD_PAUSE_SECONDS)
        finally:
            self._reloading = False

    def _more(self) -> None:
        self.limit += PAGE_SIZE
        self.rows.refresh()

    def shown(self) -> list[Monitor]:
        return [m for m in self.monitors if self.state == "all" or shown_state(m) == self.state]

    def build(self) -> None:
        with ui.row().classes("w-full items-center justify-between gap-3"):
            ui.label("Monitors").classes("text-2xl font-semibold")
            if allowed(self.actor.role, "monitor.create"):
                ui.button("New monitor", icon="add").props('unelevated no-caps href="/admin/monitors/new"')
        with ui.card().classes(CARD):
            with ui.row().classes("w-full items-center justify-between gap-3"):
                ui.select(STATE_FILTER, label="State", value=self.state, on_change=self._filter) \
                    .props(INPUT).classes("w-full sm:w-56").mark("state-filter")
                if self.may_update:
                    with ui.row().classes("items-center gap-2"):
                        self.pause_button = ui.button("Pause", icon="pause", on_click=lambda: self._pause(True)) \
                            .props("outline no-caps")
                        self.resume_button = ui.button("Resume", icon="play_arrow",
                                                       on_click=lambda: self._pause(False)).props("outline no-caps")
            self.rows()

    def _filter(self, e: Any) -> None:
        self.state = e.value or "all"
        self.limit = PAGE_SIZE
        self.selected.clear()
        self.rows.refresh()

    def _buttons(self) -> None:
        if self.may_update:
            self.pause_button.set_enabled(bool(self.selected))
            self.resume_button.set_enabled(bool(self.selected))

    def _tick(self, monitor_id: int, on: bool) -> None:
        (self.selected.add if on else self.selected.discard)(monitor_id)
        self._buttons()

    def _tick_all(self, on: bool) -> None:
        self.selected = {m.id for m in self.shown()} if on else set()
        self.rows.refresh()

    async def _pause(self, paused: bool) -> None:
        ids = sorted(self.selected)
        if not ids:
            return
        try:
            count = await monitoring.set_paused(self.actor, ids, paused)
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            return
        word = "paused" if paused else "resumed"
        notify_done(f"{count} monitor{'s' if count != 1 else ''} {word}" if count else f"Already {word}")
        self.selected.clear()
        await self.reload()

    @ui.refreshable_method
    def rows(self) -> None:
        if not self.monitors:
            ui.label("No monitors yet. A monitor checks a service on a schedule and keeps its component's status "
                     "up to date.").classes(MUTED)
            self._buttons()
            return
        shown = self.shown()
        with ui.row().classes("w-full items-center gap-3 px-1 pb-1 border-b border-slate-200 no-wrap"):
            if self.may_update:
                ui.checkbox(value=bool(shown) and {m.id for m in shown} <= self.selected,
                            on_change=lambda e: self._tick_all(e.value)) \
                    .props('dense aria-label="Select all"').mark("select-all")
            ui.label("Monitor").classes(f"{SECTION} grow")
            ui.label(f"Last {SPARK_MINUTES} min").classes(f"{SECTION} w-32 max-md:hidden")
            ui.label("24 h").classes(f"{SECTION} w-20 text-right max-sm:hidden")
            ui.label("Last check").classes(f"{SECTION} w-24 text-right max-sm:hidden")
        if not shown:
            ui.label("No monitor is in this state.").classes(f"{MUTED} py-2")
        with ui.column().classes("w-full gap-0"):
            for m in shown[:self.limit]:
                self._row(m)
        if len(shown) > self.limit:
            left = len(shown) - self.limit
            ui.button(f"Show {min(left, PAGE_SIZE)} more ({left} not shown)", on_click=self._more) \
                .props("flat no-caps").classes("self-center").mark("show-more")
        self._buttons()

    def _row(self, m: Monitor) -> None:
        state = shown_state(m)
        agg = self.uptime.get(m.id)
        with ui.row().classes("w-full items-center gap-3 px-1 py-2.5 border-b border-slate-100 no-wrap "
                              "hover:bg-slate-50").props(f'data-monitor="{m.id}"'):
            if self.may_update:
                ui.checkbox(value=m.id in self.selected, on_change=lambda e, mid=m.id: self._tick(mid, e.value)) \
                    .props(f'dense aria-label="Select {attr(m.name)}"').mark(f"select-{m.id}")
            with ui.column().classes("gap-0.5 grow min-w-0"):
                with ui.row().classes("items-center gap-2 no-wrap min-w-0 w-full"):
                    dot(state)
                    ui.link(m.name, f"/admin/monitors/{m.id}") \
                        .classes("font-medium text-slate-900 no-underline hover:underline truncate") \
                        .mark("monitor-link")
                    state_tag(state)
                    if m.flapping:
                        flapping_tag()
                parts = [kind_label(m.kind)]
                if m.component_id is not None:
                    parts.append(self.components.get(m.component_id, "—"))
                ui.label(" · ".join(parts)).classes("text-sm text-slate-600 truncate pl-4")
            svg = sparkline(self.sparks.get(m.id, []))
            with ui.element("div").classes("w-32 shrink-0 flex items-center max-md:hidden"):
                if svg:
                    ui.html(svg, sanitize=False).mark(f"sparkline-{m.id}")
                else:
                    ui.label("No data").classes("text-xs text-slate-400")
            ui.label(percent(agg.uptime_percent if agg else None)) \
                .classes("w-20 shrink-0 text-right text-sm tabular-nums max-sm:hidden").mark(f"uptime-{m.id}")
            ui.label(ago(m.last_check_at)).classes("w-24 shrink-0 text-right text-sm text-slate-600 max-sm:hidden") \
                .props(f'title="{when(m.last_check_at, ZONE)}"')


@ui.page("/admin/monitors")
async def monitor_list(request: Request) -> None:
    signed = await _signed_in(request)
    if signed is None:
        return
    user, actor = signed
    listing = MonitorList(actor)
    await listing.load()
    with admin_frame("Monitors", user):
        listing.build()
    ui.timer(30, listing.reload)
    follow(EVENTS, listing.reload)


# --- /admin/monitors/new and /admin/monitors/{id}/edit ------------------------------------------------------------

def _shown_value(f: Field, value: Any) -> Any:
    """A config value as its input shows it: lists one per line, maps as "Name: value" lines, JSON as text."""
    if value is None:
        value = f.default
    if value is None:
        return False if f.type == "bool" else None if f.type in ("int", "float", "choice") else ""
    if f.type == "list" and isinstance(value, list | tuple):
        return "\n".join(str(v) for v in value)
    if f.type == "map" and isinstance(value, dict):
        return "\n".join(f"{k}: {v}" for k, v in value.items())
    if f.type == "json" and not isinstance(value, str):
        return json.dumps(value, indent=2)
    return value


def config_input(f: Field, value: Any) -> ui.element:
    """One input for one setting of a kind, by the field's type."""
    label = f.label + (" *" if f.required else "")
    shown = _shown_value(f, value)
    if f.type == "bool":
        return ui.switch(f.label, value=bool(shown)).mark(f"config-{f.name}")
    if f.type == "choice":
        element: ui.element = ui.select(list(f.choices), label=label, value=shown if shown in f.choices else None)
    elif f.type in ("int", "float"):
        element = ui.number(label, value=shown, min=f.min, max=f.max, step=1 if f.type == "int" else "any",
                            placeholder=f.placeholder or None)
    elif f.type in ("text", "list", "map", "json"):
        placeholder = f.placeholder or {"list": "One per line", "map": "Name: value (one per line)"}.get(f.type, "")
        element = ui.textarea(label, value=shown, placeholder=placeholder or None).props("rows=3 autogrow")
        if f.type == "json":
            element.classes("font-mono")
    elif f.type == "secret":
        element = ui.input(label, value=shown, placeholder=f.placeholder or None, password=True,
                           password_toggle_button=True).props('autocomplete="new-password"')
    else:
        element = ui.input(label, value=shown, placeholder=f.placeholder or None)
    if f.help:
        element.props["hint"] = f.help  # set as a value: the props string would show its quotes escaped
    return element.props(INPUT).classes("w-full").mark(f"config-{f.name}")


class MonitorForm:
    """The settings of a new monitor (``monitor`` None) or of one to edit: what to check (the kind's own fields,
    rebuilt when the kind changes), where it reports (component, outage status, automatic incidents), and how
    often. "Test now" runs the check once with the form as it is, saving nothing."""

    def __init__(self, actor: Actor, kinds: list[Kind], components: dict[int, str],
                 templates: dict[int, str], monitor: Monitor | None = None) -> None:
        self.actor = actor
        self.kinds = {k.name: k for k in kinds}
        self.components = components
        self.templates = templates
        self.monitor = monitor
        self.form = Form()
        self.config_form = Form()
        self.config_inputs: dict[str, ui.element] = {}
        self.switch_notes: dict[str, ui.label] = {}
        kind = monitor.kind if monitor else ("http" if "http" in self.kinds else next(iter(self.kinds)))
        self.kind_name = kind
        self.config_values: dict[str, Any] = monitoring.public_config(kind, monitor.config) if monitor else {}

    def _defaults(self, name: str) -> Any:
        return getattr(self.monitor, name) if self.monitor else monitoring.DEFAULTS.get(name)

    # --- building ---------------------------------------------------------------------------------------------
    def build(self) -> None:
        self._what()
        self._where()
        self._when()
        self._advanced()
        self.result_box = ui.column().classes("w-full")
        with ui.row().classes("w-full justify-end gap-2"):
            if self.monitor:
                ui.button("Cancel", on_click=lambda: ui.navigate.to(f"/admin/monitors/{self.monitor.id}")) \
                    .props("flat no-caps")
            self.test_button = ui.button("Test now", icon="science", on_click=self.test).props("outline no-caps")
            self.form.submits(ui.button("Save monitor" if self.monitor else "Create monitor", icon="check",
                                        on_click=self.save).props("unelevated no-caps"))

    def _what(self) -> None:
        with ui.card().classes(CARD):
            ui.label("What to check").classes(HEADING)
            with ui.row().classes("w-full items-start gap-3"):
                self.name = self.form.field("name", ui.input("Name", value=self.monitor.name if self.monitor else "",
                                                             placeholder="e.g. Website")
                                            .props(INPUT).classes("grow min-w-[14rem]").mark("name"),
                                            lambda v: text_problem(v.strip(), "name"))
                if self.monitor is None:
                    self.kind = self.form.field("kind", ui.select({k.name: k.label for k in self.kinds.values()},
                                                                  label="Kind", value=self.kind_name, with_input=True,
                                                                  on_change=lambda e: self.choose_kind(e.value))
                                                .props(f"{INPUT} options-dense").classes("grow min-w-[14rem]")
                                                .mark("kind"), no_check)
                else:
                    with ui.column().classes("gap-0 grow min-w-[14rem] pt-1"):
                        ui.label("Kind").classes(SECTION)
                        ui.label(kind_label(self.kind_name)).classes("text-base")
            self.summary = ui.label().classes(MUTED)
            self.config_box = ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-x-4 gap-y-3")
        self._config()

    def _config(self) -> None:
        kind = self.kinds.get(self.kind_name)
        self.config_form = Form()
        self.config_inputs.clear()
        for name in [n for n in self.switch_notes if n.startswith("config.")]:
            del self.switch_notes[name]
        self.config_box.clear()
        self.summary.set_text(kind.summary.replace("`", "") if kind else "")
        if kind is None:
            return
        with self.config_box:
            if not kind.fields:
                ui.label("This kind has no settings of its own.").classes(MUTED)
            for f in kind.fields:
                wide = f.type in ("text", "list", "map", "json")
                with ui.column().classes("w-full gap-0" + (" md:col-span-2" if wide else "")):
                    element = config_input(f, self.config_values.get(f.name))
                    self.config_inputs[f.name] = element
                    if f.type == "bool":
                        if f.help:
                            ui.label(f.help).classes("text-xs text-slate-500")
                        self.switch_notes[f"config.{f.name}"] = self._note()
                    else:
                        self.config_form.field(f"config.{f.name}", element, no_check)  # type: ignore[arg-type]

    def _note(self) -> ui.label:
        note = ui.label().classes("text-xs text-negative").props('role="alert"')
        note.set_visibility(False)
        return note

    def choose_kind(self, name: str | None) -> None:
        if not name or name == self.kind_name:
            return
        self.config_values = {}
        self.kind_name = name
        self._config()

    def _where(self) -> None:
        with ui.card().classes(CARD):
            ui.label("What it speaks for").classes(HEADING)
            ui.label("A failing monitor sets its component's status; with automatic incidents on, it opens an "
                     "incident too and resolves it on recovery.").classes(MUTED)
            with ui.row().classes("w-full items-start gap-3"):
                self.component = self.form.field("component_id", ui.select(
                    {NONE: "No component", **self.components}, label="Component",
                    value=self._defaults("component_id") or NONE, with_input=True)
                    .props(f"{INPUT} options-dense").classes("grow min-w-[14rem]").mark("component"), no_check)
                down = self._defaults("down_status")
                self.down_status = self.form.field("down_status", ui.select(
                    DOWN_STATUSES, label="When it is down, the component shows",
                    value=down.value if isinstance(down, ComponentStatus) else down)
                    .props(INPUT).classes("grow min-w-[14rem]").mark("down_status"), no_check)
            with ui.row().classes("w-full items-start gap-3"):
                with ui.column().classes("gap-0 grow min-w-[14rem]"):
                    self.auto_incident = ui.switch("Open an incident automatically",
                                                   value=bool(self._defaults("auto_incident"))) \
                        .mark("auto_incident")
                    self.switch_notes["auto_incident"] = self._note()
                self.after = self.form.field("auto_incident_after", ui.number(
                    "After this many failed checks", value=self._defaults("auto_incident_after"), min=1, max=100,
                    step=1).props(INPUT).classes("w-56").mark("auto_incident_after"), no_check)
                self.template = self.form.field("incident_template_id", ui.select(
                    {NONE: "Default wording", **self.templates}, label="Incident template",
                    value=self._defaults("incident_template_id") or NONE)
                    .props(INPUT).classes("grow min-w-[14rem]").mark("template"), no_check)
            for element in (self.after, self.template):
                element.bind_enabled_from(self.auto_incident, "value")

    def _number(self, name: str, label: str, **kwargs: Any) -> ui.number:
        return self.form.field(name, ui.number(label, value=self._defaults(name), **kwargs)
                               .props(INPUT).classes("grow min-w-[12rem]").mark(name), no_check)

    def _when(self) -> None:
        with ui.card().classes(CARD):
            ui.label("How often").classes(HEADING)
            with ui.row().classes("w-full items-start gap-3"):
                self.interval = self._number("interval_seconds", "Interval (seconds)", min=monitoring.MIN_INTERVAL,
                                             step=5)
                self.timeout = self._number("timeout_seconds", "Timeout (seconds)", min=1, max=300, step=1)
                self.retries = self._number("retries", "Retries before down", min=0, max=10, step=1)
                self.retry_interval = self._number("retry_interval_seconds", "Retry interval (seconds)",
                                                   min=monitoring.MIN_INTERVAL, step=5)

    def _advanced(self) -> None:
        self.advanced = ui.expansion("Advanced: slowness and flapping", icon="tune") \
            .classes("w-full rounded border border-slate-200 bg-white").mark("advanced")
        with self.advanced:
            with ui.column().classes("w-full gap-3 p-2"):
                with ui.row().classes("w-full items-start gap-3"):
                    self.latency = self._number("latency_threshold_ms", "Slow above (ms, optional)", min=1, step=50)
                    self.flap_changes = self._number("flap_changes", "Flapping: state changes", min=1, max=100,
                                                     step=1)
                    self.flap_minutes = self._number("flap_minutes", "… within minutes", min=1, max=1440, step=1)
                ui.label("A check slower than the threshold counts as degraded. A monitor changing state more often "
                         "than this within the window is flapping: it holds its component at the outage status "
                         "until it settles.").classes("text-xs text-slate-500")

    # --- values -------------------------------------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        kind = self.kinds.get(self.kind_name)
        values: dict[str, Any] = {}
        for f in kind.fields if kind else ():
            value = self.config_inputs[f.name].value  # type: ignore[attr-defined]
            values[f.name] = whole(value) if f.type == "int" else value
        return values

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.value or "", "kind": self.kind_name, "config": self.config(),
            "component_id": self.component.value or None, "down_status": self.down_status.value,
            "auto_incident": bool(self.auto_incident.value), "auto_incident_after": whole(self.after.value),
            "incident_template_id": self.template.value or None,
            "interval_seconds": whole(self.interval.value), "timeout_seconds": self.timeout.value,
            "retries": whole(self.retries.value), "retry_interval_seconds": whole(self.retry_interval.value),
            "latency_threshold_ms": whole(self.latency.value), "flap_changes": whole(self.flap_changes.value),
            "flap_minutes": whole(self.flap_minutes.value),
        }

    # --- the service's answers ----------------------------------------------------------------------------------
    def show(self, exc: ServiceError) -> None:
        """Each message on its input (a kind's setting on its generated input); the rest as a notification."""
        for note in self.switch_notes.values():
            note.set_visibility(False)
        if not isinstance(exc, Invalid):
            ui.notify(error_text(exc), type="negative")
            return
        mine, config, leftover = {}, {}, []
        for name, text in exc.errors.items():
            name = monitoring.ALIASES.get(name, name)
            if name in self.form.fields:
                mine[name] = text
            elif name in self.config_form.fields:
                field = self.kinds[self.kind_name].fields
                label = next((f.label for f in field if f"config.{f.name}" == name), "")
                config[name] = f"{label} {text}" if text[:1].islower() and label else text
            elif name in self.switch_notes:
                self.switch_notes[name].set_text(text)
                self.switch_notes[name].set_visibility(True)
            else:
                leftover.append(text)
        if mine:
            self.form.show(Invalid(mine))
        if config:
            self.config_form.show(Invalid(config))
        if leftover:
            ui.notify(" ".join(leftover), type="negative")
        if config or any(n.startswith("config.") and self.switch_notes[n].visible for n in self.switch_notes):
            return
        if set(mine) & {"latency_threshold_ms", "flap_changes", "flap_minutes"}:
            self.advanced.open()

    async def test(self) -> None:
        self.result_box.clear()
        self.test_button.props("loading")
        try:
            result = await monitoring.test_config(self.actor, self.values(),
                                                  monitor_id=self.monitor.id if self.monitor else None)
        except ServiceError as exc:
            self.show(exc)
            return
        finally:
            self.test_button.props(remove="loading")
        with self.result_box:
            test_result(result)

    async def save(self) -> None:
        if not self.form.check_all():
            return
        try:
            if self.monitor is None:
                saved = await monitoring.create_monitor(self.actor, **self.values())
            else:
                saved = await monitoring.update_monitor(self.actor, self.monitor.id, **self.values())
        except ServiceError as exc:
            self.show(exc)
            return
        notify_done("Monitor saved" if self.monitor else "Monitor created")
        ui.navigate.to(f"/admin/monitors/{saved.id}")


def test_result(result: CheckResult) -> None:
    """The outcome of "Test now" or "Check now": its state, how long it took, its message and details."""
    outcome = str(getattr(result.outcome, "value", result.outcome))
    look = {"up": "border-green-300 bg-green-50", "degraded": "border-amber-300 bg-amber-50",
            "down": "border-red-300 bg-red-50"}.get(outcome, "border-slate-200 bg-slate-50")
    with ui.column().classes(f"w-full gap-1 rounded border px-4 py-3 {look}").props('role="status"') \
            .mark("test-result"):
        with ui.row().classes("items-center gap-2"):
            ui.label("Test result").classes("font-medium")
            state_tag(outcome)
            ui.label(millis(result.latency_ms)).classes("text-sm text-slate-700 tabular-nums")
        if result.message:
            ui.label(result.message).classes("text-sm text-slate-800 break-words")
        for key, value in (result.details or {}).items():
            ui.label(f"{key.replace('_', ' ')}: {value}").classes("text-xs text-slate-600")


async def _form_screen(request: Request, title: str, monitor_id: str | None) -> None:
    signed = await _signed_in(request)
    if signed is None:
        return
    user, actor = signed
    monitor = None
    if monitor_id is not None:
        try:
            monitor = await monitoring.get_monitor(id_in_address(monitor_id), actor=actor)
        except NotFound:
            missing(user, "No such monitor.", "Back to monitors", "/admin/monitors")
            return
    action, cannot = ("monitor.update", "You cannot edit monitors") if monitor else \
        ("monitor.create", "You cannot create monitors")
    with admin_frame(f"Edit {monitor.name}" if monitor else title, user):
        if monitor:
            back_link(monitor.name, f"/admin/monitors/{monitor.id}")
        else:
            back_link("Back to monitors", "/admin/monitors")
        ui.label(f"Edit {monitor.name}" if monitor else title).classes("text-2xl font-semibold")
        if (refused := refusal(actor, action)) is not None:
            ui.label(f"{cannot}: {refused}.").classes("text-negative").props('role="alert"')
            return
        templates = dict(await IncidentTemplate.all().order_by("name").values_list("id", "name"))
        form = MonitorForm(actor, monitoring.kinds(), await _component_names(actor), templates, monitor)
        form.build()


@ui.page("/admin/monitors/new")
async def monitor_new(request: Request) -> None:
    await _form_screen(request, "New monitor", None)


@ui.page("/admin/monitors/{monitor_id}/edit")
async def monitor_edit(request: Request, monitor_id: str) -> None:
    await _form_screen(request, "Edit monitor", monitor_id)


# --- /admin/monitors/{id} -----------------------------------------------------------------------------------------

def chart_options(points: list[monitoring.Point], window: str) -> dict[str, Any]:
    """A line of the average response time; down buckets shaded red, degraded ones amber."""
    size = {"24h": 60, "7d": 3600, "30d": 3600, "90d": 86400}[window] * 1000
    line = [[p.at * 1000, round(p.avg_ms, 1) if p.avg_ms is not None else None] for p in points]
    down = [[{"xAxis": p.at * 1000}, {"xAxis": p.at * 1000 + size}] for p in points if p.down]
    degraded = [[{"xAxis": p.at * 1000}, {"xAxis": p.at * 1000 + size}] for p in points if p.degraded and not p.down]
    return {
        "animation": False,
        "grid": {"left": 56, "right": 16, "top": 24, "bottom": 32},
        "tooltip": {"trigger": "axis"},
        "legend": {"show": True, "top": 0, "right": 0, "data": ["Average", "Down", "Degraded"]},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "name": "ms", "nameGap": 8, "splitLine": {"lineStyle": {"color": "#e2e8f0"}}},
        "series": [
            {"name": "Average", "type": "line", "data": line, "showSymbol": len(line) < 3, "connectNulls": False,
             "lineStyle": {"width": 1.5, "color": "#2563eb"}, "itemStyle": {"color": "#2563eb"},
             "areaStyle": {"color": "rgba(37,99,235,0.08)"}},
            {"name": "Down", "type": "line", "data": [], "itemStyle": {"color": "rgba(220,38,38,0.6)"},
             "legendIcon": "rect",
             "markArea": {"silent": True, "itemStyle": {"color": "rgba(220,38,38,0.18)"}, "data": down}},
            {"name": "Degraded", "type": "line", "data": [], "itemStyle": {"color": "rgba(217,119,6,0.6)"},
             "legendIcon": "rect",
             "markArea": {"silent": True, "itemStyle": {"color": "rgba(245,158,11,0.18)"}, "data": degraded}},
        ],
    }


class MonitorScreen:
    """One monitor: its state and actions, uptime figures, the response-time chart, push URL, events and checks."""

    def __init__(self, actor: Actor, monitor: Monitor) -> None:
        self.actor = actor
        self.m = monitor
        self.window = "24h"
        self.gone = False
        self.component = ""
        self.uptime: dict[str, Any] = {}
        self.points: list[monitoring.Point] = []
        self.events: list[MonitorEvent] = []
        self.beats: list[Any] = []

    async def load(self) -> None:
        try:
            self.m = await monitoring.get_monitor(self.m.id, actor=self.actor)
        except NotFound:
            self.gone = True
            return
        names = await _component_names(self.actor) if self.m.component_id else {}
        self.component = names.get(self.m.component_id, "") if self.m.component_id else ""
        self.uptime = (await monitoring.uptime([self.m.id]))[self.m.id]
        self.points = await monitoring.chart(self.m.id, self.window)
        self.events = await monitoring.events_of(self.m.id, 30)
        self.beats = await monitoring.heartbeats_of(self.m.id, 25)

    async def reload(self) -> None:
        await self.load()
        self.header.refresh()
        self.figures.refresh()
        self.history.refresh()
        self.update_chart()

    async def changed_elsewhere(self, event: events.Event) -> None:
        data = event.data or {}
        ids = data.get("monitor_ids") or [data.get("monitor_id")]
        if self.m.id in ids:
            await self.reload()

    def build(self) -> None:
        back_link("Back to monitors", "/admin/monitors")
        self.dialogs = ui.element("div")
        self.header()
        self.figures()
        with ui.card().classes(CARD):
            with ui.row().classes("w-full items-center justify-between gap-3"):
                ui.label("Response time").classes(HEADING)
                ui.toggle({k: k for k in RANGES}, value=self.window, on_change=self.choose_window) \
                    .props("dense no-caps unelevated toggle-color=primary").mark("range")
            self.chart = ui.echart(chart_options(self.points, self.window)).classes("w-full h-64").mark("chart")
            self.chart_empty = ui.label("No checks in this range yet.").classes(MUTED)
            self.chart.set_visibility(bool(self.points))
            self.chart_empty.set_visibility(not self.points)
        self.push()
        self.history()

    async def choose_window(self, e: Any) -> None:
        self.window = e.value or "24h"
        self.points = await monitoring.chart(self.m.id, self.window)
        self.update_chart()

    def update_chart(self) -> None:
        if self.gone:
            return
        self.chart.options.clear()
        self.chart.options.update(chart_options(self.points, self.window))
        self.chart.update()
        self.chart.set_visibility(bool(self.points))
        self.chart_empty.set_visibility(not self.points)

    @ui.refreshable_method
    def header(self) -> None:
        if self.gone:
            ui.label("This monitor has been deleted.").classes("text-lg")
            return
        m = self.m
        state = shown_state(m)
        with ui.card().classes(CARD):
            with ui.row().classes("w-full items-start justify-between gap-3"):
                with ui.column().classes("gap-1 min-w-0"):
                    with ui.row().classes("items-center gap-2 min-w-0"):
                        dot(state)
                        ui.label(m.name).classes("text-2xl font-semibold break-words")
                        state_tag(state)
                        if m.flapping:
                            flapping_tag()
                    parts = [kind_label(m.kind), f"every {duration(m.interval_seconds)}"]
                    if self.component:
                        parts.insert(1, self.component)
                    ui.label(" · ".join(parts)).classes("text-sm text-slate-600")
                self._actions()
            with ui.row().classes("w-full gap-x-6 gap-y-1 text-sm text-slate-700"):
                ui.label(f"Last check: {ago(m.last_check_at)}").props(f'title="{when(m.last_check_at, ZONE)}"')
                ui.label(f"Latency: {millis(m.last_latency_ms)}")
                if m.state_since:
                    ui.label(f"{STATE_LABEL.get(m.state, m.state)} since {when(m.state_since, ZONE)}")
            if m.last_message:
                ui.label(m.last_message).classes("text-sm text-slate-600 break-words").mark("last-message")

    def _actions(self) -> None:
        role = self.actor.role
        with ui.row().classes("items-center gap-2 flex-wrap"):
            if allowed(role, "monitor.update"):
                if not self.m.paused:
                    ui.button("Check now", icon="bolt", on_click=self.check_now).props("unelevated no-caps")
                    ui.button("Pause", icon="pause", on_click=lambda: self.set_paused(True)).props("outline no-caps")
                else:
                    ui.button("Resume", icon="play_arrow", on_click=lambda: self.set_paused(False)) \
                        .props("unelevated no-caps")
                ui.button("Edit", icon="edit").props(f'outline no-caps href="/admin/monitors/{self.m.id}/edit"')
            if allowed(role, "monitor.delete"):
                ui.button("Delete", icon="delete", on_click=self.confirm_delete) \
                    .props("outline no-caps color=negative")

    async def _act(self, call: Callable[[], Awaitable[Any]], done: Callable[[Any], str]) -> None:
        try:
            answer = await call()
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            return
        notify_done(done(answer))
        await self.reload()

    async def check_now(self) -> None:
        def done(result: CheckResult) -> str:
            outcome = str(getattr(result.outcome, "value", result.outcome))
            return f"Checked: {STATE_LABEL.get(outcome, outcome)}, {millis(result.latency_ms)}"
        await self._act(lambda: monitoring.check_now(self.actor, self.m.id), done)

    async def set_paused(self, paused: bool) -> None:
        await self._act(lambda: monitoring.set_paused(self.actor, [self.m.id], paused),
                        lambda _: "Monitor paused" if paused else "Monitor resumed")

    def confirm_delete(self) -> None:
        confirm_delete(self.dialogs, question=f"Delete '{self.m.name}'?",
                       consequence="Its history (checks, uptime, events) goes with it, and its component is released.",
                       button="Delete monitor", delete=lambda: monitoring.delete_monitor(self.actor, self.m.id),
                       done="Monitor deleted", then=lambda: ui.navigate.to("/admin/monitors"))

    @ui.refreshable_method
    def figures(self) -> None:
        if self.gone:
            return
        with ui.element("div").classes("w-full grid grid-cols-2 md:grid-cols-4 gap-3"):
            for window, label in RANGES.items():
                agg = self.uptime.get(window)
                with ui.card().classes("gap-0 p-4").props(f'data-window="{window}"'):
                    ui.label(f"Uptime, {label}").classes(SECTION)
                    ui.label(percent(agg.uptime_percent if agg else None)) \
                        .classes("text-2xl font-semibold tabular-nums").mark(f"uptime-{window}")
                    checks = agg.checks if agg else 0
                    ui.label(f"{checks:,} check{'s' if checks != 1 else ''}").classes("text-xs text-slate-500")

    def push(self) -> None:
        if self.m.kind != "push" or not self.m.push_token:
            return
        url = push_url(self.m)
        with ui.card().classes(CARD):
            ui.label("Push URL").classes(HEADING)
            ui.label("Call this address from the job being monitored, at least once per interval. Keep it secret: "
                     "anyone who has it can report for this monitor.").classes(MUTED)
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.label(url).classes("grow min-w-0 font-mono text-sm bg-slate-100 rounded px-3 py-2 break-all") \
                    .mark("push-url")
                ui.button("Copy", icon="content_copy",
                          on_click=lambda: (ui.clipboard.write(url), notify_done("Push URL copied"))) \
                    .props("outline no-caps")
            ui.label("Example").classes(SECTION)
            ui.label(f'curl -fsS "{url}?status=up&msg=OK&ping=123"') \
                .classes("w-full font-mono text-xs bg-slate-900 text-slate-100 rounded px-3 py-2 break-all")
            ui.label("status: up, degraded or down · msg: a short message · ping: a duration in ms to chart.") \
                .classes("text-xs text-slate-500")

    @ui.refreshable_method
    def history(self) -> None:
        if self.gone:
            return
        with ui.element("div").classes("w-full grid grid-cols-1 lg:grid-cols-2 gap-6"):
            with ui.card().classes(CARD):
                ui.label("Events").classes(HEADING)
                if not self.events:
                    ui.label("No state changes yet.").classes(MUTED)
                with ui.column().classes("w-full gap-0"):
                    for event in self.events:
                        with ui.column().classes("w-full gap-0.5 py-2 border-b border-slate-100") \
                                .props('data-event=""'):
                            with ui.row().classes("items-center gap-2"):
                                state_tag(event.old_state)
                                ui.label("→").classes("text-slate-500")
                                state_tag(event.new_state)
                                ui.label(when(event.at, ZONE)).classes("text-xs text-slate-500")
                            if event.message:
                                ui.label(event.message).classes("text-sm text-slate-700 break-words")
            with ui.card().classes(CARD):
                with ui.row().classes("w-full items-baseline justify-between"):
                    ui.label("Recent checks").classes(HEADING)
                    ui.label("Times in UTC; steady checks are sampled").classes("text-xs text-slate-500")
                if not self.beats:
                    ui.label("No checks recorded yet.").classes(MUTED)
                    return
                rows = [{"id": i, "at": f"{datetime.fromtimestamp(b.at_ms / 1000, UTC):%d %b %H:%M:%S}",
                         "status": STATE_LABEL.get(b.status, b.status) + (" (maintenance)" if b.maintenance else ""),
                         "latency": millis(b.latency_ms), "message": b.message or ""}
                        for i, b in enumerate(self.beats)]
                ui.table(columns=[{"name": "at", "label": "Time", "field": "at", "align": "left",
                                   "classes": "whitespace-nowrap"},
                                  {"name": "status", "label": "Result", "field": "status", "align": "left"},
                                  {"name": "latency", "label": "Latency", "field": "latency", "align": "right"},
                                  {"name": "message", "label": "Message", "field": "message", "align": "left",
                                   "classes": "whitespace-normal break-words", "style": "min-width: 10rem"}],
                         rows=rows, row_key="id", pagination=10) \
                    .props("flat dense wrap-cells").classes("w-full").mark("heartbeats")


@ui.page("/admin/monitors/{monitor_id}")
async def monitor_detail(request: Request, monitor_id: str) -> None:
    signed = await _signed_in(request)
    if signed is None:
        return
    user, actor = signed
    try:
        monitor = await monitoring.get_monitor(id_in_address(monitor_id), actor=actor)
    except NotFound:
        missing(user, "No such monitor.", "Back to monitors", "/admin/monitors")
        return
    screen = MonitorScreen(actor, monitor)
    await screen.load()
    with admin_frame(monitor.name, user):
        screen.build()
    ui.timer(30, screen.reload)  # checks that change nothing send no event: "last check" and the figures move on
    follow(EVENTS, screen.changed_elsewhere)

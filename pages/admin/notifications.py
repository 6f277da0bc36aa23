"""/admin/notifications: the notification channels (enable or disable, "Send test", edit, delete) and the recent
deliveries, failed and dead ones first with a "Retry" each; /admin/notifications/new and …/{id}/edit: a channel's
form (name, kind, the kind's own settings, the events it wants, the pages it listens to).

Every change goes through app/services/channels.py with the signed-in user's Actor; managing channels is for
admins and owners (``channel.manage``), anyone else reads the service's refusal. Times are shown in UTC.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from nicegui import ui

from app.auth import Actor
from app.events import NOTIFIABLE
from app.notify import channels as channel_kinds
from app.services import channels as channel_service
from app.services import components as component_service
from app.services import pages as page_service
from app.services.errors import Invalid, NotFound, ServiceError
from app.services.validation import SECRET_MASK, text_problem
from pages.admin.editing import (
    CARD,
    HEADING,
    INPUT,
    MUTED,
    SECTION,
    admin_frame,
    back_link,
    confirm_delete,
    error_text,
    id_in_address,
    missing,
    no_check,
    refusal,
    tag,
    when,
)
from pages.theme import Form, notify_done
from storage.models import Channel, Delivery, User

ZONE = "UTC"
ACTION = "channel.manage"
HOME = "/admin/notifications"
MASK = SECRET_MASK
KIND_LABEL = {"webhook": "Webhook", "discord": "Discord", "email": "E-mail", "apprise": "Apprise"}


# (config key, label, input type: "text" | "secret" | "map", hint)
KIND_FIELDS: dict[str, list[tuple[str, str, str, str]]] = {
    "webhook": [("url", "URL *", "text", "Beacon POSTs a JSON document here."),
                ("secret", "Signing secret (optional)", "secret", "Signs each request (X-Beacon-Signature)."),
                ("headers", "Extra headers", "map", "")],
    "discord": [("url", "Discord webhook URL *", "text", "Server settings → Integrations → Webhooks."),
                ("username", "Username (optional)", "text", ""),
                ("avatar_url", "Avatar URL (optional)", "text", "")],
    "email": [("host", "SMTP host *", "text", ""), ("port", "Port", "int", "587 for STARTTLS, 465 for TLS."),
              ("security", "Security", "choice", ""), ("username", "Username (optional)", "text", ""),
              ("password", "Password (optional)", "secret", ""), ("from_address", "From address *", "text", ""),
              ("to", "Recipients *", "list", "One address per line.")],
    "apprise": [("urls", "Apprise URLs *", "list", "One per line, e.g. slack://…, tgram://…, ntfy://…")],
}
CHOICES = {"security": {"starttls": "STARTTLS", "tls": "TLS", "none": "None (plain text)"}}
DEFAULTS = {"port": 587, "security": "starttls"}
UNKNOWN_KIND_FIELDS = [("url", "URL *", "text", "")]
EVENT_GROUPS = (("Incidents", "incident."), ("Maintenance", "maintenance."), ("Components", "component."),
                ("Other", ""))
DELIVERY_LOOK = {"pending": "bg-slate-100 text-slate-700", "sent": "bg-green-100 text-green-900",
                 "failed": "bg-amber-100 text-amber-900", "dead": "bg-red-100 text-red-900"}
PROBLEMS = ["failed", "dead"]
DELIVERY_FILTER = {"problems": "Problems only", "all": "All recent"}
RECENT = 50


def target_label(d: Delivery) -> str:
    """Where a delivery goes: its channel's name, or the public subscriber's address."""
    if d.channel is not None:
        return d.channel.name
    sub = d.subscriber
    if sub is None:
        return "Removed subscriber"
    shown = "a browser" if sub.kind == "push" else sub.address
    return f"Subscriber {shown}"


def kind_label(kind: str) -> str:
    return KIND_LABEL.get(kind, kind.replace("_", " ").capitalize())


def kind_fields(kind: str) -> list[tuple[str, str, str, str]]:
    return KIND_FIELDS.get(kind, UNKNOWN_KIND_FIELDS)


def event_groups() -> list[tuple[str, list[str]]]:
    """The notifiable event names under the headings of the form (incidents, maintenance, components, other)."""
    left = sorted(NOTIFIABLE)
    grouped = []
    for title, prefix in EVENT_GROUPS:
        names = [n for n in left if n.startswith(prefix)]
        left = [n for n in left if n not in names]
        if names:
            grouped.append((title, names))
    return grouped


def event_label(name: str) -> str:
    """'incident.created' → 'Created'; 'component.status_changed' → 'Status changed'."""
    _, _, rest = name.partition(".")
    return (rest or name).replace("_", " ").capitalize()


def headers_text(value: Any) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}: {v}" for k, v in value.items())
    return str(value or "")


def parse_headers(text: str) -> dict[str, str] | None:
    """'Name: value' lines as a map; None when a line is not of that form."""
    found: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            return None
        found[name.strip()] = value.strip()
    return found


def headers_problem(text: str) -> str | None:
    return None if parse_headers(text) is not None else "Write one header per line, as Name: value."


async def _signed_in(request: Request) -> tuple[User, Actor] | None:
    from pages import session

    user = await session.require_user()
    if user is None:
        return None
    return user, session.actor_for(user, request)


def _refused(actor: Actor) -> bool:
    """Show the refusal (and say so) when the actor may not manage channels."""
    if (refused := refusal(actor, ACTION)) is None:
        return False
    ui.label(f"You cannot manage notification channels: {refused}.").classes("text-negative") \
        .props('role="alert"')
    return True


# --- /admin/notifications ---------------------------------------------------------------------------------------

class ChannelsScreen:
    """The channels and the recent deliveries, for one browser tab."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.channels: list[Channel] = []
        self.deliveries: list[Delivery] = []
        self.shown = "problems"

    async def load(self) -> None:
        self.channels = await channel_service.list_channels(self.actor)
        await self.load_deliveries()

    async def load_deliveries(self) -> None:
        problems = await channel_service.list_deliveries(self.actor, statuses=PROBLEMS, limit=RECENT)
        if self.shown == "problems":
            self.deliveries = problems
        else:
            others = await channel_service.list_deliveries(self.actor, statuses=["pending", "sent"], limit=RECENT)
            self.deliveries = problems + others

    async def reload(self, _: Any = None) -> None:
        await self.load()
        self.channel_rows.refresh()
        self.delivery_rows.refresh()

    def build(self) -> None:
        self.dialogs = ui.element("div")
        with ui.row().classes("w-full items-center justify-between gap-3"):
            ui.label("Notifications").classes("text-2xl font-semibold")
            ui.button("New channel", icon="add").props(f'unelevated no-caps href="{HOME}/new"')
        with ui.card().classes(CARD):
            ui.label("Channels").classes(HEADING)
            self.channel_rows()
        with ui.card().classes(CARD):
            with ui.row().classes("w-full items-center justify-between gap-3"):
                ui.label("Deliveries").classes(HEADING)
                self.filter_select = ui.select(DELIVERY_FILTER, label="Show", value=self.shown,
                                               on_change=self._filter) \
                    .props(INPUT).classes("w-full sm:w-56").mark("delivery-filter")
            self.delivery_rows()

    # --- channels -----------------------------------------------------------------------------------------------
    @ui.refreshable_method
    def channel_rows(self) -> None:
        if not self.channels:
            ui.label("No channels yet. A channel sends incidents, maintenance and status changes to a webhook or a "
                     "chat room.").classes(MUTED)
            return
        with ui.column().classes("w-full gap-0"):
            for c in self.channels:
                self._channel_row(c)

    def _channel_row(self, c: Channel) -> None:
        with ui.row().classes("w-full items-center gap-3 px-1 py-2.5 border-b border-slate-100 no-wrap "
                              "hover:bg-slate-50").props(f'data-channel="{c.id}"'):
            with ui.column().classes("gap-0.5 grow min-w-0"):
                with ui.row().classes("items-center gap-2 no-wrap min-w-0"):
                    ui.label(c.name).classes("font-medium text-slate-900 truncate").mark(f"channel-{c.id}")
                    tag(kind_label(c.kind), "bg-slate-100 text-slate-700")
                count = len(c.events or [])
                pages = f"{len(c.page_ids)} page{'s' if len(c.page_ids) != 1 else ''}" if c.page_ids else "every page"
                ui.label(f"{count} event{'s' if count != 1 else ''} · {pages}").classes("text-sm text-slate-600")
            ui.switch("Enabled", value=c.enabled, on_change=lambda e, cid=c.id: self.set_enabled(cid, e.value)) \
                .mark(f"enabled-{c.id}")
            ui.button("Send test", icon="send", on_click=lambda cid=c.id: self.send_test(cid)) \
                .props("outline no-caps dense").mark(f"test-{c.id}")
            ui.button("Edit", icon="edit").props(f'flat no-caps dense href="{HOME}/{c.id}/edit"') \
                .mark(f"edit-{c.id}")
            ui.button("Delete", icon="delete", on_click=lambda ch=c: self.confirm_delete(ch)) \
                .props("flat no-caps dense color=negative").mark(f"delete-{c.id}")

    async def set_enabled(self, channel_id: int, on: bool) -> None:
        try:
            await channel_service.update_channel(self.actor, channel_id, enabled=bool(on))
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            await self.reload()
            return
        notify_done("Channel enabled" if on else "Channel disabled")

    async def send_test(self, channel_id: int) -> None:
        try:
            problem = await channel_service.send_test(self.actor, channel_id)
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            return
        if problem is None:
            notify_done("Test accepted")
        else:
            ui.notify(f"Test failed: {problem}", type="negative", multi_line=True)

    def confirm_delete(self, c: Channel) -> None:
        confirm_delete(self.dialogs, question=f"Delete '{c.name}'?",
                       consequence="It stops notifying at once; its deliveries go with it.", button="Delete channel",
                       delete=lambda: channel_service.delete_channel(self.actor, c.id), done="Channel deleted",
                       then=self.reload)

    # --- deliveries ---------------------------------------------------------------------------------------------
    async def _filter(self, e: Any) -> None:
        self.shown = e.value or "problems"
        await self.load_deliveries()
        self.delivery_rows.refresh()

    @ui.refreshable_method
    def delivery_rows(self) -> None:
        if not self.deliveries:
            ui.label("No failed deliveries." if self.shown == "problems" else "No deliveries yet.").classes(MUTED)
            return
        with ui.row().classes("w-full items-center gap-3 px-1 pb-1 border-b border-slate-200 no-wrap"):
            ui.label("Status").classes(f"{SECTION} w-16")
            ui.label("Channel · event").classes(f"{SECTION} grow")
            ui.label("Attempts").classes(f"{SECTION} w-16 text-right max-sm:hidden")
            ui.label("Next attempt").classes(f"{SECTION} w-40 max-md:hidden")
            ui.label("").classes("w-20")
        with ui.column().classes("w-full gap-0"):
            for d in self.deliveries:
                self._delivery_row(d)

    def _delivery_row(self, d: Delivery) -> None:
        with ui.row().classes("w-full items-center gap-3 px-1 py-2 border-b border-slate-100 no-wrap") \
                .props(f'data-delivery="{d.id}"'):
            with ui.element("div").classes("w-16 shrink-0"):
                tag(d.status.capitalize(), DELIVERY_LOOK.get(d.status, DELIVERY_LOOK["pending"])) \
                    .props(f'data-status="{d.status}"').mark(f"delivery-status-{d.id}")
            with ui.column().classes("gap-0 grow min-w-0"):
                ui.label(f"{target_label(d)} · {d.event}").classes("text-sm font-medium truncate")
                if d.last_error:
                    ui.label(d.last_error).classes("text-xs text-red-800 break-words").mark(f"delivery-error-{d.id}")
                elif d.sent_at:
                    ui.label(f"Sent {when(d.sent_at, ZONE)}").classes("text-xs text-slate-500")
            ui.label(str(d.attempts)).classes("w-16 shrink-0 text-right text-sm tabular-nums max-sm:hidden")
            ui.label(when(d.next_attempt_at, ZONE) if d.status in ("pending", "failed") else "—") \
                .classes("w-40 shrink-0 text-sm text-slate-600 max-md:hidden")
            with ui.element("div").classes("w-20 shrink-0 flex justify-end"):
                if d.status in PROBLEMS:
                    ui.button("Retry", icon="replay", on_click=lambda did=d.id: self.retry(did)) \
                        .props("outline no-caps dense").mark(f"retry-{d.id}")

    async def retry(self, delivery_id: int) -> None:
        try:
            await channel_service.retry_delivery(self.actor, delivery_id)
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            return
        notify_done("Delivery queued again")
        if self.shown == "all":
            await self.load_deliveries()
            self.delivery_rows.refresh()
        else:
            self.filter_select.set_value("all")  # so the retried delivery stays in view, as pending


@ui.page(HOME)
async def notifications(request: Request) -> None:
    signed = await _signed_in(request)
    if signed is None:
        return
    user, actor = signed
    if refusal(actor, ACTION) is not None:
        with admin_frame("Notifications", user):
            ui.label("Notifications").classes("text-2xl font-semibold")
            _refused(actor)
        return
    screen = ChannelsScreen(actor)
    await screen.load()
    with admin_frame("Notifications", user):
        screen.build()
    ui.timer(30, screen.reload)


# --- /admin/notifications/new and /admin/notifications/{id}/edit ---------------------------------------------------

class ChannelForm:
    """A new channel (``channel`` None) or one to edit: name, kind (on create only), the kind's settings, events,
    pages. The service answers each field; its messages land on their inputs."""

    def __init__(self, actor: Actor, pages: dict[int, str], channel: Channel | None = None,
                 components: dict[int, str] | None = None) -> None:
        self.actor = actor
        self.pages = pages
        self.components = components or {}
        self.options = {**channel_service.DEFAULT_OPTIONS, **((channel.options or {}) if channel else {})}
        self.channel = channel
        self.form = Form()
        self.config_form = Form()
        self.config_inputs: dict[str, ui.element] = {}
        self.kind_name = channel.kind if channel else ("webhook" if "webhook" in channel_kinds.KINDS
                                                       else next(iter(channel_kinds.KINDS)))
        self.config_values: dict[str, Any] = channel_service.public_config(channel) if channel else {}
        self.chosen: set[str] = set(channel.events or []) if channel else set()

    def build(self) -> None:
        with ui.card().classes(CARD):
            ui.label("Where it sends").classes(HEADING)
            with ui.row().classes("w-full items-start gap-3"):
                self.name = self.form.field("name", ui.input(
                    "Name", value=self.channel.name if self.channel else "", placeholder="e.g. Ops webhook")
                    .props(INPUT).classes("grow min-w-[14rem]").mark("name"), lambda v: text_problem(v.strip(), "name"))
                if self.channel is None:
                    self.form.field("kind", ui.select(
                        {k: kind_label(k) for k in channel_kinds.KINDS}, label="Kind", value=self.kind_name,
                        on_change=lambda e: self.choose_kind(e.value))
                        .props(INPUT).classes("grow min-w-[14rem]").mark("kind"), no_check)
                else:
                    with ui.column().classes("gap-0 grow min-w-[14rem] pt-1"):
                        ui.label("Kind").classes(SECTION)
                        ui.label(kind_label(self.kind_name)).classes("text-base")
            self.config_box = ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-x-4 gap-y-3")
        self._config()
        self._events()
        with ui.card().classes(CARD):
            ui.label("Which pages").classes(HEADING)
            self.page_select = self.form.field("page_ids", ui.select(
                self.pages, label="Status pages (none chosen: every page)", multiple=True,
                value=[p for p in (self.channel.page_ids if self.channel else []) if p in self.pages])
                .props(f"{INPUT} use-chips").classes("w-full").mark("pages"), no_check)
            self.component_select = self.form.field("component_ids", ui.select(
                self.components, label="Components (none chosen: every component)", multiple=True,
                value=[c for c in ((self.channel.component_ids or []) if self.channel else []) if c in self.components])
                .props(f"{INPUT} use-chips").classes("w-full").mark("components"), no_check)
            self.component_select.props["hint"] = ("News about a whole page (an incident without components) "
                                                   "still comes through.")
        with ui.card().classes(CARD):
            ui.label("Rules").classes(HEADING)
            with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-3 gap-x-4 gap-y-3"):
                self.flap = self.form.field("options.flap_minutes", ui.number(
                    "Status changes: at most one per … minutes", value=self.options["flap_minutes"], min=0,
                    max=1440, step=1).props(INPUT).classes("w-full").mark("flap-minutes"), no_check)
                self.flap.props["hint"] = "0 sends every change; changes in between are folded into one."
                self.window = self.form.field("options.uptime_window", ui.select(
                    {"24h": "over 24 hours", "7d": "over 7 days"}, label="Uptime alert: uptime",
                    value=self.options["uptime_window"]).props(INPUT).classes("w-full").mark("uptime-window"),
                    no_check)
                self.threshold = self.form.field("options.uptime_threshold", ui.number(
                    "Uptime alert: below (%)", value=self.options["uptime_threshold"], min=0, max=100, step=0.01)
                    .props(INPUT).classes("w-full").mark("uptime-threshold"), no_check)
                self.threshold.props["hint"] = "Sent once per breach, with the 'Uptime alert' event."
        with ui.row().classes("w-full justify-end gap-2"):
            ui.button("Cancel", on_click=lambda: ui.navigate.to(HOME)).props("flat no-caps")
            self.form.submits(ui.button("Save channel" if self.channel else "Create channel", icon="check",
                                        on_click=self.save).props("unelevated no-caps"))

    def _config(self) -> None:
        self.config_form = Form()
        self.config_inputs.clear()
        self.config_box.clear()
        with self.config_box:
            for key, label, kind, hint in kind_fields(self.kind_name):
                value = self.config_values.get(key, DEFAULTS.get(key))
                check = no_check
                if kind == "list":
                    element: ui.element = ui.textarea(label, value="\n".join(map(str, value or [])),
                                                      placeholder="One per line") \
                        .props("rows=3 autogrow").classes("md:col-span-2")
                elif kind == "int":
                    element = ui.number(label, value=value, min=1, max=65535, step=1)
                elif kind == "choice":
                    element = ui.select(CHOICES.get(key, {}), label=label, value=value)
                elif kind == "map":
                    element = ui.textarea(label, value=headers_text(value), placeholder="Name: value (one per line)") \
                        .props("rows=3 autogrow").classes("md:col-span-2")
                    check = headers_problem
                elif kind == "secret":
                    element = ui.input(label, value=str(value or ""), password=True, password_toggle_button=True) \
                        .props('autocomplete="new-password"')
                else:
                    element = ui.input(label, value=str(value or ""))
                if hint:
                    element.props["hint"] = hint
                element.props(INPUT).classes("w-full").mark(f"config-{key}")
                self.config_inputs[key] = element
                self.config_form.field(f"config.{key}", element, check)  # type: ignore[arg-type]

    def choose_kind(self, kind: str | None) -> None:
        if not kind or kind == self.kind_name:
            return
        self.config_values = {}
        self.kind_name = kind
        self._config()

    def _events(self) -> None:
        with ui.card().classes(CARD):
            ui.label("What it sends").classes(HEADING)
            with ui.element("div").classes("w-full grid grid-cols-1 sm:grid-cols-2 md:grid-cols-4 gap-x-4 gap-y-2"):
                for title, names in event_groups():
                    with ui.column().classes("gap-0"):
                        ui.label(title).classes(SECTION)
                        for name in names:
                            ui.checkbox(event_label(name), value=name in self.chosen,
                                        on_change=lambda e, n=name: self._tick(n, e.value)) \
                                .props(f'dense title="{name}"').mark(f"event-{name}")
            self.events_note = ui.label().classes("text-xs text-negative").props('role="alert"').mark("events-error")
            self.events_note.set_visibility(False)

    def _tick(self, name: str, on: bool) -> None:
        (self.chosen.add if on else self.chosen.discard)(name)
        if self.chosen:
            self.events_note.set_visibility(False)

    def config(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for key, _, kind, _ in kind_fields(self.kind_name):
            raw = self.config_inputs[key].value  # type: ignore[attr-defined]
            if kind == "int":
                values[key] = int(raw) if isinstance(raw, float) and raw.is_integer() else raw
                continue
            if kind == "choice":
                values[key] = raw
                continue
            raw = raw or ""
            if kind == "list":
                values[key] = [line.strip() for line in raw.splitlines() if line.strip()]
            elif kind == "map":
                parsed = parse_headers(raw)
                if parsed:
                    values[key] = parsed
                elif parsed is None:
                    values[key] = raw  # the service explains
            elif isinstance(raw, str) and raw.strip():
                values[key] = raw.strip() if kind != "secret" else raw
            elif kind == "secret" and self.channel is not None:
                values[key] = ""  # emptied: no more signing
        return values

    def values(self) -> dict[str, Any]:
        return {"name": self.name.value or "", "config": self.config(),
                "events": [n for n in sorted(NOTIFIABLE) if n in self.chosen],
                "page_ids": list(self.page_select.value or []),
                "component_ids": list(self.component_select.value or []), "options": self.rules()}

    def rules(self) -> dict[str, Any]:
        flap, threshold = self.flap.value, self.threshold.value
        return {"flap_minutes": int(flap) if isinstance(flap, float) and flap.is_integer() else flap,
                "uptime_window": self.window.value, "uptime_threshold": threshold}

    def show(self, exc: ServiceError) -> None:
        if isinstance(exc, Invalid) and "events" in exc.errors:
            self.events_note.set_text(exc.errors["events"])
            self.events_note.set_visibility(True)
            rest = {k: v for k, v in exc.errors.items() if k != "events"}
            if not rest:
                return
            exc = Invalid(rest)
        if not isinstance(exc, Invalid):
            self.form.show(exc)
            return
        config = {k: v for k, v in exc.errors.items() if k in self.config_form.fields}
        if config:
            self.config_form.show(Invalid(config))
        if rest := {k: v for k, v in exc.errors.items() if k not in config}:
            self.form.show(Invalid(rest))

    async def save(self) -> None:
        if not (self.form.check_all() & self.config_form.check_all()):
            return
        self.events_note.set_visibility(False)
        try:
            if self.channel is None:
                await channel_service.create_channel(self.actor, kind=self.kind_name, **self.values())
            else:
                await channel_service.update_channel(self.actor, self.channel.id, **self.values())
        except ServiceError as exc:
            self.show(exc)
            return
        notify_done("Channel saved" if self.channel else "Channel created")
        ui.navigate.to(HOME)


async def _form_screen(request: Request, channel_id: str | None) -> None:
    signed = await _signed_in(request)
    if signed is None:
        return
    user, actor = signed
    channel = None
    if channel_id is not None and refusal(actor, ACTION) is None:
        try:
            wanted = id_in_address(channel_id)
            channel = next((c for c in await channel_service.list_channels(actor) if c.id == wanted), None)
            if channel is None:
                raise NotFound(f"No channel with id {wanted}.")
        except NotFound:
            missing(user, "No such channel.", "Back to notifications", HOME)
            return
    title = f"Edit {channel.name}" if channel else ("New channel" if channel_id is None else "Edit channel")
    with admin_frame(title, user):
        back_link("Back to notifications", HOME)
        ui.label(title).classes("text-2xl font-semibold")
        if _refused(actor):
            return
        pages = {p.id: p.title for p in await page_service.list_pages(actor)}
        found = {c.id: c.name for c in await component_service.list_components(actor)}
        ChannelForm(actor, pages, channel, found).build()


@ui.page(f"{HOME}/new")
async def channel_new(request: Request) -> None:
    await _form_screen(request, None)


@ui.page(HOME + "/{channel_id}/edit")
async def channel_edit(request: Request, channel_id: str) -> None:
    await _form_screen(request, channel_id)


"""/admin/api-keys: the signed-in person's API keys. A new key is shown once, right after it is created; after
that only its prefix identifies it. Revoking asks first and takes effect at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import Request
from nicegui import ui

from app.auth import Actor
from app.enums import Role
from app.services import apikeys
from app.services.errors import ServiceError
from pages import session
from pages.admin.editing import INPUT, MUTED, admin_frame, error_text, fresh_dialog, refusal, tag, when
from pages.theme import clear_errors, notify_done, show_errors
from storage.models import ApiKey, User

SAME_ROLE = 0
EXPIRY_OPTIONS = {0: "Never", 7: "In 7 days", 30: "In 30 days", 90: "In 90 days", 365: "In a year"}
ZONE = "UTC"


def _role_name(role: Role) -> str:
    return role.name.replace("_", "-").capitalize()


def _state(key: ApiKey, now: datetime) -> tuple[str, str]:
    if key.revoked_at is not None:
        return f"Revoked {when(key.revoked_at, ZONE)}", "bg-slate-200 text-slate-800"
    if key.expires_at is not None and key.expires_at <= now:
        return "Expired", "bg-amber-100 text-amber-900"
    return "Active", "bg-green-100 text-green-900"


class KeysScreen:
    def __init__(self, actor: Actor, user: User) -> None:
        self.actor = actor
        self.user = user

    def build(self) -> None:
        if (refused := refusal(self.actor, "apikey.create")) is not None:
            ui.label(f"You cannot create API keys. {refused}").classes(MUTED)
        else:
            self._create_form()
        self.revealed = ui.column().classes("w-full")  # the new key, this once
        self.dialogs = ui.element("div")
        self.listing = ui.column().classes("w-full gap-2").mark("keys")

    def _create_form(self) -> None:
        role_options = {SAME_ROLE: f"Same as my account ({_role_name(Role(self.user.role))})",
                        **{int(r): _role_name(r) for r in sorted(Role, reverse=True) if r < self.user.role}}
        with ui.card().classes("w-full gap-3 p-5"):
            ui.label("New key").classes("text-lg font-semibold")
            with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-3 gap-3"):
                self.name = ui.input("Name", placeholder="e.g. deploy pipeline").props(INPUT).classes("w-full") \
                    .mark("key-name")
                self.role = ui.select(role_options, value=SAME_ROLE, label="Acts with the role") \
                    .props(f"{INPUT} emit-value map-options").classes("w-full").mark("key-role")
                self.expiry = ui.select(EXPIRY_OPTIONS, value=0, label="Expires") \
                    .props(f"{INPUT} emit-value map-options").classes("w-full").mark("key-expiry")
            self.message = ui.label().classes("text-negative text-sm").props('role="alert"')
            self.message.set_visibility(False)
            ui.button("Create key", on_click=self.create)

    async def create(self) -> None:
        fields = {"name": self.name, "role": self.role, "expires_at": self.expiry}
        clear_errors(fields, self.message)
        days = int(self.expiry.value or 0)
        try:
            key, plain = await apikeys.create_api_key(
                self.actor, email=self.user.email, name=self.name.value or "",
                role=Role(self.role.value) if self.role.value else None,
                expires_at=datetime.now(UTC) + timedelta(days=days) if days else None)
        except ServiceError as exc:
            show_errors(exc, fields, self.message)
            return
        self.name.set_value("")
        self._reveal(key, plain)
        await self.load()

    def _reveal(self, key: ApiKey, plain: str) -> None:
        self.revealed.clear()
        with self.revealed, ui.card().classes("w-full gap-2 p-5 border border-green-300 bg-green-50"):
            ui.label(f"Your new key{f' “{key.name}”' if key.name else ''}").classes("font-semibold")
            ui.label("Copy it now: it is shown only this once. Beacon keeps only a digest of it.") \
                .classes("text-sm text-slate-700")
            with ui.row().classes("w-full items-center gap-2 no-wrap"):
                ui.label(plain).classes("font-mono text-sm break-all select-all grow").mark("new-key")
                ui.button("Copy", icon="content_copy", on_click=lambda: ui.clipboard.write(plain)).props("flat dense")
            ui.label("Send it as 'Authorization: Bearer <key>'.").classes("text-xs text-slate-600")
            ui.button("Done", on_click=self.revealed.clear).props("flat dense")

    async def load(self) -> None:
        keys = await apikeys.list_api_keys(self.user.id)
        now = datetime.now(UTC)
        self.listing.clear()
        with self.listing:
            ui.label("Your keys").classes("text-lg font-semibold")
            if not keys:
                ui.label("You have no API keys.").classes(MUTED)
            for key in keys:
                self._row(key, now)

    def _row(self, key: ApiKey, now: datetime) -> None:
        state, look = _state(key, now)
        role = _role_name(Role(key.role)) if key.role is not None else f"{_role_name(Role(self.user.role))} (account)"
        with ui.element("div").classes("w-full rounded border border-slate-200 px-3 py-2").mark(f"key-{key.id}"):
            with ui.row().classes("w-full items-center gap-x-3 gap-y-1"):
                ui.label(key.name or "Unnamed key").classes("font-medium")
                ui.label(f"{key.prefix}…").classes("font-mono text-sm text-slate-700")
                tag(state, look)
                ui.label(f"Role: {role}").classes("text-sm")
                ui.element("div").classes("grow")
                if apikeys.is_usable(key, now):
                    ui.button("Revoke", on_click=lambda k=key: self.confirm(k)).props("flat dense color=negative") \
                        .mark(f"revoke-{key.id}")
            ui.label(f"Created {when(key.created_at, ZONE)} · last used {when(key.last_used_at, ZONE)} · "
                     f"expires {when(key.expires_at, ZONE) if key.expires_at else 'never'}").classes(MUTED)

    def confirm(self, key: ApiKey) -> None:
        dialog = fresh_dialog(self.dialogs)
        with dialog, ui.card().classes("gap-3 p-5"):
            ui.label(f"Revoke the key {key.name or key.prefix}?").classes("text-lg font-semibold")
            ui.label("Anything using it stops working at once. This cannot be undone.").classes(MUTED)
            with ui.row().classes("justify-end w-full gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat")
                ui.button("Revoke key", on_click=lambda: self.revoke(dialog, key)).props("color=negative")
        dialog.open()

    async def revoke(self, dialog: ui.dialog, key: ApiKey) -> None:
        dialog.close()
        try:
            await apikeys.revoke_api_key(self.actor, key.id)
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
        else:
            notify_done(f"Key {key.name or key.prefix} revoked")
        await self.load()


@ui.page("/admin/api-keys")
async def api_keys(request: Request) -> None:
    user = await session.require_user()
    if user is None:
        return
    screen = KeysScreen(session.actor_for(user, request), user)
    with admin_frame("API keys", user):
        ui.label("API keys").classes("text-2xl font-semibold")
        ui.label("Keys let scripts and other systems use Beacon's API as you, or with a lower role.").classes(MUTED)
        screen.build()
    await screen.load()

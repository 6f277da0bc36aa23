"""/admin/account: a person's own password and two-factor sign-in; for owners, which roles must use it."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.auth import Actor
from app.enums import Role
from app.services import signin
from app.services.errors import ServiceError
from pages import session
from pages.theme import clear_errors, frame, notify_done, show_errors
from storage.models import User

SECTION = "w-full max-w-xl p-6 gap-4"
REQUIREMENT_OPTIONS = {0: "Nobody", **{int(r): f"{r.name.replace('_', '-').capitalize()} and above" for r in Role}}


def _password_input(label: str, autocomplete: str) -> ui.input:
    return ui.input(label, password=True).props(f"autocomplete={autocomplete} outlined").classes("w-full")


def _password_section(actor: Actor) -> None:
    with ui.card().classes(SECTION):
        ui.label("Password").classes("text-lg font-semibold")
        ui.label("Changing it signs you out everywhere else.").classes("text-sm text-slate-600")
        current = _password_input("Current password", "current-password")
        new = _password_input("New password", "new-password")
        repeat = _password_input("Repeat new password", "new-password")
        message = ui.label().classes("text-negative text-sm")
        message.set_visibility(False)
        fields = {"current": current, "new": new, "repeat": repeat}

        async def change_password() -> None:
            clear_errors(fields, message)
            if new.value != repeat.value:
                repeat.props('error error-message="The new passwords do not match."')
                return
            try:
                user = await signin.change_password(actor, current.value, new.value)
            except ServiceError as exc:
                show_errors(exc, fields, message)
                return
            session.sign_in(user)  # this session goes on with the new epoch; every other one has ended
            for element in fields.values():
                element.set_value("")
            notify_done("Password changed")

        ui.button("Change password", on_click=change_password)


class TwoFactor:
    """The two-factor card: off → set-up (secret, code) → recovery codes shown once → on (turn off)."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        with ui.card().classes(SECTION):
            ui.label("Two-factor sign-in").classes("text-lg font-semibold")
            self.body = ui.column().classes("w-full gap-4")

    async def show(self) -> None:
        user = await User.get(id=self.actor.user_id)
        self.body.clear()
        with self.body:
            if user.totp_enabled_at is None:
                self._off()
            else:
                self._on(user)

    def _off(self) -> None:
        ui.label("Two-factor sign-in is off. With it on, signing in also needs a code from an authenticator app "
                 "on your phone.").classes("text-sm text-slate-600")
        ui.button("Set up two-factor sign-in", on_click=self._begin)

    async def _begin(self) -> None:
        try:
            secret, uri = await signin.begin_totp(self.actor)
        except ServiceError as exc:
            show_errors(exc)
            return
        self.body.clear()
        with self.body:
            ui.label("Add this key to your authenticator app (or import the address below), then enter the "
                     "6-digit code it shows.").classes("text-sm text-slate-600")
            ui.label(secret).classes("font-mono text-lg tracking-wider select-all").props('aria-label="Secret key"')
            ui.label(uri).classes("font-mono text-xs break-all select-all text-slate-600")
            code = ui.input("6-digit code").props("autocomplete=one-time-code inputmode=numeric outlined") \
                .classes("w-full")

            async def confirm() -> None:
                code.props(remove="error error-message")
                try:
                    codes = await signin.confirm_totp(self.actor, code.value)
                except ServiceError as exc:
                    show_errors(exc, {"code": code})
                    return
                self._recovery_codes(codes)

            ui.button("Turn on two-factor sign-in", on_click=confirm)
            code.on("keydown.enter", confirm)

    def _recovery_codes(self, codes: list[str]) -> None:
        self.body.clear()
        with self.body:
            ui.label("Two-factor sign-in is on.").classes("font-medium")
            ui.label("Keep these recovery codes somewhere safe. Each one signs you in once without your phone; "
                     "they are not shown again.").classes("text-sm text-slate-600")
            with ui.element("div").classes("grid grid-cols-2 gap-x-8 gap-y-1 font-mono"):
                for code in codes:
                    ui.label(code).classes("select-all")
            ui.link("Continue to the dashboard", "/admin")
        notify_done("Two-factor sign-in turned on")

    def _on(self, user: User) -> None:
        since = user.totp_enabled_at.strftime("%Y-%m-%d")
        left = len(user.recovery_codes or [])
        ui.label(f"Two-factor sign-in is on since {since}. {left} recovery code{'' if left == 1 else 's'} left.") \
            .classes("text-sm")
        password = _password_input("Password", "current-password")

        async def turn_off() -> None:
            password.props(remove="error error-message")
            try:
                await signin.disable_totp(self.actor, password.value)
            except ServiceError as exc:
                show_errors(exc, {"password": password})
                return
            notify_done("Two-factor sign-in turned off")
            await self.show()

        ui.button("Turn off two-factor sign-in", on_click=turn_off).props("outline color=negative")


async def _requirement_section(actor: Actor) -> None:
    required = await signin.required_2fa_role()
    with ui.card().classes(SECTION):
        ui.label("Who must use two-factor sign-in").classes("text-lg font-semibold")
        ui.label("People of these roles set it up at their next sign-in before they can do anything else.") \
            .classes("text-sm text-slate-600")

        async def save(event) -> None:
            try:
                await signin.set_required_2fa_role(actor, Role(event.value) if event.value else None)
            except ServiceError as exc:
                show_errors(exc)
                return
            notify_done("Saved")

        ui.select(REQUIREMENT_OPTIONS, value=int(required) if required else 0, label="Required from",
                  on_change=save).classes("w-64")


@ui.page("/admin/account")
async def account_page(request: Request) -> None:
    user = await session.require_user(enrolling=True)
    if user is None:
        return
    actor = session.actor_for(user, request)
    with frame("Your account", user.email, user.role):
        with ui.row().classes("w-full items-center justify-between"):
            ui.label("Your account").classes("text-2xl font-semibold")
            ui.link("Your API keys", "/admin/api-keys")
        if await signin.must_enroll(user):
            ui.label("Your role must use two-factor sign-in: set it up below before you continue.") \
                .classes("text-negative font-medium")
        _password_section(actor)
        await TwoFactor(actor).show()
        if Role(user.role) == Role.OWNER:
            await _requirement_section(actor)

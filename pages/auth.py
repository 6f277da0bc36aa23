"""First-run setup, sign-in and sign-out."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app.runtime import state
from app.services import signin, users
from app.services.errors import ServiceError
from pages import session
from pages.theme import card_form, clear_errors, show_errors


@ui.page("/setup")
async def setup_page(request: Request) -> None:
    if await users.owner_exists():
        ui.navigate.to("/login")
        return
    ui.page_title("Set up Beacon")
    with card_form("Welcome to Beacon"):
        ui.label("Create the owner account. The owner can do everything, including adding other people.") \
            .classes("text-sm text-slate-600")
        email = ui.input("E-mail").props("type=email autocomplete=username outlined").classes("w-full")
        password = ui.input("Password", password=True, password_toggle_button=True) \
            .props("autocomplete=new-password outlined").classes("w-full")
        confirm = ui.input("Repeat password", password=True).props("autocomplete=new-password outlined") \
            .classes("w-full")
        message = ui.label().classes("text-negative text-sm")
        message.set_visibility(False)
        fields = {"email": email, "password": password, "confirm": confirm}

        async def create() -> None:
            clear_errors(fields, message)
            if password.value != confirm.value:
                confirm.props('error error-message="The passwords do not match."')
                return
            ip, agent = session.client_address(request)
            try:
                user = await users.create_first_owner(email=email.value, password=password.value, ip=ip,
                                                      user_agent=agent)
            except ServiceError as exc:
                show_errors(exc, fields, message)
                return
            state.has_owner = True
            session.sign_in(user)
            ui.navigate.to("/admin")

        ui.button("Create owner account", on_click=create).classes("w-full")
        password.on("keydown.enter", create)
        confirm.on("keydown.enter", create)


@ui.page("/login")
async def login_page(request: Request) -> None:
    if not await users.owner_exists():
        ui.navigate.to("/setup")
        return
    if await session.current_user() is not None:
        ui.navigate.to("/admin")
        return
    ui.page_title("Sign in · Beacon")
    ip, agent = session.client_address(request)
    with card_form("Sign in to Beacon"):
        with ui.column().classes("w-full gap-4") as first_step:
            email = ui.input("E-mail").props("type=email autocomplete=username outlined").classes("w-full")
            password = ui.input("Password", password=True).props("autocomplete=current-password outlined") \
                .classes("w-full")
        with ui.column().classes("w-full gap-4") as second_step:
            ui.label("Enter the 6-digit code from your authenticator app, or one of your recovery codes.") \
                .classes("text-sm text-slate-600")
            code = ui.input("Code").props("autocomplete=one-time-code inputmode=numeric outlined").classes("w-full")
        second_step.set_visibility(False)
        message = ui.label().classes("text-negative text-sm")
        message.set_visibility(False)

        def refuse(text: str) -> None:
            message.set_text(text)
            message.set_visibility(True)

        async def try_login() -> None:
            message.set_visibility(False)
            asking_code = second_step.visible
            result = await signin.sign_in(email.value, password.value, ip=ip, user_agent=agent,
                                          totp_code=code.value if asking_code else None)
            if result.needs_second_factor:
                first_step.set_visibility(False)
                second_step.set_visibility(True)
                button.set_text("Verify")
                return
            if not result.ok:
                if asking_code and not result.throttled:
                    code.set_value("")
                else:
                    _back_to_first_step()
                # the page has always said it this way; the words are the service's when throttled
                refuse(result.message)
                return
            session.sign_in(result.user)
            ui.navigate.to(session.ACCOUNT_PAGE if await signin.must_enroll(result.user) else "/admin")

        def _back_to_first_step() -> None:
            password.set_value("")
            code.set_value("")
            second_step.set_visibility(False)
            first_step.set_visibility(True)
            button.set_text("Sign in")

        button = ui.button("Sign in", on_click=try_login).classes("w-full")
        password.on("keydown.enter", try_login)
        code.on("keydown.enter", try_login)


@ui.page("/logout")
def logout_page() -> None:
    session.sign_out()
    ui.navigate.to("/login")

"""/admin/users: the people who may sign in — their role, status, last sign-in and teams — with invitations, role
changes, deactivation, password resets and deletion; and /invite/{token}, where an invited person sets a password.

The services decide who may do what (app/services/users.py); this screen only hides what the signed-in role cannot
do and shows the service's message when it refuses anyway (the last owner, a role changed meanwhile)."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app import config, events
from app.auth import Actor
from app.auth.passwords import MIN_LENGTH
from app.enums import Role
from app.services import users as user_service
from app.services.errors import NotFound, ServiceError
from pages import session
from pages.admin.editing import (
    CARD,
    HEADING,
    INPUT,
    MUTED,
    admin_frame,
    error_text,
    follow,
    fresh_dialog,
    refusal,
    tag,
    when,
)
from pages.theme import card_form, clear_errors, notify_done, show_errors
from storage.models import User

ROLE_LABEL = {Role.OWNER: "Owner", Role.ADMIN: "Admin", Role.MEMBER: "Member", Role.READ_ONLY: "Read-only"}
STATUS_LOOK = {
    "active": "bg-green-100 text-green-900",
    "invited": "bg-blue-50 text-blue-900",
    "deactivated": "bg-slate-200 text-slate-800",
}
STATUS_LABEL = {"active": "Active", "invited": "Invited", "deactivated": "Deactivated"}


def invite_link(token: str) -> str:
    return f"{config.current().effective_base_url}/invite/{token}"


def role_options(actor_role: Role) -> dict[int, str]:
    return {role.value: ROLE_LABEL[role] for role in user_service.grantable_roles(actor_role)}


class UsersScreen:
    """The invitation form and the list, for one signed-in administrator."""

    def __init__(self, actor: Actor, me: User) -> None:
        self.actor = actor
        self.me = me
        self.accounts: list[user_service.Account] = []
        self.dialogs: ui.element | None = None  # created below the list, outside what a refresh rebuilds

    async def load(self) -> None:
        self.accounts = await user_service.list_users()

    async def reload(self, _event: events.Event | None = None) -> None:
        await self.load()
        self.listing.refresh()

    def invite_form(self) -> None:
        options = role_options(self.actor.role)
        with ui.card().classes(CARD):
            ui.label("Invite someone").classes(HEADING)
            ui.label("They get a link to set their own password; it works once, for 7 days.").classes(MUTED)
            with ui.row().classes("w-full items-start gap-3"):
                email = ui.input("E-mail").props(f"{INPUT} type=email").classes("grow min-w-[14rem]").mark("email")
                name = ui.input("Name (optional)").props(INPUT).classes("grow min-w-[10rem]").mark("name")
                role = ui.select(options, label="Role", value=Role.MEMBER.value).props(INPUT) \
                    .classes("w-40").mark("invite-role")
            with ui.column().classes("w-full gap-1 rounded bg-blue-50 px-4 py-3") as shown:
                ui.label("Send this link to the person invited. It is shown only now.").classes("text-sm")
                link = ui.label("").classes("font-mono text-sm break-all select-all").mark("invite-link")
            shown.set_visibility(False)
            fields = {"email": email, "name": name}

            async def invite() -> None:
                clear_errors(fields)
                try:
                    _, token = await user_service.invite_user(self.actor, email=email.value or "",
                                                              role=Role(role.value), name=(name.value or "").strip())
                except ServiceError as exc:
                    show_errors(exc, fields)
                    return
                link.set_text(invite_link(token))
                shown.set_visibility(True)
                notify_done(f"Invitation for {email.value.strip().lower()} created")
                email.set_value("")
                name.set_value("")
                await self.reload()

            with ui.row().classes("w-full justify-end"):
                ui.button("Invite", icon="person_add", on_click=invite).props("unelevated no-caps")

    @ui.refreshable_method
    def listing(self) -> None:
        with ui.card().classes(CARD):
            ui.label("People").classes(HEADING)
            for account in self.accounts:
                self._row(account)

    def _row(self, account: user_service.Account) -> None:
        mine = account.id == self.me.id
        manageable = user_service.may_manage(self.actor.role, account.role)
        with ui.row().classes("w-full items-center gap-x-4 gap-y-1 border-t border-slate-100 pt-2") \
                .mark(f"user-{account.id}"):
            with ui.column().classes("gap-0 grow min-w-[14rem]"):
                ui.label(f"{account.email}{' (you)' if mine else ''}").classes("font-medium break-all")
                details = [account.name] if account.name else []
                details.append(f"Last sign-in: {when(account.last_login_at, 'UTC')}")
                if account.teams:
                    details.append(f"Teams: {', '.join(account.teams)}")
                if account.status == "invited" and account.invite_expires_at:
                    details.append(f"Invitation expires {when(account.invite_expires_at, 'UTC')}")
                ui.label(" · ".join(details)).classes("text-xs text-slate-600")
            tag(STATUS_LABEL[account.status], STATUS_LOOK[account.status]).mark(f"status-{account.id}")
            if not manageable:
                ui.label(ROLE_LABEL[account.role]).classes("w-40 text-sm").mark(f"role-{account.id}")
                return
            ui.select(role_options(self.actor.role), value=account.role.value,
                      on_change=lambda e, a=account: self.change_role(a, e.value)) \
                .props(f'{INPUT} options-dense aria-label="Role of {account.email}"').classes("w-40") \
                .mark(f"role-{account.id}")
            with ui.row().classes("gap-1"):
                if account.status == "deactivated":
                    ui.button("Reactivate", on_click=lambda a=account: self.reactivate(a)) \
                        .props("flat dense no-caps").mark(f"reactivate-{account.id}")
                else:
                    ui.button("Deactivate", on_click=lambda a=account: self.confirm_deactivate(a)) \
                        .props("flat dense no-caps").mark(f"deactivate-{account.id}")
                if not mine:
                    ui.button("Reset password", on_click=lambda a=account: self.ask_password(a)) \
                        .props("flat dense no-caps").mark(f"reset-{account.id}")
                ui.button("Delete", on_click=lambda a=account: self.confirm_delete(a)) \
                    .props("flat dense no-caps color=negative").mark(f"delete-{account.id}")

    async def _act(self, done: str, call) -> bool:
        try:
            await call
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative", multi_line=True)
            await self.reload()  # puts a select back on the role the account still has
            return False
        notify_done(done)
        await self.reload()
        return True

    async def change_role(self, account: user_service.Account, value: int) -> None:
        role = Role(value)
        if role == account.role:
            return
        await self._act(f"{account.email} is now {ROLE_LABEL[role]}",
                        user_service.change_role(self.actor, account.id, role))

    async def reactivate(self, account: user_service.Account) -> None:
        await self._act(f"{account.email} can sign in again", user_service.reactivate(self.actor, account.id))

    def _confirm(self, title: str, text: str, button: str, run) -> None:
        assert self.dialogs is not None
        with fresh_dialog(self.dialogs) as dialog, ui.card().classes("w-[28rem] max-w-full gap-3 p-5"):
            ui.label(title).classes(HEADING)
            ui.label(text).classes(MUTED)

            async def confirmed() -> None:
                if await run():
                    dialog.close()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button(button, on_click=confirmed).props("unelevated no-caps color=negative")
        dialog.open()

    def confirm_deactivate(self, account: user_service.Account) -> None:
        self._confirm(f"Deactivate {account.email}?", "They are signed out everywhere and can no longer sign in.",
                      "Yes, deactivate", lambda: self._act(f"{account.email} deactivated",
                                                           user_service.deactivate(self.actor, account.id)))

    def confirm_delete(self, account: user_service.Account) -> None:
        async def delete() -> bool:
            ok = await self._act(f"{account.email} deleted", user_service.delete_user(self.actor, account.id))
            if ok and account.id == self.me.id:
                ui.navigate.to("/login")
            return ok

        self._confirm(f"Delete {account.email}?", "The account, its API keys and team memberships are removed. "
                      "The audit log keeps what it did.", "Yes, delete", delete)

    def ask_password(self, account: user_service.Account) -> None:
        assert self.dialogs is not None
        with fresh_dialog(self.dialogs) as dialog, ui.card().classes("w-[28rem] max-w-full gap-3 p-5"):
            ui.label(f"New password for {account.email}").classes(HEADING)
            ui.label("They are signed out everywhere; tell them the new password in a safe way.").classes(MUTED)
            password = ui.input("New password", password=True, password_toggle_button=True) \
                .props(f"{INPUT} autocomplete=new-password").classes("w-full").mark("new-password")
            fields = {"password": password}

            async def reset() -> None:
                clear_errors(fields)
                try:
                    await user_service.reset_password(self.actor, account.id, password.value or "")
                except ServiceError as exc:
                    show_errors(exc, fields)
                    return
                dialog.close()
                notify_done(f"Password of {account.email} reset")
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Set password", on_click=reset).props("unelevated no-caps")
        dialog.open()


@ui.page("/admin/users")
async def users_page(request: Request) -> None:
    me = await session.require_user()
    if me is None:
        return
    actor = session.actor_for(me, request)
    with admin_frame("People", me):
        with ui.row().classes("w-full items-center justify-between gap-3"):
            ui.label("People").classes("text-2xl font-semibold")
            ui.link("Teams", "/admin/teams").classes("text-sm")
        if (refused := refusal(actor, "user.update")) is not None:
            ui.label(f"You cannot manage people: {refused}").classes("text-negative").props('role="alert"')
            return
        screen = UsersScreen(actor, me)
        await screen.load()
        screen.invite_form()
        screen.listing()
        screen.dialogs = ui.element("div")
    follow([events.USER_CHANGED], screen.reload)


# --- /invite/{token}: public ---------------------------------------------------------------------------------------

@ui.page("/invite/{token}")
async def invite_page(request: Request, token: str) -> None:
    ui.page_title("Join Beacon")
    try:
        invited = await user_service.invitation(token)
    except NotFound as exc:
        with card_form("Invitation not valid"):
            ui.label(str(exc)).classes("text-sm").props('role="alert"')
            ui.link("Go to sign-in", "/login")
        return
    with card_form("Welcome to Beacon"):
        ui.label(f"Choose a password for {invited.email}.").classes("text-sm text-slate-600")
        password = ui.input("Password", password=True, password_toggle_button=True) \
            .props("autocomplete=new-password outlined").classes("w-full")
        ui.label(f"At least {MIN_LENGTH} characters, not your e-mail address.").classes("text-xs text-slate-600")
        confirm = ui.input("Repeat password", password=True).props("autocomplete=new-password outlined") \
            .classes("w-full")
        message = ui.label().classes("text-negative text-sm")
        message.set_visibility(False)
        fields = {"password": password, "confirm": confirm}

        async def accept() -> None:
            clear_errors(fields, message)
            if password.value != confirm.value:
                confirm.props('error error-message="The passwords do not match."')
                return
            ip, agent = session.client_address(request)
            try:
                await user_service.accept_invite(token, password.value or "", ip=ip, user_agent=agent)
            except ServiceError as exc:
                show_errors(exc, fields, message)
                return
            ui.notify("Your password is set. Sign in with it.", type="positive")
            ui.navigate.to("/login")

        ui.button("Set password", on_click=accept).classes("w-full")
        confirm.on("keydown.enter", accept)

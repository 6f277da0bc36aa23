"""Who is signed in: the user id and the account's session epoch, kept in NiceGUI's per-browser storage (signed
with BEACON_SECRET). A password change or a deactivation raises the account's epoch, which ends every session
that was signed in before it."""

from __future__ import annotations

from fastapi import Request
from nicegui import app as ui_app
from nicegui import ui

from app.auth import Actor
from app.services import signin
from storage.models import User

ACCOUNT_PAGE = "/admin/account"


def sign_in(user: User) -> None:
    """Start a new session for ``user``: nothing of what the browser's storage held before survives."""
    storage = ui_app.storage.user
    storage.clear()
    storage.update(user_id=user.id, session_epoch=user.session_epoch)


def sign_out() -> None:
    ui_app.storage.user.clear()


async def current_user() -> User | None:
    """The signed-in, active user whose session is still current; a stale session is signed out."""
    storage = ui_app.storage.user
    user_id = storage.get("user_id")
    if user_id is None:
        return None
    user = await User.filter(id=user_id, is_active=True).first()
    if user is None or storage.get("session_epoch") != user.session_epoch:
        sign_out()
        return None
    return user


async def require_user(*, enrolling: bool = False) -> User | None:
    """The signed-in user of an admin screen; None after sending everybody else to the sign-in page. A user whose
    role must use two-factor sign-in and has not set it up is sent to the account page first (``enrolling``: the
    screen where that is done)."""
    user = await current_user()
    if user is None:
        ui.navigate.to("/login")
        return None
    if not enrolling and await signin.must_enroll(user):
        ui.navigate.to(ACCOUNT_PAGE)
        return None
    return user


def client_address(request: Request | None) -> tuple[str | None, str | None]:
    if request is None:
        return None, None
    ip = request.client.host if request.client else None
    return ip, request.headers.get("user-agent")


def actor_for(user: User, request: Request | None) -> Actor:
    ip, agent = client_address(request)
    return Actor.for_user(user, ip=ip, user_agent=agent)

"""Who is signed in: the user id kept in NiceGUI's per-browser storage (signed with BEACON_SECRET)."""

from __future__ import annotations

from fastapi import Request
from nicegui import app as ui_app
from nicegui import ui

from app.auth import Actor
from storage.models import User


def sign_in(user: User) -> None:
    ui_app.storage.user.update(user_id=user.id)


def sign_out() -> None:
    ui_app.storage.user.clear()


async def current_user() -> User | None:
    user_id = ui_app.storage.user.get("user_id")
    if user_id is None:
        return None
    user = await User.filter(id=user_id, is_active=True).first()
    if user is None:
        sign_out()
    return user


async def require_user() -> User | None:
    """The signed-in user of an admin screen; None after sending everybody else to the sign-in page."""
    user = await current_user()
    if user is None:
        ui.navigate.to("/login")
    return user


def client_address(request: Request | None) -> tuple[str | None, str | None]:
    if request is None:
        return None, None
    ip = request.client.host if request.client else None
    return ip, request.headers.get("user-agent")


def actor_for(user: User, request: Request | None) -> Actor:
    ip, agent = client_address(request)
    return Actor.for_user(user, ip=ip, user_agent=agent)

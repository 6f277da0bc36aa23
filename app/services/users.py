"""Accounts, sign-in and API keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app import events
from app.auth import Actor
from app.auth.passwords import hash_password, password_problem, verify_password
from app.enums import Role
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.transaction import authorize, change
from storage.models import User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def parse_role(value: str | int | Role) -> Role:
    try:
        return Role[value.upper()] if isinstance(value, str) and not value.isdigit() else Role(int(value))
    except (KeyError, ValueError):
        raise Invalid({"role": f"Unknown role '{value}'; use one of {', '.join(r.name for r in Role)}."}) from None


def _check(email: str, password: str) -> dict[str, str]:
    errors = {}
    if not _EMAIL.match(email):
        errors["email"] = "Enter an e-mail address such as ops@example.com."
    if problem := password_problem(password, email):
        errors["password"] = problem
    return errors


async def owner_exists() -> bool:
    return await User.filter(role=Role.OWNER, is_active=True).exists()


async def create_user(actor: Actor, *, email: str, password: str, role: Role | str = Role.MEMBER,
                      name: str = "", first_owner: bool = False) -> User:
    """A new account. ``first_owner``: refuse, inside the same transaction, when an owner already exists
    (two people submitting /setup at once must not both become owner)."""
    email = (email or "").strip().lower()
    role = parse_role(role)
    if errors := _check(email, password or ""):
        raise Invalid(errors)
    action = "user.create_owner" if role == Role.OWNER else "user.create"
    authorize(actor, action)  # before hashing: a refused caller must not cost a CPU-heavy hash
    if actor.role < role:
        raise Forbidden("You cannot create an account with a higher role than your own.")
    password_hash = await hash_password(password)  # CPU-heavy: outside the transaction
    async with change(actor, action) as ch:
        if first_owner:
            await ch.lock("first-owner")
        if first_owner and await User.filter(role=Role.OWNER, is_active=True).using_db(ch.conn).exists():
            raise Conflict("An owner already exists; sign in instead.")
        if await User.filter(email=email).using_db(ch.conn).exists():
            raise Invalid({"email": "An account with this e-mail already exists."})
        user = await User.create(using_db=ch.conn, email=email, name=name, password_hash=password_hash, role=role)
        await ch.audit(action, "user", user.id, {"email": {"old": None, "new": email},
                                                  "role": {"old": None, "new": role.name}})
        ch.emit(events.USER_CHANGED, {"user_id": user.id})
    return user


async def create_first_owner(*, email: str, password: str, ip: str | None = None,
                             user_agent: str | None = None) -> User:
    """First run only: the OWNER account, created by the system when no OWNER exists yet."""
    if await owner_exists():
        raise Conflict("An owner already exists; sign in instead.")
    return await create_user(Actor.system("setup").at(ip, user_agent), email=email, password=password,
                             role=Role.OWNER, first_owner=True)


async def authenticate(email: str, password: str) -> User | None:
    """The active user with these credentials, or None; never says which part was wrong."""
    user = await User.filter(email=(email or "").strip().lower(), is_active=True).first()
    ok, new_hash = await verify_password(password or "", user.password_hash if user else None)
    if not ok or user is None:
        return None
    updates = {"last_login_at": datetime.now(UTC)}
    if new_hash:
        updates["password_hash"] = new_hash
    await User.filter(id=user.id).update(**updates)
    return user


async def get_user(user_id: int) -> User:
    user = await User.filter(id=user_id).first()
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    return user

"""Accounts, sign-in and API keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app import events
from app.auth import Actor, apikeys
from app.auth.passwords import MIN_LENGTH, hash_password, verify_password
from app.enums import Role
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.transaction import authorize, change
from storage.models import ApiKey, User

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
    if len(password) < MIN_LENGTH:
        errors["password"] = f"Use at least {MIN_LENGTH} characters."
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


async def create_api_key(actor: Actor, *, email: str, name: str = "", role: Role | str | None = None
                         ) -> tuple[ApiKey, str]:
    """A new key for the user with ``email``; the plain key is returned once and never stored."""
    user = await User.filter(email=(email or "").strip().lower()).first()
    if user is None:
        raise Invalid({"email": f"No account with e-mail {email}."})
    if actor.kind != "system" and actor.user_id != user.id and actor.role < Role.ADMIN:
        raise Forbidden("Only an admin can create keys for another account.")
    key_role = parse_role(role) if role is not None else None
    if key_role is not None and key_role > user.role:
        raise Invalid({"role": "A key cannot carry a higher role than its account."})
    plain = apikeys.new_key()
    async with change(actor, "apikey.create") as ch:
        key = await ApiKey.create(using_db=ch.conn, user_id=user.id, name=name, prefix=plain[:10],
                                  key_hash=apikeys.digest(plain), role=key_role)
        await ch.audit("apikey.create", "apikey", key.id, {"user": {"old": None, "new": user.email},
                                                           "name": {"old": None, "new": name}})
    return key, plain


async def actor_for_api_key(plain: str, *, ip: str | None = None, user_agent: str | None = None) -> Actor | None:
    key = await ApiKey.filter(key_hash=apikeys.digest(plain or ""), revoked_at=None).prefetch_related("user").first()
    if key is None or not key.user.is_active:
        return None
    await ApiKey.filter(id=key.id).update(last_used_at=datetime.now(UTC))
    role = min(Role(key.role), Role(key.user.role)) if key.role is not None else Role(key.user.role)
    return Actor(kind="apikey", id=key.id, label=f"{key.user.email} ({key.name or key.prefix})", role=role, ip=ip,
                 user_agent=user_agent, user_id=key.user.id)

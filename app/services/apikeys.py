"""API keys: created by a user for themselves (or by an admin for someone), shown once, stored as a digest."""

from __future__ import annotations

from datetime import UTC, datetime

from app.auth import Actor, apikeys
from app.enums import Role
from app.services.errors import Forbidden, Invalid
from app.services.transaction import change
from app.services.users import parse_role
from storage.models import ApiKey, User


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

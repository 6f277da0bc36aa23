"""API keys: created by a user for themselves (or by an admin for someone), shown once, stored as a digest;
they may expire, and their owner (or an admin) may revoke them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.auth import Actor, apikeys
from app.enums import Role
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.transaction import change
from app.services.users import parse_role
from storage.models import ApiKey, User

# last_used_at is a hint for people ("used 3 minutes ago"): writing it once a minute spares a write per request
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _may_manage(actor: Actor, user_id: int) -> bool:
    return actor.kind == "system" or actor.user_id == user_id or actor.role >= Role.ADMIN


def _expiry(expires_at: datetime | None) -> datetime | None:
    if expires_at is None:
        return None
    if not isinstance(expires_at, datetime) or expires_at.tzinfo is None:
        raise Invalid({"expires_at": "Give the expiry as a date and time with its time zone."})
    if expires_at <= datetime.now(UTC):
        raise Invalid({"expires_at": "The expiry must be in the future."})
    return expires_at.astimezone(UTC)


async def create_api_key(actor: Actor, *, email: str, name: str = "", role: Role | str | None = None,
                         expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """A new key for the user with ``email``; the plain key is returned once and never stored (nor audited).
    ``role`` may lower what the key can do below its account's role, never raise it; ``expires_at`` (aware,
    in the future) ends it without anyone revoking it."""
    user = await User.filter(email=(email or "").strip().lower()).first()
    if user is None:
        raise Invalid({"email": f"No account with e-mail {email}."})
    if not _may_manage(actor, user.id):
        raise Forbidden("Only an admin can create keys for another account.")
    key_role = parse_role(role) if role is not None and role != "" else None
    if key_role is not None and key_role > user.role:
        raise Invalid({"role": "A key cannot carry a higher role than its account."})
    expiry = _expiry(expires_at)
    name = (name or "").strip()
    if len(name) > 200:
        raise Invalid({"name": "Keep the name to 200 characters."})
    plain = apikeys.new_key()
    async with change(actor, "apikey.create") as ch:
        key = await ApiKey.create(using_db=ch.conn, user_id=user.id, name=name, prefix=plain[:10],
                                  key_hash=apikeys.digest(plain), role=key_role, expires_at=expiry)
        await ch.audit("apikey.create", "apikey", key.id, {
            "user": {"old": None, "new": user.email},
            "name": {"old": None, "new": name},
            "prefix": {"old": None, "new": key.prefix},
            "role": {"old": None, "new": key_role.name if key_role is not None else None},
            "expires_at": {"old": None, "new": expiry},
        })
    return key, plain


async def revoke_api_key(actor: Actor, key_id: int) -> ApiKey:
    """Revoke a key at once: its owner may revoke it, an admin anyone's. Conflict when it is already revoked."""
    key = await ApiKey.filter(id=key_id).prefetch_related("user").first()
    if key is None:
        raise NotFound(f"No API key with id {key_id}.")
    if not _may_manage(actor, key.user.id):
        raise Forbidden("Only an admin can revoke another account's keys.")
    if key.revoked_at is not None:
        raise Conflict("This key is already revoked.")
    now = datetime.now(UTC)
    async with change(actor, "apikey.revoke") as ch:
        # the condition makes two revocations at once count once
        updated = await ApiKey.filter(id=key.id, revoked_at=None).using_db(ch.conn).update(revoked_at=now)
        if not updated:
            raise Conflict("This key is already revoked.")
        await ch.audit("apikey.revoke", "apikey", key.id, {
            "user": {"old": key.user.email, "new": key.user.email},
            "name": {"old": key.name, "new": key.name},
            "revoked_at": {"old": None, "new": now},
        }, severity="warning")
    key.revoked_at = now
    return key


async def list_api_keys(user_id: int) -> list[ApiKey]:
    """The account's keys, newest first, revoked and expired ones included (they show as such)."""
    return await ApiKey.filter(user_id=user_id).order_by("-created_at", "-id")


def is_usable(key: ApiKey, now: datetime | None = None) -> bool:
    now = now or datetime.now(UTC)
    return key.revoked_at is None and (key.expires_at is None or key.expires_at > now)


async def actor_for_api_key(plain: str, *, ip: str | None = None, user_agent: str | None = None) -> Actor | None:
    """The actor a request with this key acts as; None for an unknown, revoked or expired key or a disabled
    account."""
    if not plain:
        return None
    key = await ApiKey.filter(key_hash=apikeys.digest(plain), revoked_at=None).prefetch_related("user").first()
    now = datetime.now(UTC)
    if key is None or not is_usable(key, now) or not key.user.is_active:
        return None
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        await ApiKey.filter(id=key.id).update(last_used_at=now)
    role = min(Role(key.role), Role(key.user.role)) if key.role is not None else Role(key.user.role)
    return Actor(kind="apikey", id=key.id, label=f"{key.user.email} ({key.name or key.prefix})", role=role, ip=ip,
                 user_agent=user_agent, user_id=key.user.id)

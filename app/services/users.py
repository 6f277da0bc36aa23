"""Accounts: creation, invitations, roles, deactivation, deletion and password resets by administrators.

Who may manage whom: an ADMIN manages MEMBER and READ_ONLY accounts only; an OWNER manages everyone. Nobody grants
a role they could not manage. The last active OWNER can be neither deleted, deactivated nor demoted; every change
to an account runs under one lock, so that two administrators acting at once cannot both pass that check."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app import events
from app.auth import Actor
from app.auth.passwords import hash_password, password_problem, verify_password
from app.enums import Role
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.transaction import authorize, change
from app.services.validation import text_problem
from storage.models import User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
INVITE_DAYS = 7
MASKED = "***"
_LOCK = "users"  # every change to an account: the last-owner check must see the others' committed changes


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
    if not may_manage(actor.role, role):
        raise Forbidden(f"You cannot create an account with the {role.name} role: an admin manages members and "
                        "read-only accounts, an owner everyone.")
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


# --- managing other people's accounts ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Account:
    """One account as the users screen lists it. ``status``: "active", "invited" or "deactivated"."""

    id: int
    email: str
    name: str
    role: Role
    status: str
    last_login_at: datetime | None
    invite_expires_at: datetime | None
    teams: tuple[str, ...]


def may_manage(actor_role: Role, target_role: Role) -> bool:
    """Whether someone with ``actor_role`` may change an account with ``target_role`` (or grant that role)."""
    if actor_role >= Role.OWNER:
        return True
    return actor_role >= Role.ADMIN and target_role < Role.ADMIN


def grantable_roles(actor_role: Role) -> list[Role]:
    """The roles ``actor_role`` may give, highest first."""
    return [role for role in sorted(Role, reverse=True) if may_manage(actor_role, role)]


def status_of(user: User) -> str:
    if user.is_active:
        return "active"
    return "invited" if user.invite_hash else "deactivated"


async def list_users() -> list[Account]:
    """Every account, by e-mail, with the names of its teams."""
    accounts = await User.all().order_by("email").prefetch_related("teams")
    return [Account(id=u.id, email=u.email, name=u.name, role=Role(u.role), status=status_of(u),
                    last_login_at=u.last_login_at, invite_expires_at=u.invite_expires_at,
                    teams=tuple(sorted(t.name for t in u.teams)))
            for u in accounts]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


async def _acting_role(ch, actor: Actor) -> Role:
    """The actor's role now: an account demoted or deactivated since its session began acts with what it has left."""
    if actor.user_id is None:
        return actor.role
    me = await User.filter(id=actor.user_id).using_db(ch.conn).first()
    if me is None or not me.is_active:
        raise Forbidden("Your account is no longer active.")
    return min(actor.role, Role(me.role))


async def _target(ch, actor: Actor, user_id: int, doing: str, *, self_allowed: bool = True
                  ) -> tuple[User, Role]:
    """(the account ``user_id`` read under the lock, the actor's role now), once the actor may change it."""
    await ch.lock(_LOCK)
    role = await _acting_role(ch, actor)
    user = await User.filter(id=user_id).using_db(ch.conn).first()
    if user is None:
        raise NotFound(f"No user with id {user_id}.")
    if not self_allowed and actor.user_id == user.id:
        raise Forbidden(f"You cannot {doing} your own account here; use your account screen.")
    if not may_manage(role, Role(user.role)):
        raise Forbidden(f"Only an owner can {doing} the account of {user.email} ({Role(user.role).name}).")
    return user, role


async def _keep_an_owner(ch, user: User, doing: str) -> None:
    """Refuse when ``user`` is the last active owner (call after _target, which holds the lock)."""
    if user.role != Role.OWNER or not user.is_active:
        return
    owners = await User.filter(role=Role.OWNER, is_active=True).using_db(ch.conn).count()
    if owners <= 1:
        raise Conflict(f"{user.email} is the last active owner and cannot be {doing}. "
                       "Make someone else an owner first.")


async def invite_user(actor: Actor, *, email: str, role: Role | str = Role.MEMBER, name: str = "") -> tuple[User, str]:
    """A new account that cannot sign in until the person sets a password through the one-time link:
    (the account, the token). Only the token's SHA-256 is kept; it expires after INVITE_DAYS days. Inviting an
    e-mail whose invitation is still pending issues a new token (the old one stops working)."""
    email = (email or "").strip().lower()
    role = parse_role(role)
    authorize(actor, "user.invite")
    name = (name or "").strip()
    errors = {}
    if not _EMAIL.match(email) or len(email) > 254:
        errors["email"] = "Enter an e-mail address such as ops@example.com."
    if problem := text_problem(name, "name", required=False):
        errors["name"] = problem
    if errors:
        raise Invalid(errors)
    token = secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=INVITE_DAYS)
    # a real hash of a secret nobody knows: sign-in treats the account like any other and simply fails
    unusable = await hash_password(secrets.token_urlsafe(32))
    async with change(actor, "user.invite") as ch:
        await ch.lock(_LOCK)
        if not may_manage(await _acting_role(ch, actor), role):
            raise Forbidden(f"You cannot give the {role.name} role.")
        user = await User.filter(email=email).using_db(ch.conn).first()
        if user is not None and status_of(user) != "invited":
            raise Invalid({"email": "An account with this e-mail already exists."})
        before = {"role": None, "status": None} if user is None else {"role": Role(user.role).name,
                                                                       "status": "invited"}
        if user is None:
            user = await User.create(using_db=ch.conn, email=email, name=name, password_hash=unusable, role=role,
                                     is_active=False, invite_hash=_digest(token), invite_expires_at=expires)
        else:
            user.role, user.invite_hash, user.invite_expires_at = role, _digest(token), expires
            user.name = name or user.name
            await user.save(using_db=ch.conn, update_fields=["role", "name", "invite_hash", "invite_expires_at"])
        await ch.audit("user.invite", "user", user.id, {
            "email": {"old": None if before["status"] is None else email, "new": email},
            "role": {"old": before["role"], "new": role.name},
            "invite_expires_at": {"old": None, "new": expires.isoformat(timespec="seconds")}})
        ch.emit(events.USER_CHANGED, {"user_id": user.id})
    return user, token


async def invitation(token: str) -> User:
    """The invited account of a one-time link; NotFound for a link unknown, used or expired (saying which)."""
    user = await User.filter(invite_hash=_digest(token or ""), is_active=False).first() if token else None
    if user is None:
        raise NotFound("This invitation link is not valid: it was already used or replaced by a newer one. "
                       "Ask an administrator for a new invitation.")
    expires = _aware(user.invite_expires_at)
    if expires is None or expires <= datetime.now(UTC):
        raise NotFound("This invitation link has expired. Ask an administrator for a new invitation.")
    return user


async def accept_invite(token: str, password: str, *, ip: str | None = None, user_agent: str | None = None) -> User:
    """Set the invited account's password (the password policy applies) and activate it; the link stops working."""
    user = await invitation(token)
    if problem := password_problem(password or "", user.email):
        raise Invalid({"password": problem})
    password_hash = await hash_password(password)  # CPU-heavy: outside the transaction
    actor = Actor.for_user(user, ip=ip, user_agent=user_agent)
    now = datetime.now(UTC)
    async with change(actor, "user.accept_invite") as ch:
        await ch.lock(_LOCK)
        # only the first of two submissions of the same link gets here with the hash still in place
        done = await User.filter(id=user.id, invite_hash=_digest(token), is_active=False).using_db(ch.conn).update(
            password_hash=password_hash, invite_hash=None, invite_expires_at=None, is_active=True,
            password_changed_at=now)
        if not done:
            raise NotFound("This invitation link was used already. Sign in instead.")
        await ch.audit("user.accept_invite", "user", user.id, {"password": {"old": None, "new": MASKED},
                                                                "status": {"old": "invited", "new": "active"}})
        ch.emit(events.USER_CHANGED, {"user_id": user.id})
    return await get_user(user.id)


async def change_role(actor: Actor, user_id: int, role: Role | str) -> User:
    """Give the account another role; its sessions end."""
    role = parse_role(role)
    authorize(actor, "user.update")
    async with change(actor, "user.update") as ch:
        user, acting = await _target(ch, actor, user_id, "change the role of")
        if not may_manage(acting, role):
            raise Forbidden(f"You cannot give the {role.name} role.")
        old = Role(user.role)
        if old == role:
            return user
        if role < Role.OWNER:
            await _keep_an_owner(ch, user, "demoted")
        user.role, user.session_epoch = role, user.session_epoch + 1
        await user.save(using_db=ch.conn, update_fields=["role", "session_epoch"])
        await ch.audit("user.role_change", "user", user.id, {"role": {"old": old.name, "new": role.name}},
                       severity="warning")
        ch.emit(events.USER_CHANGED, {"user_id": user.id})
    return user


async def deactivate(actor: Actor, user_id: int) -> User:
    """The account can no longer sign in and its sessions end; a pending invitation is withdrawn."""
    authorize(actor, "user.update")
    async with change(actor, "user.update") as ch:
        user, _ = await _target(ch, actor, user_id, "deactivate")
        if not user.is_active and not user.invite_hash:
            return user
        await _keep_an_owner(ch, user, "deactivated")
        before = status_of(user)
        user.is_active, user.invite_hash, user.invite_expires_at = False, None, None
        user.session_epoch += 1
        await user.save(using_db=ch.conn, update_fields=["is_active", "invite_hash", "invite_expires_at",
                                                          "session_epoch"])
        await ch.audit("user.deactivate", "user", user.id, {"status": {"old": before, "new": "deactivated"}},
                       severity="warning")
        ch.emit(events.USER_CHANGED, {"user_id": user.id})
    return user


async def reactivate(actor: Actor, user_id: int) -> User:
    """A deactivated account may sign in again (with its old password, or one an administrator resets)."""
    authorize(actor, "user.update")
    async with change(actor, "user.update") as ch:
        user, _ = await _target(ch, actor, user_id, "reactivate")
        if user.is_active:
            return user
        if user.invite_hash:
            raise Conflict(f"{user.email} has not accepted the invitation yet.")
        user.is_active = True
        await user.save(using_db=ch.conn, update_fields=["is_active"])
        await ch.audit("user.reactivate", "user", user.id, {"status": {"old": "deactivated", "new": "active"}})
        ch.emit(events.USER_CHANGED, {"user_id": user.id})
    return user


async def reset_password(actor: Actor, user_id: int, new_password: str) -> User:
    """An administrator sets another person's password (the policy applies); that person's sessions end."""
    authorize(actor, "user.update")  # before hashing: a refused caller must not cost a CPU-heavy hash
    target = await get_user(user_id)
    if problem := password_problem(new_password or "", target.email):
        raise Invalid({"password": problem})
    password_hash = await hash_password(new_password)
    async with change(actor, "user.update") as ch:
        user, _ = await _target(ch, actor, user_id, "reset the password of", self_allowed=False)
        user.password_hash, user.password_changed_at = password_hash, datetime.now(UTC)
        user.session_epoch += 1
        await user.save(using_db=ch.conn, update_fields=["password_hash", "password_changed_at", "session_epoch"])
        await ch.audit("user.password_reset", "user", user.id, {"password": {"old": MASKED, "new": MASKED}},
                       severity="warning")
        ch.emit(events.USER_CHANGED, {"user_id": user.id})
    return user


async def delete_user(actor: Actor, user_id: int) -> None:
    """Remove the account, its API keys and team memberships; what it wrote keeps its audit trail."""
    authorize(actor, "user.delete")
    async with change(actor, "user.delete") as ch:
        user, _ = await _target(ch, actor, user_id, "delete")
        await _keep_an_owner(ch, user, "deleted")
        await user.teams.clear(using_db=ch.conn)
        await User.filter(id=user.id).using_db(ch.conn).delete()
        await ch.audit("user.delete", "user", user.id, {"email": {"old": user.email, "new": None},
                                                         "role": {"old": Role(user.role).name, "new": None},
                                                         "status": {"old": status_of(user), "new": None}},
                       severity="critical")
        ch.emit(events.USER_CHANGED, {"user_id": user.id})

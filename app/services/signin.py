"""Signing in (throttled, audited, with an optional second factor) and a person's own sign-in settings:
password, two-factor enrollment, and the install-wide rule of which roles must use two-factor sign-in.

Failed attempts are counted per IP address and per account in ``LoginThrottle`` rows (app/auth/throttle.py
decides the waits), so every process on the database agrees. An attempt is counted as a failure *before* the
password is checked and taken back once it is not one: a burst of parallel guesses cannot all slip through
while the first is still being hashed.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from app import events
from app.auth import Actor, passwords, throttle, totp
from app.enums import Role, Severity
from app.services.errors import Conflict, Forbidden, Invalid
from app.services.transaction import Change, authorize, change
from storage.models import InstallSetting, LoginThrottle, User

log = logging.getLogger(__name__)

WRONG_CREDENTIALS = "The e-mail or password is not correct."
WRONG_CODE = "The code is wrong or has expired."
REQUIRE_2FA = "require_2fa_from_role"
MASKED = "***"  # as app/audit.py masks every field named like a secret

ACCOUNT_ACTION = "account.update"  # a signed-in person changing their own sign-in settings
SETTINGS_ACTION = "settings.update"


def too_many_attempts(wait: timedelta) -> str:
    n = throttle.minutes(wait)
    return f"Too many attempts; try again in {n} minute{'' if n == 1 else 's'}."


class Outcome(StrEnum):
    OK = "ok"
    NEEDS_SECOND_FACTOR = "needs_second_factor"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class SignInResult:
    """``user`` is set when ``outcome`` is OK; ``message`` is for the person when it is REFUSED."""

    outcome: Outcome
    message: str = ""
    user: User | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    @property
    def needs_second_factor(self) -> bool:
        return self.outcome is Outcome.NEEDS_SECOND_FACTOR

    @property
    def throttled(self) -> bool:
        return self.message.startswith("Too many attempts")


# --- signing in ---------------------------------------------------------------------------------------------

async def sign_in(email: str, password: str, *, ip: str | None, user_agent: str | None,
                  totp_code: str | None = None, now: datetime | None = None) -> SignInResult:
    """Check the credentials (and the second factor when the account has one). Unknown e-mail, wrong password
    and an inactive account give the same answer, and so does a throttled attempt for any e-mail."""
    now = now or datetime.now(UTC)
    email = (email or "").strip().lower()[:254]
    actor = Actor.system("sign-in").at(ip, user_agent)
    keys = _keys(ip, email)

    async with _bookkeeping(actor) as ch:
        wait = await _take_attempt(ch, keys, now)
        if wait:
            await _audit_attempt(ch, email, "auth.sign_in_failed", {"reason": "throttled"}, Severity.WARNING)
            return SignInResult(Outcome.REFUSED, too_many_attempts(wait))

    user = await User.filter(email=email).first()
    ok, new_hash = await passwords.verify_password(password or "", user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        reason = "unknown e-mail" if user is None else "wrong password" if not ok else "inactive account"
        await _failed(actor, email, keys, reason)
        return SignInResult(Outcome.REFUSED, WRONG_CREDENTIALS)

    method = "password"
    used_recovery: str | None = None
    if user.totp_enabled_at is not None:
        if not (totp_code or "").strip():
            async with _bookkeeping(actor) as ch:
                await _forgive(ch, keys)
            return SignInResult(Outcome.NEEDS_SECOND_FACTOR, user=None)
        if totp.code_matches(user.totp_secret or "", totp_code, now):
            method = "totp"
        else:
            method, used_recovery = "recovery code", totp.recovery_digest(totp_code)

    try:
        async with _bookkeeping(actor) as ch:
            left = await _signed_in(ch, user, keys, now, new_hash, used_recovery)
            changes = {"method": method} | ({"codes_left": left} if used_recovery else {})
            await _audit_attempt(ch, email, "auth.sign_in", changes, Severity.INFO, user_id=user.id)
    except _CodeRefused:
        await _failed(actor, email, keys, "wrong second factor")
        return SignInResult(Outcome.REFUSED, WRONG_CODE)
    log.info("auth.sign_in user_id=%s method=%s", user.id, method)
    return SignInResult(Outcome.OK, user=await User.get(id=user.id))


class _CodeRefused(Exception):
    """Raised inside the success transaction to roll it back when a recovery code is not (or no longer) valid."""


def _keys(ip: str | None, email: str) -> list[str]:
    return [f"ip:{ip or 'unknown'}"[:300], f"email:{email}"[:300]]


@asynccontextmanager
async def _bookkeeping(actor: Actor) -> AsyncIterator[Change]:
    """One transaction with its audit entries, like ``transaction.change`` without a permission check: signing
    in is how a visitor becomes somebody whose permissions could be checked."""
    async with in_transaction() as conn:
        yield Change(conn, actor)


async def _lock_counters(ch: Change, keys: Iterable[str]) -> dict[str, throttle.Counter]:
    keys = sorted(set(keys))
    for key in keys:  # in one order, so that two transactions never wait for each other's second lock
        await ch.lock(f"login-throttle:{key}")
    rows = await LoginThrottle.filter(key__in=keys).using_db(ch.conn)
    found = {row.key: throttle.Counter(row.failures, row.locked_until) for row in rows}
    return {key: found.get(key, throttle.Counter()) for key in keys}


async def _save_counter(ch: Change, key: str, counter: throttle.Counter) -> None:
    updated = await LoginThrottle.filter(key=key).using_db(ch.conn).update(
        failures=counter.failures, locked_until=counter.locked_until, updated_at=datetime.now(UTC))
    if not updated:
        await LoginThrottle.create(using_db=ch.conn, key=key, failures=counter.failures,
                                   locked_until=counter.locked_until)


async def _take_attempt(ch: Change, keys: list[str], now: datetime) -> timedelta:
    """The wait still imposed on any of ``keys``; when there is none, the attempt is counted as a failure."""
    counters = await _lock_counters(ch, keys)
    wait = max(throttle.wait_left(counter, now) for counter in counters.values())
    if not wait:
        for key, counter in counters.items():
            await _save_counter(ch, key, throttle.failed(counter, now))
    return wait


async def _forgive(ch: Change, keys: list[str]) -> None:
    for key, counter in (await _lock_counters(ch, keys)).items():
        await _save_counter(ch, key, throttle.forgiven(counter))


async def _failed(actor: Actor, email: str, keys: list[str], reason: str) -> None:
    """Audit a failure already counted by ``_take_attempt``, and every lock it brought."""
    async with _bookkeeping(actor) as ch:
        counters = await _lock_counters(ch, keys)
        await _audit_attempt(ch, email, "auth.sign_in_failed", {"reason": reason}, Severity.WARNING)
        for key, counter in counters.items():
            if counter.locked:
                await _audit_attempt(ch, email, "auth.locked", {
                    "key": key, "failures": counter.failures, "locked_until": counter.locked_until},
                    Severity.CRITICAL)
                log.warning("auth.locked key=%s failures=%s", key, counter.failures)


async def _signed_in(ch: Change, user: User, keys: list[str], now: datetime, new_hash: str | None,
                     recovery_digest: str | None) -> int:
    """Reset the counters and record the sign-in; spend the recovery code if one was used. The number of
    recovery codes left."""
    updates: dict = {"last_login_at": now}
    if new_hash:
        updates["password_hash"] = new_hash
    await ch.lock(f"user:{user.id}")
    stored = await User.filter(id=user.id).using_db(ch.conn).first()
    codes = list(stored.recovery_codes or []) if stored else []
    if recovery_digest is not None:
        if recovery_digest not in codes:
            raise _CodeRefused
        codes.remove(recovery_digest)
        updates["recovery_codes"] = codes
    await User.filter(id=user.id).using_db(ch.conn).update(**updates)
    await LoginThrottle.filter(key__in=keys).using_db(ch.conn).delete()
    return len(codes)


async def _audit_attempt(ch: Change, email: str, action: str, changes: dict, severity: Severity,
                         user_id: int | None = None) -> None:
    details = {"email": email} | changes | ({"user_id": user_id} if user_id else {})
    await ch.audit(action, "sign_in", email[:64] or None, details, severity=severity.value)


# --- a person's own sign-in settings -----------------------------------------------------------------------

async def _own_account(actor: Actor) -> User:
    if actor.kind != "user" or actor.user_id is None:
        raise Forbidden("Only a signed-in person can change their own account.")
    authorize(actor, ACCOUNT_ACTION)
    user = await User.filter(id=actor.user_id, is_active=True).first()
    if user is None:
        raise Forbidden("This account is no longer active.")
    return user


async def _check_own_password(actor: Actor, user: User, password: str, field: str, now: datetime) -> str | None:
    """None when ``password`` is the account's; else the message for ``field``. Wrong guesses count against the
    account like failed sign-ins, so that an unattended session cannot be used to find the password."""
    keys = [f"email:{user.email}"]
    async with _bookkeeping(actor) as ch:
        wait = await _take_attempt(ch, keys, now)
    if wait:
        return too_many_attempts(wait)
    ok, _ = await passwords.verify_password(password or "", user.password_hash)
    async with _bookkeeping(actor) as ch:
        if ok:
            await _forgive(ch, keys)
            return None
        await ch.audit("auth.password_check_failed", "user", user.id, {"field": field}, severity=Severity.WARNING)
    return "The password is not correct." if field != "current" else "Your current password is not correct."


async def change_password(actor: Actor, current: str, new: str, *, now: datetime | None = None) -> User:
    """Change the actor's own password. Every session signed in before ends (``session_epoch`` goes up): the
    caller signs its own session in again with the returned user."""
    now = now or datetime.now(UTC)
    user = await _own_account(actor)
    errors: dict[str, str] = {}
    if problem := passwords.password_problem(new or "", user.email):
        errors["new"] = problem
    if not current:
        errors["current"] = "Enter your current password."
    elif problem := await _check_own_password(actor, user, current, "current", now):
        errors["current"] = problem
    if errors:
        raise Invalid(errors)
    password_hash = await passwords.hash_password(new)
    async with change(actor, ACCOUNT_ACTION) as ch:
        await ch.lock(f"user:{user.id}")
        await User.filter(id=user.id).using_db(ch.conn).update(
            password_hash=password_hash, password_changed_at=now, session_epoch=F("session_epoch") + 1)
        await ch.audit("user.password_change", "user", user.id, {"password": {"old": MASKED, "new": MASKED}},
                       severity=Severity.WARNING)
        ch.emit(events.USER_CHANGED, {"user_id": user.id})
    return await User.get(id=user.id)


async def begin_totp(actor: Actor) -> tuple[str, str]:
    """A new secret for the actor's authenticator app: (secret, otpauth URI). Two-factor sign-in is on only
    once ``confirm_totp`` has seen a code made from it."""
    user = await _own_account(actor)
    if user.totp_enabled_at is not None:
        raise Conflict("Two-factor sign-in is already on; turn it off first to use another authenticator.")
    secret = totp.new_secret()
    async with change(actor, ACCOUNT_ACTION) as ch:
        await User.filter(id=user.id).using_db(ch.conn).update(totp_secret=secret)
        await ch.audit("user.totp_begin", "user", user.id, {})
    return secret, totp.provisioning_uri(secret, user.email)


async def confirm_totp(actor: Actor, code: str, *, now: datetime | None = None) -> list[str]:
    """Turn two-factor sign-in on with a code from the authenticator; the recovery codes, shown only now."""
    now = now or datetime.now(UTC)
    user = await _own_account(actor)
    if user.totp_enabled_at is not None:
        raise Conflict("Two-factor sign-in is already on.")
    if not user.totp_secret:
        raise Conflict("Start the two-factor set-up first.")
    if not totp.code_matches(user.totp_secret, code, now):
        raise Invalid({"code": "That code does not match; enter the 6 digits your app shows now."})
    codes = totp.new_recovery_codes()
    async with change(actor, ACCOUNT_ACTION) as ch:
        await User.filter(id=user.id).using_db(ch.conn).update(
            totp_enabled_at=now, recovery_codes=[totp.recovery_digest(c) for c in codes])
        await ch.audit("user.totp_enable", "user", user.id, {"two_factor": {"old": False, "new": True}})
        ch.emit(events.USER_CHANGED, {"user_id": user.id})
    return codes


async def disable_totp(actor: Actor, password: str, *, now: datetime | None = None) -> None:
    """Turn two-factor sign-in off; needs the actor's password."""
    now = now or datetime.now(UTC)
    user = await _own_account(actor)
    if problem := await _check_own_password(actor, user, password, "password", now):
        raise Invalid({"password": problem})
    async with change(actor, ACCOUNT_ACTION) as ch:
        await User.filter(id=user.id).using_db(ch.conn).update(totp_secret=None, totp_enabled_at=None,
                                                               recovery_codes=[])
        await ch.audit("user.totp_disable", "user", user.id, {"two_factor": {"old": True, "new": False}},
                       severity=Severity.WARNING)
        ch.emit(events.USER_CHANGED, {"user_id": user.id})


# --- who must use two-factor sign-in --------------------------------------------------------------------------

async def required_2fa_role() -> Role | None:
    """The lowest role that must use two-factor sign-in, or None when nobody must."""
    setting = await InstallSetting.filter(key=REQUIRE_2FA).first()
    return None if setting is None or setting.value is None else Role(int(setting.value))


async def set_required_2fa_role(actor: Actor, role: Role | None) -> None:
    """Require two-factor sign-in from ``role`` up (None: from nobody). Owners only."""
    new = None if role is None else Role(role)
    async with change(actor, SETTINGS_ACTION) as ch:
        await ch.lock(f"setting:{REQUIRE_2FA}")
        setting = await InstallSetting.filter(key=REQUIRE_2FA).using_db(ch.conn).first()
        old = None if setting is None or setting.value is None else Role(int(setting.value))
        value = None if new is None else int(new)
        if setting is None:
            await InstallSetting.create(using_db=ch.conn, key=REQUIRE_2FA, value=value)
        else:
            await InstallSetting.filter(key=REQUIRE_2FA).using_db(ch.conn).update(value=value)
        await ch.audit("settings.update", "setting", REQUIRE_2FA, {
            REQUIRE_2FA: {"old": old.name if old else None, "new": new.name if new else None}})


async def must_enroll(user: User) -> bool:
    """True when the user's role must use two-factor sign-in and the user has not set it up yet."""
    if user.totp_enabled_at is not None:
        return False
    required = await required_2fa_role()
    return required is not None and Role(user.role) >= required

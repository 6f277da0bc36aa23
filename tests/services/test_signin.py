"""Signing in through the service: throttling, identical answers, audit, old hashes, two-factor sign-in and
password changes — on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from passlib.context import CryptContext
from passlib.hash import bcrypt

from app.auth import Actor, passwords, throttle
from app.enums import Role
from app.services import signin, users
from app.services.errors import Forbidden, Invalid
from storage.models import AuditEntryRow, User

PASSWORD = "correct horse battery"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ATTACKER = {"ip": "203.0.113.9", "user_agent": "guesser/1.0"}
OWNER_BROWSER = {"ip": "198.51.100.7", "user_agent": "Firefox"}


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch):
    """Real argon2 (and bcrypt, to read old hashes) at a test-sized cost, as in tests/services/test_users.py."""
    monkeypatch.setattr(passwords, "_context", CryptContext(
        schemes=["argon2", "bcrypt"], deprecated="auto",
        argon2__memory_cost=1024, argon2__rounds=1, argon2__parallelism=1))


async def _owner() -> User:
    return await users.create_first_owner(email="owner@example.com", password=PASSWORD)


async def _member(email: str = "member@example.com", role: Role = Role.MEMBER) -> User:
    return await users.create_user(Actor.system(), email=email, password=PASSWORD, role=role)


def _as(user: User) -> Actor:
    return Actor.for_user(user, **OWNER_BROWSER)


async def _audit(action: str) -> list[AuditEntryRow]:
    return await AuditEntryRow.filter(action=action).order_by("seq")


# --- the delay policy (pure) ---------------------------------------------------------------------------------

def test_three_failures_are_free_then_the_wait_doubles_up_to_a_lock():
    waits = [throttle.delay_after(n).total_seconds() for n in range(1, 12)]
    assert waits == [0, 0, 0, 1, 2, 4, 8, 16, 32, 900, 900]
    assert throttle.delay_after(9) < throttle.MAX_DELAY


def test_a_counter_blocks_until_its_wait_is_over():
    counter = throttle.Counter()
    for _ in range(4):
        counter = throttle.failed(counter, T0)
    assert throttle.wait_left(counter, T0) == timedelta(seconds=1)
    assert not throttle.wait_left(counter, T0 + timedelta(seconds=1))
    assert throttle.minutes(timedelta(seconds=1)) == 1
    assert throttle.minutes(timedelta(minutes=14, seconds=1)) == 15


# --- brute force --------------------------------------------------------------------------------------------

async def test_twenty_wrong_passwords_lock_the_address_and_the_account_until_the_lock_ends(beacon):
    await _owner()

    answers = []
    for minute in range(20):
        answers.append(await signin.sign_in("owner@example.com", f"guess {minute}", now=T0 + timedelta(minutes=minute),
                                            **ATTACKER))

    assert all(a.outcome is signin.Outcome.REFUSED for a in answers)
    assert [a.message for a in answers[:10]] == [signin.WRONG_CREDENTIALS] * 10
    # the tenth failure (minute 9) locks for 15 minutes: until minute 24
    assert [a.message for a in answers[10:]] == [f"Too many attempts; try again in {24 - m} minutes."
                                                 for m in range(10, 20)]

    while_locked = T0 + timedelta(minutes=23)
    from_attacker = await signin.sign_in("owner@example.com", PASSWORD, now=while_locked, **ATTACKER)
    from_elsewhere = await signin.sign_in("owner@example.com", PASSWORD, now=while_locked, **OWNER_BROWSER)
    other_account = await signin.sign_in("nobody@example.com", PASSWORD, now=while_locked, **ATTACKER)
    assert (from_attacker.ok, from_elsewhere.ok, other_account.ok) == (False, False, False)
    assert from_attacker.message == from_elsewhere.message == other_account.message == \
        "Too many attempts; try again in 1 minute."

    after = await signin.sign_in("owner@example.com", PASSWORD, now=T0 + timedelta(minutes=24, seconds=1),
                                 **OWNER_BROWSER)
    assert after.ok
    assert after.user.email == "owner@example.com"


async def test_a_burst_of_guesses_gets_three_free_tries_then_must_wait(beacon):
    await _owner()

    burst = [await signin.sign_in("owner@example.com", "wrong password", now=T0, **ATTACKER) for _ in range(6)]
    right_at_once = await signin.sign_in("owner@example.com", PASSWORD, now=T0, **ATTACKER)
    right_later = await signin.sign_in("owner@example.com", PASSWORD, now=T0 + timedelta(seconds=2), **ATTACKER)

    assert [a.throttled for a in burst] == [False, False, False, False, True, True]
    assert right_at_once.throttled
    assert right_later.ok


async def test_parallel_guesses_cannot_all_slip_through_while_the_first_is_being_checked(beacon):
    await _owner()

    answers = await asyncio.gather(*(signin.sign_in("owner@example.com", f"guess {n}", now=T0, **ATTACKER)
                                     for n in range(12)))

    assert sum(not a.throttled for a in answers) == throttle.FREE_FAILURES + 1
    assert len(await _audit("auth.sign_in_failed")) == 12


async def test_unknown_email_and_wrong_password_get_the_same_answers_even_when_throttled(beacon):
    await _owner()

    known = [await signin.sign_in("owner@example.com", "wrong password", now=T0, ip="192.0.2.1", user_agent="a")
             for _ in range(5)]
    unknown = [await signin.sign_in("nobody@example.com", PASSWORD, now=T0, ip="192.0.2.2", user_agent="a")
               for _ in range(5)]

    assert [a.message for a in known] == [a.message for a in unknown]
    assert known[0].message == "The e-mail or password is not correct."
    assert known[-1].message.startswith("Too many attempts")
    assert known[-1] == unknown[-1]


async def test_an_inactive_account_gets_the_same_answer_as_a_wrong_password(beacon):
    await _owner()
    member = await _member()
    await User.filter(id=member.id).update(is_active=False)

    answer = await signin.sign_in("member@example.com", PASSWORD, now=T0, **OWNER_BROWSER)

    assert (answer.ok, answer.message) == (False, signin.WRONG_CREDENTIALS)


async def test_every_attempt_is_audited_with_the_address_and_never_the_password(beacon):
    await _owner()

    for minute in range(10):
        await signin.sign_in("Owner@Example.com", f"secret guess {minute}", now=T0 + timedelta(minutes=minute),
                             **ATTACKER)
    await signin.sign_in("owner@example.com", PASSWORD, now=T0 + timedelta(minutes=30), **OWNER_BROWSER)

    failed = await _audit("auth.sign_in_failed")
    locked = await _audit("auth.locked")
    success = await _audit("auth.sign_in")
    assert len(failed) == 10
    assert {(e.ip, e.user_agent, e.severity, e.actor_type, e.entity_id) for e in failed} == {
        ("203.0.113.9", "guesser/1.0", "warning", "system", "owner@example.com")}
    assert failed[0].changes == {"email": "owner@example.com", "reason": "wrong password"}
    assert {e.changes["key"] for e in locked} == {"ip:203.0.113.9", "email:owner@example.com"}
    assert {e.severity for e in locked} == {"critical"}
    assert [(e.ip, e.severity, e.changes["method"]) for e in success] == [("198.51.100.7", "info", "password")]
    everything = " ".join(str(e.changes) for e in await AuditEntryRow.all())
    assert "secret guess" not in everything
    assert PASSWORD not in everything


# --- password hashes ---------------------------------------------------------------------------------------

async def test_an_old_bcrypt_password_still_signs_in_and_is_stored_as_argon2_afterwards(beacon):
    owner = await _owner()
    await User.filter(id=owner.id).update(password_hash=bcrypt.using(rounds=4).hash(PASSWORD))

    answer = await signin.sign_in("owner@example.com", PASSWORD, now=T0, **OWNER_BROWSER)

    assert answer.ok
    stored = (await User.get(id=owner.id)).password_hash
    assert stored.startswith("$argon2")
    assert (await signin.sign_in("owner@example.com", PASSWORD, now=T0, **OWNER_BROWSER)).ok


# --- two-factor sign-in ------------------------------------------------------------------------------------

async def _with_two_factor(user: User) -> tuple[pyotp.TOTP, list[str]]:
    secret, uri = await signin.begin_totp(_as(user))
    assert uri.startswith("otpauth://totp/") and secret in uri
    codes = await signin.confirm_totp(_as(user), pyotp.TOTP(secret).now())
    return pyotp.TOTP(secret), codes


async def test_with_two_factor_the_password_alone_is_not_enough(beacon):
    owner = await _owner()
    otp, _ = await _with_two_factor(owner)
    now = datetime.now(UTC)

    password_only = await signin.sign_in("owner@example.com", PASSWORD, now=now, **OWNER_BROWSER)
    wrong_code = await signin.sign_in("owner@example.com", PASSWORD, totp_code="000000"
                                      if otp.at(now) != "000000" else "111111", now=now, **OWNER_BROWSER)
    right_code = await signin.sign_in("owner@example.com", PASSWORD, totp_code=otp.at(now), now=now,
                                      **OWNER_BROWSER)
    code_without_password = await signin.sign_in("owner@example.com", "wrong password", totp_code=otp.at(now),
                                                 now=now, **OWNER_BROWSER)

    assert password_only.needs_second_factor and password_only.user is None
    assert (wrong_code.ok, wrong_code.message) == (False, signin.WRONG_CODE)
    assert right_code.ok
    assert (code_without_password.ok, code_without_password.message) == (False, signin.WRONG_CREDENTIALS)
    assert [e.changes["method"] for e in await _audit("auth.sign_in")] == ["totp"]


async def test_a_code_of_the_previous_30_seconds_still_works_but_not_an_older_one(beacon):
    owner = await _owner()
    otp, _ = await _with_two_factor(owner)
    now = datetime.now(UTC)

    previous = await signin.sign_in("owner@example.com", PASSWORD, totp_code=otp.at(now - timedelta(seconds=30)),
                                    now=now, **OWNER_BROWSER)
    too_old = await signin.sign_in("owner@example.com", PASSWORD, totp_code=otp.at(now - timedelta(seconds=95)),
                                   now=now, **OWNER_BROWSER)

    assert previous.ok
    assert not too_old.ok


async def test_each_recovery_code_signs_in_once(beacon):
    owner = await _owner()
    _, codes = await _with_two_factor(owner)
    assert len(codes) == len(set(codes)) == 10
    stored = (await User.get(id=owner.id)).recovery_codes
    assert not set(codes) & set(stored)  # only digests are kept

    first = await signin.sign_in("owner@example.com", PASSWORD, totp_code=codes[3].upper(), now=T0,
                                 **OWNER_BROWSER)
    again = await signin.sign_in("owner@example.com", PASSWORD, totp_code=codes[3], now=T0, **OWNER_BROWSER)

    assert first.ok
    assert (again.ok, again.message) == (False, signin.WRONG_CODE)
    assert len((await User.get(id=owner.id)).recovery_codes) == 9
    assert [e.changes for e in await _audit("auth.sign_in")] == [
        {"email": "owner@example.com", "method": "recovery code", "codes_left": 9, "user_id": owner.id}]


async def test_turning_two_factor_off_needs_the_password(beacon):
    owner = await _owner()
    await _with_two_factor(owner)

    with pytest.raises(Invalid) as refused:
        await signin.disable_totp(_as(owner), "not my password")
    assert "password" in refused.value.errors
    assert (await User.get(id=owner.id)).totp_enabled_at is not None

    await signin.disable_totp(_as(owner), PASSWORD)
    assert (await signin.sign_in("owner@example.com", PASSWORD, now=T0, **OWNER_BROWSER)).ok


async def test_a_wrong_enrollment_code_leaves_two_factor_off(beacon):
    owner = await _owner()
    secret, _ = await signin.begin_totp(_as(owner))
    wrong = "123456" if pyotp.TOTP(secret).now() != "123456" else "654321"

    with pytest.raises(Invalid) as refused:
        await signin.confirm_totp(_as(owner), wrong)

    assert "code" in refused.value.errors
    assert (await signin.sign_in("owner@example.com", PASSWORD, now=T0, **OWNER_BROWSER)).ok


async def test_owners_decide_from_which_role_two_factor_is_required(beacon):
    owner = await _owner()
    admin = await _member("admin@example.com", Role.ADMIN)
    member = await _member()

    with pytest.raises(Forbidden):
        await signin.set_required_2fa_role(_as(admin), Role.MEMBER)
    assert not await signin.must_enroll(admin)

    await signin.set_required_2fa_role(_as(owner), Role.ADMIN)

    assert await signin.must_enroll(admin)
    assert await signin.must_enroll(owner)
    assert not await signin.must_enroll(member)
    await _with_two_factor(owner)
    assert not await signin.must_enroll(await User.get(id=owner.id))
    assert [e.changes for e in await _audit("settings.update")] == [
        {"require_2fa_from_role": {"old": None, "new": "ADMIN"}}]


# --- password change ---------------------------------------------------------------------------------------

async def test_changing_the_password_needs_the_current_one_and_follows_the_policy(beacon):
    owner = await _owner()

    with pytest.raises(Invalid) as wrong_current:
        await signin.change_password(_as(owner), "not my password", "a brand new password")
    with pytest.raises(Invalid) as too_short:
        await signin.change_password(_as(owner), PASSWORD, "short")
    with pytest.raises(Invalid) as the_email:
        await signin.change_password(_as(owner), PASSWORD, "owner@example.com")

    assert wrong_current.value.errors == {"current": "Your current password is not correct."}
    assert too_short.value.errors == {"new": "Use at least 10 characters."}
    assert the_email.value.errors == {"new": "The password cannot be your e-mail address."}
    assert (await User.get(id=owner.id)).session_epoch == 0


async def test_a_changed_password_ends_earlier_sessions_and_only_the_new_one_signs_in(beacon):
    owner = await _owner()

    changed = await signin.change_password(_as(owner), PASSWORD, "a brand new password", now=T0)

    assert changed.session_epoch == owner.session_epoch + 1
    assert changed.password_changed_at == T0
    old = await signin.sign_in("owner@example.com", PASSWORD, now=T0, **OWNER_BROWSER)
    new = await signin.sign_in("owner@example.com", "a brand new password", now=T0, **OWNER_BROWSER)
    assert (old.ok, new.ok) == (False, True)
    [entry] = await _audit("user.password_change")
    assert entry.changes == {"password": {"old": "***", "new": "***"}}
    assert (entry.actor_type, entry.actor_id, entry.ip) == ("user", str(owner.id), "198.51.100.7")

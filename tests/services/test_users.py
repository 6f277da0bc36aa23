"""Accounts, sign-in and API keys through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from passlib.context import CryptContext

from app.auth import Actor, passwords
from app.enums import Role
from app.services import apikeys, users
from app.services.errors import Conflict, Forbidden, Invalid
from storage.models import ApiKey, AuditEntryRow, User

PASSWORD = "correct horse battery"
ADMIN = Actor(kind="user", id=50, label="admin@example.com", role=Role.ADMIN)
PRODUCTION_CONTEXT = passwords._context


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch):
    """Real argon2 hashes at a test-sized cost: the production cost (~0.3 s a hash) is not what these tests
    are about, and it would make this file the slowest of the suite (Django's test settings do the same)."""
    monkeypatch.setattr(passwords, "_context", CryptContext(
        schemes=["argon2"], argon2__memory_cost=1024, argon2__rounds=1, argon2__parallelism=1))


async def test_the_first_owner_is_created_once_and_a_second_is_refused(beacon):
    owner = await users.create_first_owner(email=" Owner@Example.com ", password=PASSWORD, ip="198.51.100.4",
                                           user_agent="setup-browser")

    with pytest.raises(Conflict):
        await users.create_first_owner(email="second@example.com", password=PASSWORD)

    assert (owner.email, owner.role) == ("owner@example.com", Role.OWNER)
    assert await users.owner_exists()
    assert await User.all().values_list("email", flat=True) == ["owner@example.com"]
    entry = await AuditEntryRow.get(seq=1)
    assert (entry.action, entry.actor_type, entry.ip, entry.user_agent) == (
        "user.create_owner", "system", "198.51.100.4", "setup-browser")
    assert await AuditEntryRow.all().count() == 1


async def test_signing_in_needs_the_right_password_and_never_says_which_part_was_wrong(beacon):
    await users.create_first_owner(email="owner@example.com", password=PASSWORD)

    right = await users.authenticate("OWNER@example.com", PASSWORD)
    wrong_password = await users.authenticate("owner@example.com", "not the password")
    unknown_email = await users.authenticate("nobody@example.com", PASSWORD)

    assert right is not None
    assert right.email == "owner@example.com"
    assert wrong_password is None
    assert unknown_email is None
    assert (await User.get(email="owner@example.com")).last_login_at is not None


async def test_passwords_are_stored_only_as_argon2_hashes(beacon):
    await users.create_first_owner(email="owner@example.com", password=PASSWORD)

    stored = await User.get(email="owner@example.com")

    assert stored.password_hash.startswith("$argon2")
    assert PRODUCTION_CONTEXT.default_scheme() == "argon2"
    assert PASSWORD not in stored.password_hash


async def test_an_api_key_is_shown_once_stored_as_sha256_and_acts_with_its_users_role(beacon):
    member = await users.create_user(ADMIN, email="member@example.com", password=PASSWORD, role=Role.MEMBER)

    key, plain = await apikeys.create_api_key(Actor.for_user(member), email="member@example.com", name="ci")
    acting = await apikeys.actor_for_api_key(plain, ip="192.0.2.1", user_agent="curl/8")

    stored = await ApiKey.get(id=key.id)
    assert stored.key_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in {stored.key_hash, stored.prefix, stored.name}
    assert acting is not None
    assert (acting.kind, acting.role, acting.user_id, acting.ip) == ("apikey", Role.MEMBER, member.id, "192.0.2.1")
    assert await apikeys.actor_for_api_key(plain + "x") is None
    assert await apikeys.actor_for_api_key("") is None


async def test_an_api_key_with_a_lower_role_acts_with_that_role(beacon):
    await users.create_user(ADMIN, email="admin2@example.com", password=PASSWORD, role=Role.ADMIN)

    _, plain = await apikeys.create_api_key(ADMIN, email="admin2@example.com", role="READ_ONLY")
    acting = await apikeys.actor_for_api_key(plain)

    assert acting is not None
    assert acting.role == Role.READ_ONLY


async def test_an_api_key_cannot_carry_more_than_its_accounts_role(beacon):
    await users.create_user(ADMIN, email="member@example.com", password=PASSWORD, role=Role.MEMBER)

    with pytest.raises(Invalid) as refused:
        await apikeys.create_api_key(ADMIN, email="member@example.com", role=Role.ADMIN)

    assert "role" in refused.value.errors
    assert await ApiKey.all().count() == 0


async def test_nobody_can_create_an_account_with_a_higher_role_than_their_own(beacon):
    audit_before = await AuditEntryRow.all().count()

    with pytest.raises(Forbidden):
        await users.create_user(ADMIN, email="boss@example.com", password=PASSWORD, role=Role.OWNER)
    created = await users.create_user(ADMIN, email="peer@example.com", password=PASSWORD, role=Role.ADMIN)

    assert created.role == Role.ADMIN
    assert await User.all().values_list("email", flat=True) == ["peer@example.com"]
    assert await AuditEntryRow.all().count() == audit_before + 1


async def test_a_member_cannot_create_accounts_at_all(beacon):
    member = Actor(kind="user", id=20, label="member@example.com", role=Role.MEMBER)

    with pytest.raises(Forbidden):
        await users.create_user(member, email="friend@example.com", password=PASSWORD, role=Role.READ_ONLY)

    assert await User.all().count() == 0
    assert await AuditEntryRow.all().count() == 0


async def test_a_short_password_bad_email_or_taken_email_is_refused(beacon):
    await users.create_user(ADMIN, email="taken@example.com", password=PASSWORD)

    with pytest.raises(Invalid) as short:
        await users.create_user(ADMIN, email="new@example.com", password="short")
    with pytest.raises(Invalid) as bad_email:
        await users.create_user(ADMIN, email="not-an-email", password=PASSWORD)
    with pytest.raises(Invalid) as taken:
        await users.create_user(ADMIN, email="TAKEN@example.com", password=PASSWORD)

    assert set(short.value.errors) == {"password"}
    assert set(bad_email.value.errors) == {"email"}
    assert set(taken.value.errors) == {"email"}
    assert await User.all().count() == 1


async def test_a_member_cannot_create_a_key_for_someone_elses_account(beacon):
    await users.create_user(ADMIN, email="victim@example.com", password=PASSWORD, role=Role.ADMIN)
    member = Actor(kind="user", id=20, label="member@example.com", role=Role.MEMBER)

    with pytest.raises(Forbidden):
        await apikeys.create_api_key(member, email="victim@example.com")

    assert await ApiKey.all().count() == 0


async def test_two_simultaneous_first_owner_setups_make_exactly_one_owner(beacon):
    import asyncio

    results = await asyncio.gather(
        users.create_first_owner(email="a@example.com", password=PASSWORD),
        users.create_first_owner(email="b@example.com", password=PASSWORD),
        return_exceptions=True)

    assert sum(isinstance(r, User) for r in results) == 1
    assert sum(isinstance(r, Conflict) for r in results) == 1
    assert await User.filter(role=Role.OWNER).count() == 1

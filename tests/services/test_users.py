"""Accounts, sign-in and API keys through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from passlib.context import CryptContext

from app.auth import Actor, passwords
from app.enums import Role
from app.services import apikeys, users
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from storage.models import ApiKey, AuditEntryRow, User

PASSWORD = "correct horse battery"
ADMIN = Actor(kind="user", id=50, label="admin@example.com", role=Role.ADMIN)
OWNER = Actor.system("test")
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
    await users.create_user(OWNER, email="admin2@example.com", password=PASSWORD, role=Role.ADMIN)

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


async def test_an_admin_creates_members_and_read_only_accounts_but_no_admins_or_owners(beacon):
    audit_before = await AuditEntryRow.all().count()

    with pytest.raises(Forbidden):
        await users.create_user(ADMIN, email="boss@example.com", password=PASSWORD, role=Role.OWNER)
    with pytest.raises(Forbidden):
        await users.create_user(ADMIN, email="peer@example.com", password=PASSWORD, role=Role.ADMIN)
    created = await users.create_user(ADMIN, email="member@example.com", password=PASSWORD, role=Role.MEMBER)

    assert created.role == Role.MEMBER
    assert await User.all().values_list("email", flat=True) == ["member@example.com"]
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
    await users.create_user(OWNER, email="victim@example.com", password=PASSWORD, role=Role.ADMIN)
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


# --- invitations, roles, deactivation, resets and deletion ---------------------------------------------------------

SYSTEM = Actor.system("test")


async def _account(email: str, role: Role) -> User:
    return await users.create_user(SYSTEM, email=email, password=PASSWORD, role=role)


async def _actor(email: str, role: Role) -> Actor:
    return Actor.for_user(await _account(email, role))


async def _epoch(user_id: int) -> int:
    return (await User.get(id=user_id)).session_epoch


async def _last_entry() -> AuditEntryRow:
    return await AuditEntryRow.all().order_by("-seq").first()


@pytest.mark.parametrize("target_role", [Role.ADMIN, Role.OWNER])
async def test_an_admin_cannot_touch_admins_or_owners(beacon, target_role):
    admin = await _actor("admin@example.com", Role.ADMIN)
    target = await _account("target@example.com", target_role)
    entries = await AuditEntryRow.all().count()

    for attempt in (users.change_role(admin, target.id, Role.MEMBER), users.deactivate(admin, target.id),
                    users.delete_user(admin, target.id), users.reset_password(admin, target.id, "a new password!")):
        with pytest.raises(Forbidden):
            await attempt

    stored = await User.get(id=target.id)
    assert (stored.role, stored.is_active, stored.session_epoch) == (target_role, True, 0)
    assert await AuditEntryRow.all().count() == entries


async def test_an_admin_manages_members_and_read_only_accounts_but_cannot_grant_admin(beacon):
    admin = await _actor("admin@example.com", Role.ADMIN)
    member = await _account("member@example.com", Role.MEMBER)

    await users.change_role(admin, member.id, Role.READ_ONLY)
    with pytest.raises(Forbidden):
        await users.change_role(admin, member.id, Role.ADMIN)
    with pytest.raises(Forbidden):
        await users.invite_user(admin, email="new-admin@example.com", role=Role.ADMIN)
    await users.deactivate(admin, member.id)
    await users.reactivate(admin, member.id)

    stored = await User.get(id=member.id)
    assert (stored.role, stored.is_active) == (Role.READ_ONLY, True)
    assert not await User.filter(email="new-admin@example.com").exists()
    assert users.grantable_roles(Role.ADMIN) == [Role.MEMBER, Role.READ_ONLY]


async def test_an_owner_manages_admins_and_other_owners(beacon):
    owner = await _actor("owner@example.com", Role.OWNER)
    admin = await _account("admin@example.com", Role.ADMIN)
    other_owner = await _account("owner2@example.com", Role.OWNER)

    await users.change_role(owner, admin.id, Role.OWNER)
    await users.change_role(owner, other_owner.id, Role.ADMIN)
    await users.deactivate(owner, other_owner.id)
    await users.delete_user(owner, other_owner.id)

    assert (await User.get(id=admin.id)).role == Role.OWNER
    assert not await User.filter(id=other_owner.id).exists()
    assert users.grantable_roles(Role.OWNER) == [Role.OWNER, Role.ADMIN, Role.MEMBER, Role.READ_ONLY]


async def test_members_and_read_only_accounts_cannot_manage_anyone(beacon):
    member = await _actor("member@example.com", Role.MEMBER)
    other = await _account("other@example.com", Role.READ_ONLY)

    with pytest.raises(Forbidden):
        await users.deactivate(member, other.id)
    with pytest.raises(Forbidden):
        await users.invite_user(member, email="friend@example.com", role=Role.READ_ONLY)

    assert (await User.get(id=other.id)).is_active


async def test_an_owner_may_leave_while_another_owner_remains_but_not_reset_their_own_password_here(beacon):
    owner = await _account("owner@example.com", Role.OWNER)
    await _account("owner2@example.com", Role.OWNER)
    actor = Actor.for_user(owner)

    with pytest.raises(Forbidden, match="account screen"):
        await users.reset_password(actor, owner.id, "a brand new password")
    await users.delete_user(actor, owner.id)

    assert not await User.filter(id=owner.id).exists()


async def test_the_last_active_owner_cannot_be_deleted_deactivated_or_demoted(beacon):
    owner = await _account("owner@example.com", Role.OWNER)
    deactivated_owner = await _account("former@example.com", Role.OWNER)
    await users.deactivate(SYSTEM, deactivated_owner.id)  # an inactive owner does not count

    for attempt in (users.delete_user(SYSTEM, owner.id), users.deactivate(SYSTEM, owner.id),
                    users.change_role(SYSTEM, owner.id, Role.ADMIN),
                    users.change_role(Actor.for_user(owner), owner.id, Role.ADMIN)):
        with pytest.raises(Conflict, match="last active owner"):
            await attempt

    stored = await User.get(id=owner.id)
    assert (stored.role, stored.is_active) == (Role.OWNER, True)


async def test_two_owners_demoting_each_other_at_once_leave_exactly_one_owner(beacon):
    first = await _account("first@example.com", Role.OWNER)
    second = await _account("second@example.com", Role.OWNER)

    results = await asyncio.gather(
        users.change_role(Actor.for_user(first), second.id, Role.ADMIN),
        users.change_role(Actor.for_user(second), first.id, Role.ADMIN),
        return_exceptions=True)

    assert sum(isinstance(r, User) for r in results) == 1
    assert sum(isinstance(r, Conflict | Forbidden) for r in results) == 1
    assert await User.filter(role=Role.OWNER, is_active=True).count() == 1


async def test_two_owners_deleting_each_other_at_once_leave_exactly_one_owner(beacon):
    first = await _account("first@example.com", Role.OWNER)
    second = await _account("second@example.com", Role.OWNER)

    results = await asyncio.gather(users.delete_user(Actor.for_user(first), second.id),
                                   users.delete_user(Actor.for_user(second), first.id), return_exceptions=True)

    assert sum(r is None for r in results) == 1
    assert await User.filter(role=Role.OWNER, is_active=True).count() == 1


async def test_an_invited_person_sets_a_password_and_can_then_sign_in(beacon):
    admin = await _actor("admin@example.com", Role.ADMIN)

    invited, token = await users.invite_user(admin, email=" New@Example.com ", role=Role.MEMBER, name="New")
    before = await users.authenticate("new@example.com", PASSWORD)
    with pytest.raises(Invalid) as short:
        await users.accept_invite(token, "short")
    accepted = await users.accept_invite(token, PASSWORD)
    signed_in = await users.authenticate("new@example.com", PASSWORD)

    stored = await User.get(id=invited.id)
    assert before is None
    assert set(short.value.errors) == {"password"}
    assert stored.invite_hash is None and stored.invite_expires_at is None and stored.is_active
    assert (accepted.role, accepted.email) == (Role.MEMBER, "new@example.com")
    assert signed_in is not None and signed_in.id == invited.id
    assert (await _last_entry()).action == "user.accept_invite"


async def test_an_invitation_keeps_only_the_tokens_sha256_and_expires_in_seven_days(beacon):
    invited, token = await users.invite_user(SYSTEM, email="new@example.com", role=Role.READ_ONLY)

    stored = await User.get(id=invited.id)
    assert stored.invite_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in {stored.invite_hash, stored.password_hash}
    assert not stored.is_active
    expires = stored.invite_expires_at
    assert timedelta(days=6, hours=23) < expires - datetime.now(UTC) <= timedelta(days=7)
    assert [a.status for a in await users.list_users()] == ["invited"]
    entry = await _last_entry()
    assert (entry.action, entry.changes["role"]["new"]) == ("user.invite", "READ_ONLY")
    assert token not in str(entry.changes)


async def test_a_used_expired_or_unknown_invitation_is_refused(beacon):
    _, used = await users.invite_user(SYSTEM, email="used@example.com")
    await users.accept_invite(used, PASSWORD)
    expired_user, expired = await users.invite_user(SYSTEM, email="late@example.com")
    await User.filter(id=expired_user.id).update(invite_expires_at=datetime.now(UTC) - timedelta(minutes=1))

    with pytest.raises(NotFound):
        await users.accept_invite(used, "another password")
    with pytest.raises(NotFound, match="expired"):
        await users.accept_invite(expired, PASSWORD)
    with pytest.raises(NotFound):
        await users.accept_invite("made-up-token", PASSWORD)

    assert await users.authenticate("late@example.com", PASSWORD) is None
    assert await users.authenticate("used@example.com", "another password") is None


async def test_an_invitation_needs_an_email_address_and_a_name_of_sensible_length(beacon):
    with pytest.raises(Invalid) as refused:
        await users.invite_user(SYSTEM, email="not-an-email", name="x" * 201)

    assert set(refused.value.errors) == {"email", "name"}
    assert await User.all().count() == 0


async def test_inviting_again_replaces_the_link(beacon):
    _, first = await users.invite_user(SYSTEM, email="new@example.com")
    _, second = await users.invite_user(SYSTEM, email="new@example.com")

    with pytest.raises(NotFound):
        await users.accept_invite(first, PASSWORD)
    await users.accept_invite(second, PASSWORD)

    with pytest.raises(Invalid):
        await users.invite_user(SYSTEM, email="new@example.com")
    assert await User.filter(email="new@example.com").count() == 1


async def test_deactivating_resetting_and_changing_the_role_end_that_persons_sessions(beacon):
    member = await _account("member@example.com", Role.MEMBER)

    await users.deactivate(SYSTEM, member.id)
    after_deactivate = await _epoch(member.id)
    await users.reactivate(SYSTEM, member.id)
    await users.reset_password(SYSTEM, member.id, "a brand new password")
    after_reset = await _epoch(member.id)
    await users.change_role(SYSTEM, member.id, Role.READ_ONLY)

    assert (after_deactivate, after_reset, await _epoch(member.id)) == (1, 2, 3)
    assert await users.authenticate("member@example.com", PASSWORD) is None
    assert await users.authenticate("member@example.com", "a brand new password") is not None


async def test_a_deactivated_account_cannot_sign_in_nor_use_its_api_keys(beacon):
    member = await _account("member@example.com", Role.MEMBER)
    _, plain = await apikeys.create_api_key(Actor.for_user(member), email="member@example.com", name="ci")

    await users.deactivate(SYSTEM, member.id)

    assert await users.authenticate("member@example.com", PASSWORD) is None
    assert await apikeys.actor_for_api_key(plain) is None
    assert [a.status for a in await users.list_users()] == ["deactivated"]


async def test_every_change_is_audited_with_fields_severity_and_the_password_masked(beacon):
    owner = await _actor("owner@example.com", Role.OWNER)
    member = await _account("member@example.com", Role.MEMBER)

    await users.change_role(owner, member.id, Role.ADMIN)
    role_entry = await _last_entry()
    await users.reset_password(owner, member.id, "a brand new password")
    reset_entry = await _last_entry()
    await users.deactivate(owner, member.id)
    deactivate_entry = await _last_entry()
    await users.delete_user(owner, member.id)
    delete_entry = await _last_entry()

    assert (role_entry.action, role_entry.severity, role_entry.changes) == (
        "user.role_change", "warning", {"role": {"old": "MEMBER", "new": "ADMIN"}})
    assert role_entry.actor_label == "owner@example.com"
    assert (reset_entry.action, reset_entry.changes) == (
        "user.password_reset", {"password": {"old": "***", "new": "***"}})
    assert "a brand new password" not in str(reset_entry.changes)
    assert (deactivate_entry.action, deactivate_entry.severity, deactivate_entry.changes) == (
        "user.deactivate", "warning", {"status": {"old": "active", "new": "deactivated"}})
    assert (delete_entry.action, delete_entry.severity, delete_entry.entity_id) == (
        "user.delete", "critical", str(member.id))
    assert delete_entry.changes["email"] == {"old": "member@example.com", "new": None}


async def test_an_admin_reset_follows_the_password_policy(beacon):
    member = await _account("member@example.com", Role.MEMBER)

    with pytest.raises(Invalid) as refused:
        await users.reset_password(SYSTEM, member.id, "member@example.com")

    assert set(refused.value.errors) == {"password"}
    assert await _epoch(member.id) == 0


async def test_the_list_shows_role_status_last_sign_in_and_teams(beacon):
    from app.services import teams

    await _account("owner@example.com", Role.OWNER)
    await users.authenticate("owner@example.com", PASSWORD)
    await users.invite_user(SYSTEM, email="new@example.com", role=Role.READ_ONLY)
    team = await teams.create_team(SYSTEM, "Ops")
    await teams.add_member(SYSTEM, team.id, (await User.get(email="owner@example.com")).id)

    listed = {a.email: a for a in await users.list_users()}

    assert (listed["owner@example.com"].role, listed["owner@example.com"].status) == (Role.OWNER, "active")
    assert listed["owner@example.com"].last_login_at is not None
    assert listed["owner@example.com"].teams == ("Ops",)
    assert (listed["new@example.com"].status, listed["new@example.com"].teams) == ("invited", ())

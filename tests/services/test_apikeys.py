"""API keys through the service: expiry, revocation, last use, lower roles, whose keys one may touch, and the
audit entries they leave (never the key itself); on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app import audit
from app.auth import Actor
from app.config import Settings
from app.enums import Role
from app.services import apikeys
from app.services.errors import Conflict, Forbidden, Invalid, NotFound
from storage.db import close_database, open_database
from storage.models import ApiKey, AuditEntryRow, User

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN = Actor(kind="user", id=50, label="admin@example.com", role=Role.ADMIN)
async def _account(email: str, role: Role = Role.MEMBER) -> tuple[User, Actor]:
    # the password plays no part here: a row without a usable hash spares the argon2 work
    user = await User.create(email=email, password_hash="!", role=role)
    return user, Actor.for_user(user)


async def test_a_key_with_an_expiry_works_until_then_and_is_refused_after(beacon):
    member, as_member = await _account("member@example.com")
    soon = datetime.now(UTC) + timedelta(days=30)

    key, plain = await apikeys.create_api_key(as_member, email=member.email, name="ci", expires_at=soon)
    works_now = await apikeys.actor_for_api_key(plain)
    await ApiKey.filter(id=key.id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    after_expiry = await apikeys.actor_for_api_key(plain)

    assert works_now is not None and works_now.user_id == member.id
    assert abs((await ApiKey.get(id=key.id)).created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert after_expiry is None


async def test_an_expiry_in_the_past_or_without_a_time_zone_is_refused(beacon):
    member, as_member = await _account("member@example.com")

    with pytest.raises(Invalid) as past:
        await apikeys.create_api_key(as_member, email=member.email, expires_at=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(Invalid) as naive:
        await apikeys.create_api_key(as_member, email=member.email, expires_at=datetime(2099, 1, 1))

    assert "future" in past.value.errors["expires_at"]
    assert "time zone" in naive.value.errors["expires_at"]
    assert await ApiKey.all().count() == 0


async def test_a_revoked_key_stops_working_at_once(beacon):
    member, as_member = await _account("member@example.com")
    key, plain = await apikeys.create_api_key(as_member, email=member.email, name="deploy")

    revoked = await apikeys.revoke_api_key(as_member, key.id)

    assert revoked.revoked_at is not None
    assert await apikeys.actor_for_api_key(plain) is None
    with pytest.raises(Conflict):
        await apikeys.revoke_api_key(as_member, key.id)
    with pytest.raises(NotFound):
        await apikeys.revoke_api_key(as_member, 9999)


async def test_using_a_key_records_when_it_was_last_used(beacon):
    member, as_member = await _account("member@example.com")
    key, plain = await apikeys.create_api_key(as_member, email=member.email)
    before = datetime.now(UTC)

    assert (await ApiKey.get(id=key.id)).last_used_at is None
    await apikeys.actor_for_api_key(plain, ip="192.0.2.1")

    used = (await ApiKey.get(id=key.id)).last_used_at
    assert used is not None and before - timedelta(seconds=1) <= used <= datetime.now(UTC)


async def test_a_key_may_carry_a_lower_role_but_never_a_higher_one(beacon):
    admin, as_admin = await _account("boss@example.com", Role.ADMIN)

    _, reader = await apikeys.create_api_key(as_admin, email=admin.email, role="READ_ONLY")
    with pytest.raises(Invalid) as higher:
        await apikeys.create_api_key(as_admin, email=admin.email, role=Role.OWNER)

    assert (await apikeys.actor_for_api_key(reader)).role == Role.READ_ONLY
    assert "higher role" in higher.value.errors["role"]


async def test_a_member_cannot_create_or_revoke_keys_of_another_account_but_an_admin_can(beacon):
    _, as_member = await _account("member@example.com")
    victim, as_victim = await _account("victim@example.com")
    key, plain = await apikeys.create_api_key(as_victim, email=victim.email, name="theirs")

    with pytest.raises(Forbidden):
        await apikeys.create_api_key(as_member, email=victim.email)
    with pytest.raises(Forbidden):
        await apikeys.revoke_api_key(as_member, key.id)
    still_works = await apikeys.actor_for_api_key(plain)
    await apikeys.revoke_api_key(ADMIN, key.id)

    assert still_works is not None
    assert await apikeys.actor_for_api_key(plain) is None


async def test_a_read_only_account_cannot_create_keys(beacon):
    reader, as_reader = await _account("reader@example.com", Role.READ_ONLY)

    with pytest.raises(Forbidden):
        await apikeys.create_api_key(as_reader, email=reader.email)


async def test_a_read_only_account_can_revoke_a_key_an_admin_made_for_it(beacon):
    reader, as_reader = await _account("reader@example.com", Role.READ_ONLY)
    key, plain = await apikeys.create_api_key(ADMIN, email=reader.email, name="dashboard tv")

    await apikeys.revoke_api_key(as_reader, key.id)

    assert await apikeys.actor_for_api_key(plain) is None


async def test_listing_shows_only_that_accounts_keys_newest_first(beacon):
    member, as_member = await _account("member@example.com")
    other, as_other = await _account("other@example.com")
    first, _ = await apikeys.create_api_key(as_member, email=member.email, name="first")
    second, _ = await apikeys.create_api_key(as_member, email=member.email, name="second")
    await apikeys.create_api_key(as_other, email=other.email, name="not mine")
    await apikeys.revoke_api_key(as_member, first.id)

    listed = await apikeys.list_api_keys(member.id)

    assert [(k.name, k.revoked_at is not None) for k in listed] == [("second", False), ("first", True)]


async def test_creating_and_revoking_are_audited_without_the_key(beacon):
    member, as_member = await _account("member@example.com")
    key, plain = await apikeys.create_api_key(as_member, email=member.email, name="ci", role="READ_ONLY")
    await apikeys.revoke_api_key(as_member, key.id)

    rows = await AuditEntryRow.all().order_by("seq")

    assert [(r.action, r.entity_id, r.actor_label, r.severity) for r in rows] == [
        ("apikey.create", str(key.id), "member@example.com", "info"),
        ("apikey.revoke", str(key.id), "member@example.com", "warning")]
    assert rows[0].changes["role"] == {"old": None, "new": "READ_ONLY"}
    assert rows[0].changes["prefix"] == {"old": None, "new": key.prefix}
    assert rows[1].changes["revoked_at"]["old"] is None
    stored = json.dumps([r.changes for r in rows])
    assert plain not in stored and plain[10:] not in stored and key.key_hash not in stored
    assert await audit.verify_stored() is None


# --- the operator's command ---------------------------------------------------------------------------------

async def test_the_command_prints_a_key_once_that_expires_after_the_given_days(tmp_path):
    data_dir = tmp_path / "data"
    await open_database(Settings(data_dir=data_dir).effective_database_url)
    try:
        await User.create(email="ops@example.com", password_hash="!", role=Role.ADMIN)
    finally:
        await close_database()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEACON_")}
    env["BEACON_DATA_DIR"] = str(data_dir)

    process = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "apikey", "create", "--email", "ops@example.com", "--name", "ci",
        "--role", "MEMBER", "--expires-days", "7", cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 0, stderr.decode()
    plain = stdout.decode().strip()
    assert plain.startswith("bk_")
    await open_database(Settings(data_dir=data_dir).effective_database_url)
    try:
        key = await ApiKey.get(prefix=plain[:10])
        acting = await apikeys.actor_for_api_key(plain)
    finally:
        await close_database()
    assert key.name == "ci" and key.role == Role.MEMBER
    assert timedelta(days=6, hours=23) < key.expires_at - datetime.now(UTC) <= timedelta(days=7)
    assert acting is not None and acting.role == Role.MEMBER

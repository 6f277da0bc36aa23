"""The tamper-evident audit trail: pure chain rules, entries written by services, and `audit verify`."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from dataclasses import replace
from pathlib import Path

from tortoise import connections

from app import audit
from app.audit import GENESIS, AuditEntry, StoredEntry, entry_hash, verify
from app.auth import Actor
from app.config import Settings
from app.demo import load_demo
from app.enums import Role
from app.services import components, pages
from storage.db import close_database, open_database
from storage.models import AuditEntryRow

REPO_ROOT = Path(__file__).resolve().parents[1]


def chain(length: int) -> list[StoredEntry]:
    """An intact chain of ``length`` entries, as storage would hold it."""
    stored, prev = [], GENESIS
    for seq in range(1, length + 1):
        entry = AuditEntry(seq=seq, at=f"2025-01-01T00:00:{seq:02d}.000000+00:00", actor_type="user", actor_id="1",
                           actor_label="ops@example.com", action="component.set_status", entity_type="component",
                           entity_id=str(seq), changes={"status": {"old": "OPERATIONAL", "new": "DEGRADED"}})
        digest = entry_hash(prev, entry)
        stored.append(StoredEntry(entry, prev, digest))
        prev = digest
    return stored


def head_of(entries: list[StoredEntry]) -> tuple[int, str]:
    return entries[-1].entry.seq, entries[-1].hash


# --- the chain, without storage -----------------------------------------------------------------------------

def test_an_intact_chain_verifies():
    entries = chain(5)

    assert verify(entries, head_of(entries)) is None


def test_an_empty_chain_without_a_head_verifies():
    assert verify([], None) is None


def test_editing_an_entry_is_caught_and_named():
    entries = chain(5)
    head = head_of(entries)
    edited = replace(entries[2].entry, actor_label="mallory@example.com")
    entries[2] = replace(entries[2], entry=edited)

    broken = verify(entries, head)

    assert broken is not None
    assert broken.seq == 3
    assert str(broken).startswith("audit entry 3:")


def test_rewriting_an_entry_and_its_hash_is_caught_at_the_next_entry():
    entries = chain(5)
    head = head_of(entries)
    edited = replace(entries[1].entry, changes={"status": {"old": "OPERATIONAL", "new": "OPERATIONAL"}})
    entries[1] = StoredEntry(edited, entries[1].prev_hash, entry_hash(entries[1].prev_hash, edited))

    broken = verify(entries, head)

    assert broken is not None
    assert broken.seq == 3


def test_deleting_an_entry_in_the_middle_is_caught_and_named():
    entries = chain(5)
    head = head_of(entries)
    del entries[2]

    broken = verify(entries, head)

    assert broken is not None
    assert broken.seq == 3


def test_deleting_the_newest_entry_is_caught_through_the_chain_head():
    entries = chain(5)
    head = head_of(entries)
    del entries[-1]

    broken = verify(entries, head)

    assert broken is not None
    assert broken.seq == 5


def test_deleting_every_entry_is_caught_through_the_chain_head():
    entries = chain(3)
    head = head_of(entries)

    broken = verify([], head)

    assert broken is not None
    assert broken.seq == 1


def test_swapping_two_entries_is_caught_at_the_first_of_them():
    entries = chain(5)
    head = head_of(entries)
    entries[1], entries[2] = entries[2], entries[1]

    broken = verify(entries, head)

    assert broken is not None
    assert broken.seq == 2


def test_a_chain_head_that_does_not_match_the_newest_entry_is_caught():
    entries = chain(3)

    broken = verify(entries, (3, "f" * 64))

    assert broken is not None
    assert broken.seq == 3


# --- entries written by the services, on both databases ----------------------------------------------------

OPS = Actor(kind="user", id=7, label="ops@example.com", role=Role.ADMIN, ip="203.0.113.9",
            user_agent="Mozilla/5.0 (audit test)")


async def test_service_writes_record_who_did_what_to_which_field_from_where(beacon):
    page = await pages.create_page(OPS, title="Acme", slug="acme")
    await pages.update_page(OPS, page.id, title="Acme Cloud")
    component = await components.create_component(OPS, name="API", pages=[page.id])
    await components.set_status(OPS, component.id, "MAJOR_OUTAGE")
    await components.delete_component(OPS, component.id)

    rows = await AuditEntryRow.all().order_by("seq")

    assert [(r.seq, r.action, r.entity_type, r.entity_id) for r in rows] == [
        (1, "page.create", "page", str(page.id)),
        (2, "page.update", "page", str(page.id)),
        (3, "component.create", "component", str(component.id)),
        (4, "component.set_status", "component", str(component.id)),
        (5, "component.delete", "component", str(component.id)),
    ]
    assert {(r.actor_type, r.actor_id, r.actor_label, r.ip, r.user_agent) for r in rows} == {
        ("user", "7", "ops@example.com", "203.0.113.9", "Mozilla/5.0 (audit test)")}
    assert rows[1].changes == {"title": {"old": "Acme", "new": "Acme Cloud"}}
    assert rows[3].changes == {"status": {"old": "OPERATIONAL", "new": "MAJOR_OUTAGE"}}
    assert rows[4].changes["name"] == {"old": "API", "new": None}
    assert [r.severity for r in rows] == ["info", "info", "info", "info", "warning"]
    assert await audit.verify_stored() is None


async def test_concurrent_writes_extend_one_unbroken_chain(beacon):
    page = await pages.create_page(OPS, title="Acme", slug="acme")
    created = [await components.create_component(OPS, name=f"Service {n}", pages=[page.id]) for n in range(8)]

    await asyncio.gather(*(components.set_status(OPS, c.id, "DEGRADED") for c in created))

    assert await AuditEntryRow.all().count() == 1 + 8 + 8
    assert await audit.verify_stored() is None


async def _three_entries() -> None:
    page = await pages.create_page(OPS, title="Acme", slug="acme")
    await pages.update_page(OPS, page.id, title="Acme Cloud")
    await pages.update_page(OPS, page.id, description="All of Acme")


async def test_editing_a_stored_audit_row_is_caught_and_named(beacon):
    await _three_entries()

    await connections.get("default").execute_query(
        "UPDATE audit_entries SET actor_label = 'someone-else@example.com' WHERE seq = 2")
    broken = await audit.verify_stored()

    assert broken is not None
    assert broken.seq == 2


async def test_deleting_the_newest_stored_audit_row_is_caught(beacon):
    await _three_entries()

    await connections.get("default").execute_query("DELETE FROM audit_entries WHERE seq = 3")
    broken = await audit.verify_stored()

    assert broken is not None
    assert broken.seq == 3


# --- the operator's command ---------------------------------------------------------------------------------

async def _main(data_dir: Path, *args: str) -> tuple[int, str, str]:
    """Run ``python main.py ARGS`` as an operator would, on the SQLite data folder ``data_dir``:
    (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEACON_")}
    env["BEACON_DATA_DIR"] = str(data_dir)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", *args, cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode, stdout.decode(), stderr.decode()


async def test_audit_verify_exits_0_when_intact_and_1_naming_the_edited_entry(tmp_path):
    data_dir = tmp_path / "data"
    # the demo page in-process: the same rows `python main.py demo` writes, without a third interpreter start
    await open_database(Settings(data_dir=data_dir).effective_database_url)
    try:
        await load_demo()
    finally:
        await close_database()

    intact_code, intact_output, intact_log = await _main(data_dir, "audit", "verify")
    with sqlite3.connect(data_dir / "beacon.sqlite3") as db:
        db.execute("UPDATE audit_entries SET action = 'component.tampered' WHERE seq = 5")
    db.close()
    broken_code, broken_output, broken_log = await _main(data_dir, "audit", "verify")

    assert intact_code == 0, intact_output + intact_log
    assert "audit chain intact" in intact_output
    assert broken_code == 1, broken_output + broken_log
    assert "audit entry 5" in broken_output


async def test_deleting_the_newest_rows_and_the_chain_head_is_still_caught(beacon):
    await _three_entries()

    await connections.get("default").execute_query("DELETE FROM audit_entries WHERE seq = 3")
    await connections.get("default").execute_query("DELETE FROM audit_head")
    broken = await audit.verify_stored()

    assert broken is not None
    assert "chain head" in broken.reason


async def test_audit_verify_exits_2_when_it_cannot_check(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEACON_")}
    env["BEACON_DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/nowhere"  # nothing listens on port 1
    process = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "audit", "verify", "--data-dir", str(tmp_path), cwd=REPO_ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 2
    assert "cannot open the database" in stderr.decode()
    assert "intact" not in stdout.decode() and "broken" not in stdout.decode()

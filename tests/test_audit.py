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


# --- secrets never reach the trail -------------------------------------------------------------------------

def test_secret_fields_are_masked_at_any_depth_keeping_whether_they_were_set():
    changes = {"password_hash": {"old": "$argon2id$old", "new": "$argon2id$new"},
               "totp_secret": {"old": None, "new": "JBSWY3DPEHPK3PXP"},
               "recovery_codes": ["a1b2", "c3d4"],
               "Webhook_Token": "t0ps3cret",
               "settings": {"channel": {"old": None, "new": {"url": "https://example.com", "secret": "s"}}},
               "title": {"old": "Acme", "new": "Acme Cloud"}}

    masked = audit.mask_secrets(changes)

    assert masked == {"password_hash": {"old": "***", "new": "***"},
                      "totp_secret": {"old": None, "new": "***"},
                      "recovery_codes": "***",
                      "Webhook_Token": "***",
                      "settings": {"channel": {"old": None, "new": {"url": "https://example.com", "secret": "***"}}},
                      "title": {"old": "Acme", "new": "Acme Cloud"}}


async def test_append_stores_secret_fields_masked_whatever_the_caller_passes(beacon):
    from tortoise.transactions import in_transaction

    async with in_transaction() as conn:
        await audit.append(conn, actor=OPS, action="user.update", entity_type="user", entity_id=1,
                           changes={"password": {"old": "hunter2", "new": "correct horse"},
                                    "key_hash": {"old": None, "new": "ab" * 32},
                                    "name": {"old": "Ann", "new": "Anne"}})

    row = await AuditEntryRow.get(seq=1)

    assert row.changes == {"password": {"old": "***", "new": "***"}, "key_hash": {"old": None, "new": "***"},
                           "name": {"old": "Ann", "new": "Anne"}}
    assert "hunter2" not in audit.export_json(await audit.search())
    assert await audit.verify_stored() is None


# --- many writers at once ----------------------------------------------------------------------------------

async def test_fifty_concurrent_audited_actions_extend_one_chain_without_gaps(beacon):
    page = await pages.create_page(OPS, title="Acme", slug="acme")

    await asyncio.gather(*(components.create_component(OPS, name=f"Service {n}", pages=[page.id])
                           for n in range(50)))

    seqs = [seq for (seq,) in await AuditEntryRow.all().order_by("id").values_list("seq")]
    assert seqs == list(range(1, 52))
    assert await audit.verify_stored() is None
    assert await audit.verdict() == (True, "audit chain intact (51 entries)")


# --- tampering with stored rows, on both databases ---------------------------------------------------------

async def _sql(statement: str) -> None:
    await connections.get("default").execute_query(statement)


async def test_deleting_a_stored_entry_in_the_middle_is_caught_and_named(beacon):
    await _three_entries()

    await _sql("DELETE FROM audit_entries WHERE seq = 2")
    intact, sentence = await audit.verdict()

    assert not intact
    assert sentence.startswith("audit chain broken at audit entry 2: missing or moved")


async def test_swapping_two_stored_entries_is_caught_and_named(beacon):
    await _three_entries()
    id_of = dict(await AuditEntryRow.all().values_list("seq", "id"))

    # each entry stays intact with its own hashes; only their order in storage changes
    await _sql("UPDATE audit_entries SET id = 1000 WHERE seq = 2")
    await _sql(f"UPDATE audit_entries SET id = {id_of[2]} WHERE seq = 3")  # noqa: S608
    await _sql(f"UPDATE audit_entries SET id = {id_of[3]} WHERE seq = 2")  # noqa: S608
    broken = await audit.verify_stored()

    assert broken is not None
    assert broken.seq == 2
    assert "entry 3 found in its place" in broken.reason


async def test_truncating_the_newest_stored_entries_is_caught_through_the_head_row(beacon):
    await _three_entries()
    await pages.create_page(OPS, title="Beta", slug="beta")

    await _sql("DELETE FROM audit_entries WHERE seq >= 3")
    intact, sentence = await audit.verdict()

    assert not intact
    assert sentence == "audit chain broken at audit entry 3: missing (the chain head records entry 4)"


# --- finding and exporting entries -------------------------------------------------------------------------

async def test_search_filters_by_actor_entity_action_severity_and_time_newest_first(beacon):
    from datetime import UTC, datetime, timedelta

    other = Actor(kind="user", id=8, label="dev@example.com", role=Role.ADMIN)
    page = await pages.create_page(OPS, title="Acme", slug="acme")
    api = await components.create_component(other, name="API", pages=[page.id])
    await components.set_status(other, api.id, "DEGRADED")
    await components.delete_component(OPS, api.id)
    later = datetime.now(UTC) + timedelta(hours=1)

    everything = await audit.search()
    by_dev = await audit.search(actor="DEV@")
    on_api = await audit.search(entity_type="component", entity_id=api.id)
    statuses = await audit.search(action="set_status")
    warnings = await audit.search(severity="warning")
    second_page = await audit.search(limit=2, offset=2)

    assert [s.entry.seq for s in everything] == [4, 3, 2, 1]
    assert [s.entry.action for s in by_dev] == ["component.set_status", "component.create"]
    assert [s.entry.seq for s in on_api] == [4, 3, 2]
    assert [s.entry.seq for s in statuses] == [3]
    assert [s.entry.action for s in warnings] == ["component.delete"]
    assert [s.entry.seq for s in second_page] == [2, 1]
    assert await audit.search(since=later) == []
    assert len(await audit.search(until=later)) == 4
    moment = datetime.fromisoformat(everything[1].entry.at)
    assert [s.entry.seq for s in await audit.search(since=moment)] == [4, 3]
    assert [s.entry.seq for s in await audit.search(until=moment)] == [2, 1]


def test_exports_carry_every_field_and_hash_and_defuse_spreadsheet_formulas():
    import csv
    import io
    import json

    entries = chain(2)
    risky = replace(entries[1].entry, actor_label="=HYPERLINK(\"http://evil\")")
    entries[1] = StoredEntry(risky, entries[1].prev_hash, entry_hash(entries[1].prev_hash, risky))

    as_json = json.loads(audit.export_json(entries))
    as_csv = list(csv.DictReader(io.StringIO(audit.export_csv(entries))))

    assert as_json[1]["actor_label"] == risky.actor_label
    assert as_json[1]["hash"] == entries[1].hash and as_json[1]["prev_hash"] == entries[0].hash
    assert as_json[0]["changes"] == {"status": {"old": "OPERATIONAL", "new": "DEGRADED"}}
    assert [row["seq"] for row in as_csv] == ["1", "2"]
    assert as_csv[1]["actor_label"] == "'" + risky.actor_label
    assert json.loads(as_csv[0]["changes"]) == {"status": {"old": "OPERATIONAL", "new": "DEGRADED"}}
    assert as_csv[1]["hash"] == entries[1].hash
    # the JSON export is enough to re-check the chain elsewhere
    rebuilt = [StoredEntry(AuditEntry(**{k: r[k] for k in AuditEntry.__dataclass_fields__}), r["prev_hash"], r["hash"])
               for r in as_json]
    assert verify(rebuilt, head_of(entries)) is None

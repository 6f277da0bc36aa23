"""Retention settings (defaults, rules, audited saves) and pruning the audit trail so that it still verifies from
its anchor — a changed kept entry or a forged anchor is still caught; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import audit
from app.audit import AuditEntry, StoredEntry, entry_hash, verify
from app.auth import Actor
from app.enums import Role
from app.services import retention
from app.services.errors import Forbidden, Invalid
from app.services.retention import Retention
from app.services.transaction import change
from storage.models import AuditEntryRow, InstallSetting

OWNER = Actor(kind="user", id=1, label="owner@example.com", role=Role.OWNER)
ADMIN = Actor(kind="user", id=2, label="admin@example.com", role=Role.ADMIN)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _chain(length: int) -> list[StoredEntry]:
    stored, prev = [], audit.GENESIS
    for seq in range(1, length + 1):
        entry = AuditEntry(seq=seq, at=f"2025-01-01T00:00:{seq:02d}.000000+00:00", actor_type="system",
                           actor_id=None, actor_label="t", action="x", entity_type="y", entity_id=str(seq))
        digest = entry_hash(prev, entry)
        stored.append(StoredEntry(entry, prev, digest))
        prev = digest
    return stored


def test_a_chain_verifies_from_its_anchor_and_a_wrong_anchor_is_a_break():
    entries = _chain(6)
    kept, head = entries[3:], (6, entries[-1].hash)

    assert verify(kept, head, (4, entries[3].prev_hash)) is None
    assert verify(kept, head) == audit.Break(1, "missing or moved (entry 4 found in its place)")
    assert verify(kept, head, (4, audit.GENESIS)).reason == "does not link to the entry before it"
    assert verify(kept, head, (3, entries[2].prev_hash)).seq == 3  # claims an entry that is not there
    assert verify(kept[1:], head, (4, entries[3].prev_hash)).seq == 4  # the first kept entry removed too


async def _at(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr(audit, "utc_now_text", lambda: moment.isoformat(timespec="microseconds"))


async def _entries(monkeypatch, moment: datetime, count: int) -> None:
    await _at(monkeypatch, moment)
    for i in range(count):
        async with change(Actor.system("test"), "settings.update") as ch:
            await ch.audit("test.entry", "test", i, {"n": i})


async def test_defaults_keep_the_audit_trail_forever(beacon):
    assert await retention.current() == Retention(heartbeat_days=30, delivery_days=30, audit_days=None)


async def test_bad_values_are_named_per_field_and_only_owners_may_change_them(beacon):
    with pytest.raises(Invalid) as caught:
        await retention.set_retention(OWNER, heartbeat_days=0, delivery_days="soon", audit_days=10)
    assert set(caught.value.errors) == {"heartbeat_days", "delivery_days", "audit_days"}
    assert "at least 30 days" in caught.value.errors["audit_days"]
    with pytest.raises(Invalid) as caught:
        await retention.set_retention(OWNER, heartbeat_days=3651, delivery_days=2.5, audit_days=None)
    assert set(caught.value.errors) == {"heartbeat_days", "delivery_days"}
    with pytest.raises(Forbidden):
        await retention.set_retention(ADMIN, heartbeat_days=10, delivery_days=10, audit_days=None)
    assert await InstallSetting.filter(key=retention.KEY).count() == 0
    assert await AuditEntryRow.filter(action="settings.update").count() == 0


async def test_saved_values_are_read_back_and_audited_with_old_and_new(beacon):
    saved = await retention.set_retention(OWNER, heartbeat_days=14, delivery_days=60.0, audit_days=365)

    assert saved == await retention.current() == Retention(14, 60, 365)
    entry = await AuditEntryRow.get(action="settings.update")
    assert (entry.entity_type, entry.entity_id, entry.actor_label) == ("setting", "retention", "owner@example.com")
    assert entry.changes == {"retention": {"heartbeat_days": {"old": 30, "new": 14},
                                           "delivery_days": {"old": 30, "new": 60},
                                           "audit_days": {"old": None, "new": 365}}}
    await retention.set_retention(OWNER, heartbeat_days=14, delivery_days=60, audit_days=None)
    assert (await retention.current()).audit_days is None
    last = await AuditEntryRow.filter(action="settings.update").order_by("-seq").first()
    assert last.changes == {"retention": {"audit_days": {"old": 365, "new": None}}}


async def test_pruning_keeps_the_chain_verifiable_from_its_anchor(beacon, monkeypatch):
    await _entries(monkeypatch, T0 - timedelta(days=90), 5)  # seq 1-5: old
    await _at(monkeypatch, T0 - timedelta(days=10))
    await retention.set_retention(OWNER, heartbeat_days=30, delivery_days=30, audit_days=30)  # seq 6
    await _entries(monkeypatch, T0 - timedelta(days=5), 2)  # seq 7-8
    await _at(monkeypatch, T0)

    assert await retention.prune_audit(T0) == 5

    assert [r.seq for r in await AuditEntryRow.all().order_by("seq")] == [6, 7, 8, 9]
    anchor = await retention.audit_anchor()
    sixth = await AuditEntryRow.get(seq=6)
    assert (anchor["seq"], anchor["prev_hash"], anchor["pruned_count"]) == (6, sixth.prev_hash, 5)
    pruned = await AuditEntryRow.get(seq=9)
    assert (pruned.action, pruned.actor_label, pruned.severity) == ("audit.prune", "retention", "warning")
    assert pruned.changes["pruned_count"] == 5
    assert pruned.changes["anchor"] == {"seq": 6, "prev_hash": sixth.prev_hash}
    assert await audit.verify_stored() is None
    intact, sentence = await audit.verdict()
    assert intact and sentence.startswith("audit chain intact (4 entries, from entry 6")

    assert await retention.prune_audit(T0) == 0  # nothing older left: no new entry, same anchor
    assert await AuditEntryRow.all().count() == 4

    # later, everything is old: the audit.prune entry itself is the first kept one
    later = T0 + timedelta(days=100)
    await _at(monkeypatch, later)
    assert await retention.prune_audit(later) == 4
    rows = await AuditEntryRow.all().order_by("seq")
    assert [(r.seq, r.action) for r in rows] == [(10, "audit.prune")]
    assert (await retention.audit_anchor())["seq"] == 10
    assert await audit.verify_stored() is None


async def test_an_edited_kept_entry_is_still_caught_after_pruning(beacon, monkeypatch):
    await _entries(monkeypatch, T0 - timedelta(days=90), 3)
    await _at(monkeypatch, T0 - timedelta(days=1))
    await retention.set_retention(OWNER, heartbeat_days=30, delivery_days=30, audit_days=30)  # seq 4
    await _entries(monkeypatch, T0 - timedelta(hours=1), 2)  # seq 5-6
    await _at(monkeypatch, T0)
    assert await retention.prune_audit(T0) == 3

    await AuditEntryRow.filter(seq=5).update(actor_label="someone else")

    broken = await audit.verify_stored()
    assert (broken.seq, broken.reason) == (5, "content does not match its hash (edited)")
    intact, sentence = await audit.verdict()
    assert not intact and sentence.startswith("audit chain broken at audit entry 5")


async def test_a_forged_anchor_is_caught(beacon, monkeypatch):
    await _entries(monkeypatch, T0 - timedelta(days=90), 3)
    await _at(monkeypatch, T0 - timedelta(days=1))
    await retention.set_retention(OWNER, heartbeat_days=30, delivery_days=30, audit_days=30)  # seq 4
    await _entries(monkeypatch, T0 - timedelta(hours=1), 3)  # seq 5-7
    await _at(monkeypatch, T0)
    assert await retention.prune_audit(T0) == 3
    real = await retention.audit_anchor()

    # an anchor that does not link to the first kept entry
    await InstallSetting.filter(key=audit.ANCHOR_KEY).update(value={**real, "prev_hash": audit.GENESIS})
    assert (await audit.verify_stored()).reason == "does not link to the entry before it"

    # removing the first kept entries and moving the anchor to match: the audit.prune entry disagrees
    fifth = await AuditEntryRow.get(seq=6)
    await AuditEntryRow.filter(seq__lt=6).delete()
    await InstallSetting.filter(key=audit.ANCHOR_KEY).update(value={**real, "seq": 6, "prev_hash": fifth.prev_hash})
    broken = await audit.verify_stored()
    assert (broken.seq, "audit.prune" in broken.reason) == (6, True)

    # no anchor at all: the chain is missing its start
    await InstallSetting.filter(key=audit.ANCHOR_KEY).delete()
    assert (await audit.verify_stored()).seq == 1


async def test_without_an_audit_retention_nothing_is_pruned(beacon, monkeypatch):
    await _entries(monkeypatch, T0 - timedelta(days=4000), 3)
    await retention.set_retention(OWNER, heartbeat_days=7, delivery_days=7, audit_days=None)

    assert await retention.prune_audit(T0) == 0
    assert await AuditEntryRow.all().count() == 4
    assert await retention.audit_anchor() is None
    assert await audit.verify_stored() is None

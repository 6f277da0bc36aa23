"""The tamper-evident audit trail: each entry's hash covers the previous hash and the entry itself.

``hash = sha256(prev_hash + canonical JSON of the entry)``; the entry includes its sequence number,
so an edited, deleted or reordered entry breaks the chain at a place ``verify`` can name. The chain
head (newest seq and hash) is kept in its own row, so removing the newest entries is caught too.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    actor_type: str
    actor_id: str | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str | None
    changes: dict[str, Any] = field(default_factory=dict)
    ip: str | None = None
    user_agent: str | None = None
    severity: str = "info"


def canonical(entry: AuditEntry) -> str:
    return json.dumps(asdict(entry), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def entry_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256((prev_hash + canonical(entry)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as read back from storage, with the hashes written beside it."""

    entry: AuditEntry
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class Break:
    seq: int
    reason: str

    def __str__(self) -> str:
        return f"audit entry {self.seq}: {self.reason}"


def verify(entries: Iterable[StoredEntry], head: tuple[int, str] | None = None,
           anchor: tuple[int, str] | None = None) -> Break | None:
    """The first place where the chain does not hold, or None when it is intact.

    ``entries`` come in storage order (by row id); ``head`` is the recorded (seq, hash) of the newest entry.
    ``anchor`` is the (seq, prev_hash) of the first entry kept after the older ones were pruned
    (app/services/retention.py): the chain then starts at that seq and links to that hash instead of entry 1 and
    GENESIS. An anchor that does not match the first stored entry is a break like any other.
    """
    prev, expected_seq = (anchor[1], anchor[0]) if anchor is not None else (GENESIS, 1)
    last: StoredEntry | None = None
    for stored in entries:
        seq = stored.entry.seq
        if seq != expected_seq:
            if seq > expected_seq:
                return Break(expected_seq, f"missing or moved (entry {seq} found in its place)")
            return Break(seq, f"out of order (expected entry {expected_seq})")
        if stored.prev_hash != prev:
            return Break(seq, "does not link to the entry before it")
        if entry_hash(prev, stored.entry) != stored.hash:
            return Break(seq, "content does not match its hash (edited)")
        prev = stored.hash
        expected_seq += 1
        last = stored
    if head is not None:
        head_seq, head_hash = head
        if last is None or last.entry.seq < head_seq:
            first = anchor[0] if anchor is not None else 1
            return Break((last.entry.seq + 1) if last else first, f"missing (the chain head records entry {head_seq})")
        if last.entry.seq != head_seq or last.hash != head_hash:
            return Break(last.entry.seq, "does not match the recorded chain head")
    return None


def utc_now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def jsonable(value: Any) -> Any:
    """Values as they are hashed and stored: enums by value, times as ISO text, containers recursively."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# Fields whose values never reach the trail: only that they changed (and whether they were set) is kept.
SECRET_MARKERS = ("password", "secret", "token", "key_hash", "totp", "recovery")
MASK = "***"


def _is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(marker in lowered for marker in SECRET_MARKERS)


def _masked(value: Any) -> Any:
    if isinstance(value, dict) and set(value) <= {"old", "new"}:
        return {k: None if v is None else MASK for k, v in value.items()}
    return None if value is None else MASK


def mask_secrets(changes: Any) -> Any:
    """``changes`` with the value of every field named like a secret replaced by ``"***"`` (None stays None, so
    "set" and "cleared" still show), at any depth."""
    if isinstance(changes, dict):
        return {k: _masked(v) if _is_secret(str(k)) else mask_secrets(v) for k, v in changes.items()}
    if isinstance(changes, list):
        return [mask_secrets(v) for v in changes]
    return changes


# --- storage side -------------------------------------------------------------------------------------------

# SQLite serialises writers on one connection; PostgreSQL needs an explicit lock so that two concurrent
# transactions cannot both extend the chain from the same head. The lock is held until the caller's transaction
# ends, and the head is read only after it is taken: under READ COMMITTED that read sees the head the previous
# holder committed (tests/test_audit.py runs 50 concurrent writers on both databases).
_PG_LOCK_KEY = 0x6265_6163  # "beac"


# The seqs this process appended and committed, so that the watcher for other processes' writes
# (app/runtime.py) can tell on PostgreSQL whether a moved chain head was someone else's doing.
_committed_here: set[int] = set()


def forget_committed() -> None:
    """A process (re)starting on a database: what it appended to another one means nothing here."""
    _committed_here.clear()


def note_committed(seqs: Iterable[int]) -> None:
    _committed_here.update(seqs)


def written_elsewhere(last: int, head: int) -> bool:
    """Whether any entry after ``last`` up to ``head`` was appended by another process (and forget ours up to
    ``head``)."""
    others = any(seq not in _committed_here for seq in range(last + 1, head + 1))
    _committed_here.difference_update([s for s in _committed_here if s <= head])
    return others


async def append(conn: Any, *, actor: Any, action: str, entity_type: str, entity_id: Any,
                 changes: dict[str, Any], severity: str = "info") -> AuditEntry:
    """Append one entry inside the caller's transaction ``conn``."""
    from storage.models import AuditEntryRow, AuditHead

    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")
    head = await AuditHead.filter(id=1).using_db(conn).first()
    prev_hash, seq = (head.hash, head.seq + 1) if head else (GENESIS, 1)
    entry = AuditEntry(
        seq=seq,
        at=utc_now_text(),
        actor_type=actor.kind,
        actor_id=None if actor.id is None else str(actor.id),
        actor_label=actor.label,
        action=action,
        entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id),
        changes=mask_secrets(jsonable(changes)),  # here, so that no caller can forget
        ip=actor.ip[:64] if actor.ip else actor.ip,  # cut to the column sizes: an odd client must not fail a write
        user_agent=actor.user_agent[:500] if actor.user_agent else actor.user_agent,
        severity=severity,
    )
    digest = entry_hash(prev_hash, entry)
    await AuditEntryRow.create(using_db=conn, prev_hash=prev_hash, hash=digest, **asdict(entry))
    if head:
        await AuditHead.filter(id=1).using_db(conn).update(seq=seq, hash=digest)
    else:
        await AuditHead.create(using_db=conn, id=1, seq=seq, hash=digest)
    return entry


def _stored(row: Any) -> StoredEntry:
    fields = {name: getattr(row, name) for name in AuditEntry.__dataclass_fields__}
    return StoredEntry(AuditEntry(**fields), row.prev_hash, row.hash)


ANCHOR_KEY = "audit_anchor"  # InstallSetting: where the chain starts after pruning (app/services/retention.py)
PRUNE_ACTION = "audit.prune"


async def stored_anchor() -> dict[str, Any] | None:
    """The pruning anchor ``{"seq", "prev_hash", "pruned_at", "pruned_count"}``, or None when nothing was pruned."""
    from storage.models import InstallSetting

    setting = await InstallSetting.filter(key=ANCHOR_KEY).first()
    return setting.value if setting is not None and isinstance(setting.value, dict) else None


def anchor_pair(value: Any) -> tuple[int, str] | None:
    """The (seq, prev_hash) of a stored anchor, for ``verify``; None when it is not one."""
    try:
        return int(value["seq"]), str(value["prev_hash"])
    except (KeyError, TypeError, ValueError):
        return None


async def verify_stored() -> Break | None:
    """Verify the chain as stored in the database, from the pruning anchor when older entries were pruned."""
    from storage.models import AuditEntryRow, AuditHead, InstallSetting

    rows = await AuditEntryRow.all().order_by("id")
    head = await AuditHead.filter(id=1).first()
    if head is None and rows:
        return Break(rows[-1].seq, "the chain head record is missing (entries after it may have been removed)")
    setting = await InstallSetting.filter(key=ANCHOR_KEY).first()
    anchor = None
    if setting is not None and setting.value is not None:
        anchor = anchor_pair(setting.value)
        if anchor is None:
            return Break(rows[0].seq if rows else 1, "the pruning anchor is unreadable")
    broken = verify((_stored(r) for r in rows), (head.seq, head.hash) if head else None, anchor)
    if broken is not None or anchor is None:
        return broken
    # the anchor sits outside the chain: the newest audit.prune entry (inside it, hashed) must record the same one
    recorded = next((r for r in reversed(rows) if r.action == PRUNE_ACTION), None)
    if recorded is None or anchor_pair((recorded.changes or {}).get("anchor")) != anchor:
        return Break(anchor[0], "the pruning anchor does not match the one the last audit.prune entry records")
    return None


async def verdict() -> tuple[bool, str]:
    """(intact, the sentence ``audit verify`` prints): "audit chain intact (N entries)" or
    "audit chain broken at audit entry N: REASON"."""
    from storage.models import AuditEntryRow

    broken = await verify_stored()
    if broken is None:
        count = await AuditEntryRow.all().count()
        anchor = anchor_pair(await stored_anchor())
        since = f", from entry {anchor[0]}: older ones were pruned" if anchor is not None else ""
        return True, f"audit chain intact ({count} {'entry' if count == 1 else 'entries'}{since})"
    return False, f"audit chain broken at {broken}"


async def search(*, actor: str | None = None, entity_type: str | None = None, entity_id: str | int | None = None,
                 action: str | None = None, severity: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, limit: int | None = 100, offset: int = 0) -> list[StoredEntry]:
    """Entries newest first. ``actor`` and ``action`` match part of the actor's label (or its id) and of the action
    name, ignoring case; ``entity_type``, ``entity_id`` and ``severity`` match exactly; ``since`` is inclusive,
    ``until`` exclusive (aware datetimes; naive ones are read as UTC). ``limit=None`` returns every match."""
    from tortoise.expressions import Q

    from storage.models import AuditEntryRow

    query = AuditEntryRow.all()
    if actor := (actor or "").strip():
        query = query.filter(Q(actor_label__icontains=actor) | Q(actor_id=actor))
    if entity_type := (entity_type or "").strip():
        query = query.filter(entity_type=entity_type)
    if entity_id is not None and str(entity_id).strip():
        query = query.filter(entity_id=str(entity_id).strip())
    if action := (action or "").strip():
        query = query.filter(action__icontains=action)
    if severity := (severity or "").strip():
        query = query.filter(severity=severity)
    # `at` is ISO text in UTC with a fixed width: comparing the text compares the moments
    if since is not None:
        query = query.filter(at__gte=_at_text(since))
    if until is not None:
        query = query.filter(at__lt=_at_text(until))
    query = query.order_by("-seq").offset(max(offset, 0))
    if limit is not None:
        query = query.limit(max(limit, 0))
    return [_stored(r) for r in await query]


def _at_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


EXPORT_FIELDS = (*AuditEntry.__dataclass_fields__, "prev_hash", "hash")


def _export_record(stored: StoredEntry) -> dict[str, Any]:
    return {**asdict(stored.entry), "prev_hash": stored.prev_hash, "hash": stored.hash}


def export_json(rows: Sequence[StoredEntry]) -> str:
    """The entries as a JSON array, each with every hashed field and its hashes (enough to re-check the chain)."""
    return json.dumps([_export_record(r) for r in rows], ensure_ascii=False, indent=1, default=str)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    # a spreadsheet runs a cell that starts like a formula: labels and user agents come from outside
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def export_csv(rows: Sequence[StoredEntry]) -> str:
    """The entries as CSV with a header row; ``changes`` as JSON. Text that a spreadsheet would read as a formula
    starts with an apostrophe (use the JSON export to re-check hashes)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_FIELDS)
    for stored in rows:
        record = _export_record(stored)
        writer.writerow([_cell(record[name]) for name in EXPORT_FIELDS])
    return out.getvalue()


async def recent(limit: int = 100) -> list[StoredEntry]:
    from storage.models import AuditEntryRow

    rows = await AuditEntryRow.all().order_by("-id").limit(limit)
    return [_stored(r) for r in rows]

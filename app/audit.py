"""The tamper-evident audit trail: each entry's hash covers the previous hash and the entry itself.

``hash = sha256(prev_hash + canonical JSON of the entry)``; the entry includes its sequence number,
so an edited, deleted or reordered entry breaks the chain at a place ``verify`` can name. The chain
head (newest seq and hash) is kept in its own row, so removing the newest entries is caught too.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
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


def verify(entries: Iterable[StoredEntry], head: tuple[int, str] | None = None) -> Break | None:
    """The first place where the chain does not hold, or None when it is intact.

    ``entries`` come in storage order (by row id); ``head`` is the recorded (seq, hash) of the newest entry.
    """
    prev = GENESIS
    expected_seq = 1
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
            return Break((last.entry.seq + 1) if last else 1, f"missing (the chain head records entry {head_seq})")
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


# --- storage side -------------------------------------------------------------------------------------------

# SQLite serialises writers on one connection; PostgreSQL needs an explicit lock so that two concurrent
# transactions cannot both extend the chain from the same head.
_PG_LOCK_KEY = 0x6265_6163  # "beac"


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
        changes=jsonable(changes),
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


async def verify_stored() -> Break | None:
    """Verify the chain as stored in the database."""
    from storage.models import AuditEntryRow, AuditHead

    rows = await AuditEntryRow.all().order_by("id")
    head = await AuditHead.filter(id=1).first()
    if head is None and rows:
        return Break(rows[-1].seq, "the chain head record is missing (entries after it may have been removed)")
    return verify((_stored(r) for r in rows), (head.seq, head.hash) if head else None)


async def recent(limit: int = 100) -> list[StoredEntry]:
    from storage.models import AuditEntryRow

    rows = await AuditEntryRow.all().order_by("-id").limit(limit)
    return [_stored(r) for r in rows]

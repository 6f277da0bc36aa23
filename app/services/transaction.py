"""The one way services write: check the permission, change rows and append the audit entry in one
transaction, publish the events once it has committed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from tortoise.transactions import in_transaction

from app import audit
from app.auth import Actor, allowed, required_role
from app.events import NOTIFIABLE, Event, bus
from app.services.errors import Forbidden


def authorize(actor: Actor, action: str) -> None:
    if not allowed(actor.role, action):
        raise Forbidden(f"This needs the {required_role(action).name} role or higher ({action}); "
                        f"your role is {actor.role.name}.")


@dataclass
class Change:
    conn: Any
    actor: Actor
    events: list[Event] = field(default_factory=list)
    audited: list[int] = field(default_factory=list)  # the seqs of this change's audit entries

    async def audit(self, action: str, entity_type: str, entity_id: Any, changes: dict[str, Any],
                    severity: str = "info") -> None:
        entry = await audit.append(self.conn, actor=self.actor, action=action, entity_type=entity_type,
                                   entity_id=entity_id, changes=changes, severity=severity)
        self.audited.append(entry.seq)

    async def lock(self, name: str) -> None:
        """Serialise with every other transaction taking the same lock until this one ends. SQLite needs
        nothing (one connection, one writer at a time); PostgreSQL takes a transaction advisory lock."""
        if self.conn.capabilities.dialect == "postgres":
            await self.conn.execute_query("SELECT pg_advisory_xact_lock(hashtext($1))", [name])

    def emit(self, name: str, data: dict[str, Any] | None = None, page_ids: set[int] | frozenset[int] = frozenset()
             ) -> None:
        self.events.append(Event(name, data or {}, frozenset(page_ids)))


@asynccontextmanager
async def change(actor: Actor, action: str) -> AsyncIterator[Change]:
    """``async with change(actor, "component.update") as ch:`` — write with ``using_db=ch.conn``."""
    authorize(actor, action)
    async with in_transaction() as conn:
        ch = Change(conn, actor)
        yield ch
        await _to_outbox(ch)
    audit.note_committed(ch.audited)
    for event in ch.events:
        bus.publish(event)


async def _to_outbox(ch: Change) -> None:
    """Record the notifiable events with the change, in its transaction: the notification dispatcher reads them
    from there, so a crash after the commit loses none (ARCHITECTURE.md rule 6)."""
    from storage.models import OutboxEvent

    rows = [OutboxEvent(name=e.name, data=e.data, page_ids=sorted(e.page_ids), at=e.at)
            for e in ch.events if e.name in NOTIFIABLE]
    if rows:
        await OutboxEvent.bulk_create(rows, using_db=ch.conn)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Field-level changes as ``{field: {"old": ..., "new": ...}}``, only for fields that changed."""
    return {k: {"old": before.get(k), "new": v} for k, v in after.items() if before.get(k) != v}

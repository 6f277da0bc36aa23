"""What holds each component's status, and bringing components in line with it.

A component touched by incidents and maintenance shows the worst status anything still holds it at: each open
incident at the status it gave the component, and a maintenance in progress at MAINTENANCE. When the last hold
goes (the incident resolves, the window completes) it returns to OPERATIONAL.

Monitors come second: a failing monitor holds its component (at its down status, or DEGRADED) only while no
incident or maintenance does. What people declared stands over what a check found: an incident posted as
DEGRADED is not overruled by the monitor that sees MAJOR_OUTAGE, and a window in progress shows MAINTENANCE.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from app import events
from app.enums import ComponentStatus, IncidentStatus, MaintenanceState
from app.lifecycle import held_status
from app.services.transaction import Change
from storage.models import Component, IncidentComponent, MaintenanceComponent, Monitor, Placement

# Further sources of holds, each ``(conn, component ids) -> {component id: [statuses]}``, consulted like the
# monitors: only for components no incident or maintenance holds.
HoldSource = Callable[[Any, list[int]], Awaitable[dict[int, list[ComponentStatus]]]]
SOURCES: list[HoldSource] = []


async def holds_of(conn: Any, component_ids: Iterable[int]) -> dict[int, list[ComponentStatus]]:
    ids = sorted(set(component_ids))
    holds: dict[int, list[ComponentStatus]] = {cid: [] for cid in ids}
    if not ids:
        return holds
    for cid, status in await IncidentComponent.filter(
            component_id__in=ids, incident__status__not=IncidentStatus.RESOLVED).using_db(conn).values_list(
            "component_id", "status"):
        holds[cid].append(ComponentStatus(status))
    for cid in await MaintenanceComponent.filter(
            component_id__in=ids, maintenance__state=MaintenanceState.IN_PROGRESS).using_db(conn).values_list(
            "component_id", flat=True):
        holds[cid].append(ComponentStatus.MAINTENANCE)
    free = [cid for cid, held in holds.items() if not held]
    if free:
        for cid, status in await Monitor.filter(component_id__in=free, paused=False, held_status__not_isnull=True
                                                ).using_db(conn).values_list("component_id", "held_status"):
            holds[cid].append(ComponentStatus(status))
        for source in SOURCES:
            for cid, statuses in (await source(conn, free)).items():
                if cid in holds:
                    holds[cid].extend(statuses)
    return holds


async def reconcile(ch: Change, component_ids: Iterable[int], now: datetime | None = None
                    ) -> dict[int, dict[str, str]]:
    """Set each component to the status its holds give it, inside ``ch``'s transaction, publishing
    ``component.status_changed`` for each one that changes. Returns ``{id: {"old": ..., "new": ...}}``."""
    now = now or datetime.now(UTC)
    holds = await holds_of(ch.conn, component_ids)
    changed: dict[int, dict[str, str]] = {}
    rows = await Component.filter(id__in=list(holds)).using_db(ch.conn).values("id", "name", "status")
    for row in rows:
        old, new = ComponentStatus(row["status"]), held_status(holds[row["id"]])
        if old == new:
            continue
        await Component.filter(id=row["id"]).using_db(ch.conn).update(status=new, updated_at=now)
        changed[row["id"]] = {"old": old.value, "new": new.value}
        page_ids = set(await Placement.filter(component_id=row["id"]).using_db(ch.conn).values_list(
            "page_id", flat=True))
        ch.emit(events.COMPONENT_STATUS_CHANGED, {
            "component_id": row["id"], "name": row["name"], "old_status": old.value, "new_status": new.value,
            "updated_at": now.isoformat()}, page_ids)
    return changed


async def pages_showing(conn: Any, component_ids: Iterable[int]) -> set[int]:
    ids = list(set(component_ids))
    if not ids:
        return set()
    return set(await Placement.filter(component_id__in=ids).using_db(conn).values_list("page_id", flat=True))

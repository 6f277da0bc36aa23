"""In-process event bus. Services publish after their transaction commits; subscribers run as their own
tasks, so a slow or failing subscriber never blocks the writer or another subscriber."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)

INCIDENT_CREATED = "incident.created"
INCIDENT_UPDATED = "incident.updated"
INCIDENT_RESOLVED = "incident.resolved"
MAINTENANCE_SCHEDULED = "maintenance.scheduled"
MAINTENANCE_REMINDER = "maintenance.reminder"
MAINTENANCE_STARTED = "maintenance.started"
MAINTENANCE_COMPLETED = "maintenance.completed"
COMPONENT_STATUS_CHANGED = "component.status_changed"
COMPONENT_CREATED = "component.created"
COMPONENT_UPDATED = "component.updated"
COMPONENT_DELETED = "component.deleted"
PAGE_CREATED = "page.created"
PAGE_UPDATED = "page.updated"
PAGE_DELETED = "page.deleted"
GROUP_CHANGED = "group.changed"
USER_CHANGED = "user.changed"


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    # the status pages whose public view this event may change
    page_ids: frozenset[int] = frozenset()
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


Handler = Callable[[Event], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[frozenset[str] | None, Handler]] = []
        self._tasks: set[asyncio.Task] = set()

    def subscribe(self, handler: Handler, names: Iterable[str] | None = None) -> None:
        """Call ``handler`` for every event, or only for the given names."""
        self._subscribers.append((frozenset(names) if names is not None else None, handler))

    def unsubscribe(self, handler: Handler) -> None:
        self._subscribers = [(n, h) for n, h in self._subscribers if h is not handler]

    def publish(self, event: Event) -> None:
        for names, handler in self._subscribers:
            if names is None or event.name in names:
                task = asyncio.get_running_loop().create_task(self._deliver(handler, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _deliver(handler: Handler, event: Event) -> None:
        try:
            await handler(event)
        except Exception:
            log.exception("event.subscriber_failed event=%s handler=%s", event.name, handler.__qualname__)

    async def drain(self) -> None:
        """Wait until every delivery started so far has finished (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def clear(self) -> None:
        self._subscribers.clear()


bus = EventBus()

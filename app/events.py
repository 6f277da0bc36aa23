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
# A backfilled incident or maintenance (times in the past) changes pages but notifies nobody: channels cannot
# subscribe to these names (CONTRACT.md lists the ones they can).
INCIDENT_BACKFILLED = "incident.backfilled"
INCIDENT_DELETED = "incident.deleted"
MAINTENANCE_BACKFILLED = "maintenance.backfilled"
MAINTENANCE_UPDATED = "maintenance.updated"  # an update posted, the window extended, or the text edited
MAINTENANCE_CANCELLED = "maintenance.cancelled"
TEMPLATE_CHANGED = "template.changed"
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
UPTIME_ALERT = "uptime.alert"
REPORT_DAILY, REPORT_WEEKLY, REPORT_MONTHLY = "report.daily", "report.weekly", "report.monthly"
# The names notification channels may subscribe to (CONTRACT.md "Event names"); a committed change's events of
# these names are also written to the outbox in the change's own transaction (app/services/transaction.py).
NOTIFIABLE = frozenset({
    INCIDENT_CREATED, INCIDENT_UPDATED, INCIDENT_RESOLVED, MAINTENANCE_SCHEDULED, MAINTENANCE_REMINDER,
    MAINTENANCE_STARTED, MAINTENANCE_COMPLETED, COMPONENT_STATUS_CHANGED, COMPONENT_CREATED, COMPONENT_DELETED,
    UPTIME_ALERT, REPORT_DAILY, REPORT_WEEKLY, REPORT_MONTHLY,
})
MONITOR_CHANGED = "monitor.changed"  # created, edited, paused, resumed or deleted
MONITOR_STATE_CHANGED = "monitor.state_changed"  # up, degraded, down; flapping started or stopped
METRIC_CHANGED = "metric.changed"  # a custom metric defined, edited or deleted (its points change no snapshot)
UPTIME_UPDATED = "uptime.updated"  # new rollups for components on these pages (at most once a minute)


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    data: dict[str, Any] = field(default_factory=dict)
    # the status pages whose public view this event may change
    page_ids: frozenset[int] = frozenset()
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


Handler = Callable[[Event], Awaitable[None]]


@dataclass(eq=False)
class _Subscription:
    handler: Handler
    names: frozenset[str] | None
    queue: asyncio.Queue[Event] = field(default_factory=asyncio.Queue)
    worker: asyncio.Task | None = None


class EventBus:
    """Each subscriber gets every event in publish order, from its own queue and worker task: publishing
    never waits, a slow subscriber delays only itself, and a failing one loses nothing but its own call."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []

    def subscribe(self, handler: Handler, names: Iterable[str] | None = None) -> None:
        """Call ``handler`` for every event, or only for the given names."""
        self._subscriptions.append(_Subscription(handler, frozenset(names) if names is not None else None))

    def unsubscribe(self, handler: Handler) -> None:
        for sub in [s for s in self._subscriptions if s.handler is handler]:
            self._stop(sub)
            self._subscriptions.remove(sub)

    def publish(self, event: Event) -> None:
        for sub in self._subscriptions:
            if sub.names is None or event.name in sub.names:
                sub.queue.put_nowait(event)
                if sub.worker is None or sub.worker.done():
                    sub.worker = asyncio.get_running_loop().create_task(self._work(sub))

    @staticmethod
    async def _work(sub: _Subscription) -> None:
        while True:
            event = await sub.queue.get()
            try:
                await sub.handler(event)
            except Exception:
                log.exception("event.subscriber_failed event=%s handler=%s", event.name, sub.handler.__qualname__)
            finally:
                sub.queue.task_done()

    async def drain(self) -> None:
        """Wait until every event published so far has been handled (tests and shutdown)."""
        for sub in list(self._subscriptions):
            if sub.worker is not None and not sub.worker.done():
                await sub.queue.join()

    @staticmethod
    def _stop(sub: _Subscription) -> None:
        if sub.worker is not None:
            sub.worker.cancel()

    def clear(self) -> None:
        for sub in self._subscriptions:
            self._stop(sub)
        self._subscriptions.clear()


bus = EventBus()

"""Starts, completes and reminds maintenance windows on time, with an injectable clock.

One task sleeps until the next moment a window has something to do (or a change to the schedule wakes it) and
then does everything due. On start-up the first pass catches up with what passed while the server was down.
Each transition re-checks the row under a lock in its own transaction, so a second process doing the same is
harmless.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from app import events
from app.lifecycle import Due, due, next_due_at
from app.services import maintenance

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Wake at least this often: a clock adjusted, or a write by another process the events did not tell us about.
MAX_SLEEP_SECONDS = 30.0
# Events after which the schedule may have changed.
SCHEDULE_EVENTS = (events.MAINTENANCE_SCHEDULED, events.MAINTENANCE_UPDATED, events.MAINTENANCE_CANCELLED,
                   events.MAINTENANCE_STARTED, events.MAINTENANCE_COMPLETED, events.MAINTENANCE_BACKFILLED)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class MaintenanceTimer:
    def __init__(self, clock: Clock = _utc_now) -> None:
        self.clock = clock
        self._task: asyncio.Task | None = None
        self._wake = asyncio.Event()

    async def tick(self) -> list[tuple[int, Due]]:
        """Do everything due now; returns what was done, as (maintenance id, action)."""
        now = self.clock()
        done: list[tuple[int, Due]] = []
        for window in sorted(await maintenance.windows(), key=lambda w: (w.scheduled_for, w.id)):
            action = due(window, now)
            if action is None:
                continue
            try:
                acted = await {Due.START: maintenance.start_due, Due.COMPLETE: maintenance.complete_due,
                               Due.REMIND: maintenance.remind_due}[action](window.id, now)
            except Exception:  # one broken window must not stop the others
                log.exception("maintenance_timer.failed maintenance=%s action=%s", window.id, action)
                continue
            if acted:
                done.append((window.id, action))
                log.info("maintenance_timer.%s maintenance=%s", action.value, window.id)
        return done

    async def seconds_to_next(self) -> float:
        now = self.clock()
        moment = next_due_at(await maintenance.windows(), now)
        if moment is None:
            return MAX_SLEEP_SECONDS
        return max(0.0, min((moment - now).total_seconds(), MAX_SLEEP_SECONDS))

    def wake(self) -> None:
        self._wake.set()

    async def _on_event(self, _: events.Event) -> None:
        self.wake()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
                delay = await self.seconds_to_next()
            except Exception:  # the database may be briefly away; try again shortly
                log.exception("maintenance_timer.tick_failed")
                delay = MAX_SLEEP_SECONDS
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass

    def start(self) -> None:
        self.stop()
        events.bus.subscribe(self._on_event, SCHEDULE_EVENTS)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        events.bus.unsubscribe(self._on_event)


timer = MaintenanceTimer()

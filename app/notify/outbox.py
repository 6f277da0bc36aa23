"""Durable delivery: outbox events → deliveries → channels, with retries.

- **Dispatch.** Notifiable events are written to ``outbox_events`` in the transaction of the change that caused
  them (``app/services/transaction.py``). The dispatcher turns each into one delivery per channel (and page) that
  wants it, with the payload built from the page's snapshot, and marks the event dispatched — both in one
  transaction; the delivery's idempotency key makes a second dispatch after a crash a no-op.
- **Delivery.** The worker sends each due delivery with a timeout. A failure is retried after an exponential
  backoff with jitter; after ``MAX_ATTEMPTS`` the delivery is *dead* (listed for a person to retry). Each channel
  has one delivery in flight at a time, in order, so a slow or dead channel delays no other.
- **Restarts.** Nothing is lost: undispatched events and unsent deliveries are picked up again. A delivery is
  marked sent only once the channel confirmed it; one sent but not yet marked when the process died is sent
  again (at least once), with the same ``X-Beacon-Delivery`` id so receivers can tell.

Loops end on a signal, never by cancellation: a task cancelled while tortoise opens a SQLite transaction leaves
the connection locked (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from app import events
from app.events import Event, bus
from app.notify import channels, payloads
from storage.models import Channel, Delivery, OutboxEvent

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 3600.0
POLL_SECONDS = 1.0
# an event the page's snapshot does not show yet is tried again for this long, then delivered without that page
SNAPSHOT_WAIT_SECONDS = 30.0
# dispatched events are kept a week, sent deliveries a month (failed and dead ones until a person acts)
EVENT_DAYS, SENT_DAYS = 7, 30
PRUNE_EVERY_SECONDS = 3600.0


def backoff(attempts: int, rng: random.Random | None = None, base: float = BASE_DELAY_SECONDS) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling from ``base``, at most an hour, with
    jitter (a half to the whole of it) so that many failed deliveries do not all come back at once."""
    delay = min(MAX_DELAY_SECONDS, base * 2 ** max(attempts - 1, 0))
    return delay * (rng or random).uniform(0.5, 1.0)


def _pages(row: OutboxEvent, channel: Channel) -> list[int]:
    data = row.data or {}
    pages = [data["page_id"]] if isinstance(data.get("page_id"), int) else list(row.page_ids or [])
    wanted = set(channel.page_ids or [])
    return [p for p in pages if not wanted or p in wanted]


def build_payload(channel: Channel, event: Event, snapshot: Any, now: datetime) -> dict[str, Any] | None:
    config = channel.config or {}
    if channel.kind in ("email", "apprise"):
        parts = payloads.email_parts(event, snapshot, unsubscribe_url=None, now=now)
        return None if parts is None else dict(zip(("subject", "text", "html"), parts, strict=True))
    if channel.kind == "discord":
        return payloads.discord_payload(event, snapshot, username=config.get("username") or None,
                                        avatar_url=config.get("avatar_url") or None, now=now)
    return payloads.webhook_payload(event, snapshot, unsubscribe_url=None,
                                    documentation_url=f"{snapshot.url.rstrip('/')}/api/v2/summary.json", now=now)


class Outbox:
    def __init__(self) -> None:
        self.running = False
        self.base_delay = BASE_DELAY_SECONDS
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task | None = None
        self._sending: dict[int, asyncio.Task] = {}  # channel id → its delivery in flight

    # -- life cycle ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self.running:
            return
        self.running = True
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        bus.subscribe(self._on_event, list(events.NOTIFIABLE))
        self._loop = asyncio.get_running_loop().create_task(self._run(), name="outbox")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking work and let the deliveries in flight finish (a send is bounded by its own timeout)."""
        if not self.running:
            return
        self.running = False
        self._stopping.set()
        self._wake.set()
        if self._loop is not None:
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None
        if self._sending:
            await asyncio.wait(list(self._sending.values()), timeout=grace)

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    async def _on_event(self, _: Event) -> None:
        self.wake()

    async def _run(self) -> None:
        pruned = 0.0
        while not self._stopping.is_set():
            try:
                await self.dispatch()
                await self.deliver_due()
                if asyncio.get_running_loop().time() - pruned > PRUNE_EVERY_SECONDS:
                    await self.prune()
                    pruned = asyncio.get_running_loop().time()
            except Exception:
                log.exception("outbox.loop_failed")
            self._wake.clear()
            try:
                async with asyncio.timeout(POLL_SECONDS):
                    await self._wake.wait()
            except TimeoutError:
                pass

    # -- dispatch ------------------------------------------------------------------------------------------------

    async def dispatch(self, now: datetime | None = None) -> int:
        """Turn undispatched outbox events into deliveries; returns how many events were dispatched."""
        from app.snapshot import store

        rows = await OutboxEvent.filter(dispatched_at=None).order_by("id").limit(100)
        if not rows:
            return 0
        await store.settle()  # the pages' snapshots should show what the events are about
        wanting = await Channel.filter(enabled=True)
        done = 0
        for row in rows:
            now_ = now or datetime.now(UTC)
            event = Event(row.name, row.data or {}, frozenset(row.page_ids or []), row.at)
            deliveries, waiting = [], False
            for channel in wanting:
                if row.name not in (channel.events or []):
                    continue
                for page_id in _pages(row, channel):
                    snapshot = store.get(page_id)
                    if snapshot is None:
                        continue
                    try:
                        payload = build_payload(channel, event, snapshot, now_)
                    except payloads.NotShown:
                        if (now_ - row.at).total_seconds() < SNAPSHOT_WAIT_SECONDS:
                            waiting = True
                            break
                        log.warning("outbox.not_shown event=%s page=%s", row.id, page_id)
                        continue
                    except payloads.Unsupported:
                        continue
                    if payload is not None:
                        deliveries.append(Delivery(
                            channel_id=channel.id, event=row.name, page_id=page_id, payload=payload,
                            next_attempt_at=now_, idempotency_key=f"{row.id}:{channel.id}:{page_id}"))
                if waiting:
                    break
            if waiting:
                break  # in order: later events wait for this one
            async with in_transaction() as conn:
                if deliveries:
                    await Delivery.bulk_create(deliveries, ignore_conflicts=True, using_db=conn)
                await OutboxEvent.filter(id=row.id).using_db(conn).update(dispatched_at=now_)
            done += 1
        return done

    # -- delivery ------------------------------------------------------------------------------------------------

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Start the next due delivery of each channel that has none in flight; returns how many started."""
        now = now or datetime.now(UTC)
        due = await Delivery.filter(status__in=["pending", "failed"], next_attempt_at__lte=now).order_by(
            "next_attempt_at", "id").limit(500)
        started = 0
        for delivery in due:
            cid = delivery.channel_id  # type: ignore[attr-defined]
            if cid in self._sending:
                continue
            task = asyncio.get_running_loop().create_task(self._send(delivery), name=f"delivery-{delivery.id}")
            self._sending[cid] = task
            task.add_done_callback(lambda _, cid=cid: (self._sending.pop(cid, None), self._wake.set()))
            started += 1
        return started

    async def _send(self, delivery: Delivery) -> None:
        channel = await Channel.get_or_none(id=delivery.channel_id)  # type: ignore[attr-defined]
        error = ""
        if channel is None or not channel.enabled:
            error = "The channel was deleted or turned off."
        else:
            try:
                await channels.send(channel.kind, channel.config or {}, delivery.event, delivery.payload,
                                    delivery.id)
            except channels.DeliveryError as exc:
                error = str(exc)
            except Exception as exc:  # a bug in a channel must not stop the worker
                log.exception("outbox.send_crashed delivery=%s", delivery.id)
                error = f"Internal error: {type(exc).__name__}"
        await asyncio.shield(self._record(delivery, error))

    async def _record(self, delivery: Delivery, error: str) -> None:
        now = datetime.now(UTC)
        attempts = delivery.attempts + 1
        if not error:
            await Delivery.filter(id=delivery.id).update(status="sent", attempts=attempts, sent_at=now,
                                                         last_error="")
            return
        dead = attempts >= MAX_ATTEMPTS
        await Delivery.filter(id=delivery.id).update(
            status="dead" if dead else "failed", attempts=attempts, last_error=error[:1000],
            next_attempt_at=now + timedelta(seconds=0 if dead else backoff(attempts, base=self.base_delay)))
        log.warning("outbox.delivery_failed delivery=%s attempts=%s dead=%s error=%s", delivery.id, attempts, dead,
                    error)

    async def prune(self, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        await OutboxEvent.filter(dispatched_at__lt=now - timedelta(days=EVENT_DAYS)).delete()
        await Delivery.filter(status="sent", sent_at__lt=now - timedelta(days=SENT_DAYS)).delete()

    async def settle(self) -> None:
        """Wait for the deliveries in flight (tests)."""
        while self._sending:
            await asyncio.gather(*list(self._sending.values()), return_exceptions=True)


outbox = Outbox()

"""Durable delivery: outbox events → deliveries → channels, with retries.

- **Dispatch.** Notifiable events are written to ``outbox_events`` in the transaction of the change that caused
  them (``app/services/transaction.py``). The dispatcher turns each into one delivery per channel (and page) that
  wants it, with the payload built from the page's snapshot, and marks the event dispatched — both in one
  transaction; the delivery's idempotency key makes a second dispatch after a crash a no-op.
- **Delivery.** The worker sends each due delivery with a timeout. A failure is retried after an exponential
  backoff with jitter; after ``MAX_ATTEMPTS`` the delivery is *dead* (listed for a person to retry). Each channel
  has one delivery in flight at a time, in order, so a slow or dead channel delays no other.
- **One sender.** With several processes on one PostgreSQL database, only the one holding the outbox's advisory
  lock dispatches and delivers (storage/leader.py); the others wait to take over.
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
from app.notify import alerts, channels, digest, payloads
from storage.leader import Leadership
from storage.models import Channel, Delivery, OutboxEvent, Subscriber

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 5.0
MAX_DELAY_SECONDS = 3600.0
POLL_SECONDS = 1.0
# an event the page's snapshot does not show yet is tried again for this long, then delivered without that page
SNAPSHOT_WAIT_SECONDS = 30.0
# dispatched events are kept a week; sent deliveries as long as the retention setting says (default a month;
# app/services/retention.py); failed and dead ones until a person acts
EVENT_DAYS = 7
PRUNE_EVERY_SECONDS = 3600.0
LEADER_POLL_SECONDS = 5.0  # how soon a standby process notices that the delivering one stopped


def backoff(attempts: int, rng: random.Random | None = None, base: float = BASE_DELAY_SECONDS) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubling from ``base``, at most an hour, with
    jitter (a half to the whole of it) so that many failed deliveries do not all come back at once."""
    delay = min(MAX_DELAY_SECONDS, base * 2 ** max(attempts - 1, 0))
    return delay * (rng or random).uniform(0.5, 1.0)


def _pages(row: OutboxEvent, channel: Channel | None) -> list[int]:
    data = row.data or {}
    pages = [data["page_id"]] if isinstance(data.get("page_id"), int) else list(row.page_ids or [])
    wanted = set(channel.page_ids or []) if channel is not None else set()
    return [p for p in pages if not wanted or p in wanted]


# what public subscribers hear about: incidents and maintenance (component changes and alerts are for the team)
SUBSCRIBER_EVENTS = frozenset({
    events.INCIDENT_CREATED, events.INCIDENT_UPDATED, events.INCIDENT_RESOLVED, events.MAINTENANCE_SCHEDULED,
    events.MAINTENANCE_REMINDER, events.MAINTENANCE_STARTED, events.MAINTENANCE_COMPLETED,
})
MAX_IN_FLIGHT = 16  # deliveries sent at once, over all channels and subscribers
# a component's status changes reach a channel at most once per this many minutes unless the channel says
# otherwise; changes in between are folded into the one waiting (the newest status wins)
FLAP_MINUTES = 5
_PLACEHOLDER = "https://beacon.invalid/unsubscribe-placeholder"


def _wants_components(wanted: list[int] | None, touched: tuple[int, ...]) -> bool:
    """A filter of components lets through news about them, and news about the page as a whole."""
    return not wanted or not touched or bool(set(wanted) & set(touched))


def _fill(value: Any, link: str) -> Any:
    if isinstance(value, str):
        return value.replace(_PLACEHOLDER, link)
    if isinstance(value, dict):
        return {k: _fill(v, link) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, link) for v in value]
    return value


def subscriber_payloads(event: Event, snapshot: Any, now: datetime) -> dict[str, dict[str, Any] | None]:
    """The payload for each kind of subscriber, with a placeholder where each one's unsubscribe link goes."""
    parts = payloads.email_parts(event, snapshot, unsubscribe_url=_PLACEHOLDER, now=now)
    return {
        "email": None if parts is None else {**dict(zip(("subject", "text", "html"), parts, strict=True)),
                                             "unsubscribe": _PLACEHOLDER},
        "webhook": payloads.webhook_payload(event, snapshot, unsubscribe_url=_PLACEHOLDER,
                                            documentation_url=f"{snapshot.url.rstrip('/')}/api/v2/summary.json",
                                            now=now),
        "push": payloads.push_payload(event, snapshot, now=now),
    }


def _same_rule(channel: Channel, row: OutboxEvent) -> bool:
    """An uptime alert goes to the channels whose own (window, threshold) it was measured against."""
    data = row.data or {}
    try:
        return alerts.rule_of(channel.options) == (data.get("window"), float(data.get("threshold", -1)))
    except (TypeError, ValueError):
        return False


def _subject_key(row: OutboxEvent) -> str:
    data = row.data or {}
    for kind in ("incident", "maintenance", "component"):
        if isinstance(data.get(f"{kind}_id"), int):
            return f"{kind}:{data[f'{kind}_id']}"
    return ""


def build_payload(channel: Channel, event: Event, snapshot: Any, now: datetime) -> dict[str, Any] | None:
    config = channel.config or {}
    if event.name in digest.SUPPORTED:  # uptime alerts and reports: about no incident, carried in the event
        if channel.kind in ("email", "apprise"):
            return dict(zip(("subject", "text", "html"), digest.email_parts(event, snapshot, now=now), strict=True))
        if channel.kind == "discord":
            return digest.discord_payload(event, snapshot, username=config.get("username") or None,
                                          avatar_url=config.get("avatar_url") or None, now=now)
        return digest.webhook_payload(event, snapshot, now=now)
    if channel.kind in ("email", "apprise"):
        parts = payloads.email_parts(event, snapshot, unsubscribe_url=None, now=now)
        return None if parts is None else dict(zip(("subject", "text", "html"), parts, strict=True))
    if channel.kind == "discord":
        return payloads.discord_payload(event, snapshot, username=config.get("username") or None,
                                        avatar_url=config.get("avatar_url") or None, now=now)
    return payloads.webhook_payload(event, snapshot, unsubscribe_url=None,
                                    documentation_url=f"{snapshot.url.rstrip('/')}/api/v2/summary.json", now=now)


def _target(delivery: Delivery) -> str:
    """Deliveries to one target go one at a time, in order; different targets do not wait for each other."""
    if delivery.subscriber_id is not None:  # type: ignore[attr-defined]
        return f"s{delivery.subscriber_id}"  # type: ignore[attr-defined]
    return f"c{delivery.channel_id}"  # type: ignore[attr-defined]


class Outbox:
    def __init__(self) -> None:
        self.running = False
        self.base_delay = BASE_DELAY_SECONDS
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._loop: asyncio.Task | None = None
        self._leader = Leadership("outbox")
        self._sending: dict[str, asyncio.Task] = {}  # target (_target) → its delivery in flight

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
                if not await self._leader.acquire():
                    # another process delivers; look again now and then, to take over if it stops
                    await self._pause(LEADER_POLL_SECONDS, self._stopping)
                    continue
                await self.dispatch()
                await self.deliver_due()
                if asyncio.get_running_loop().time() - pruned > PRUNE_EVERY_SECONDS:
                    await self.prune()
                    pruned = asyncio.get_running_loop().time()
            except Exception:
                log.exception("outbox.loop_failed")
            self._wake.clear()
            await self._pause(POLL_SECONDS, self._wake)
        await self._leader.release()

    @staticmethod
    async def _pause(seconds: float, until: asyncio.Event) -> None:
        try:
            async with asyncio.timeout(seconds):
                await until.wait()
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
            try:
                deliveries, folded = await self._deliveries(row, event, wanting, now_)
            except payloads.NotShown:
                break  # in order: later events wait for this one
            async with in_transaction() as conn:
                if deliveries:
                    await Delivery.bulk_create(deliveries, ignore_conflicts=True, using_db=conn, batch_size=500)
                for delivery_id, payload in folded:
                    await Delivery.filter(id=delivery_id, status="pending", attempts=0).using_db(conn).update(
                        payload=payload)
                await OutboxEvent.filter(id=row.id).using_db(conn).update(dispatched_at=now_)
            done += 1
        return done

    async def _deliveries(self, row: OutboxEvent, event: Event, wanting: list[Channel], now: datetime
                          ) -> tuple[list[Delivery], list[tuple[int, dict[str, Any]]]]:
        """The deliveries of one event, and (delivery id, newer payload) for status changes folded into one that
        waits. Raises NotShown while a page's snapshot does not show the event yet (for a little while)."""
        from app.services import subscribers
        from app.snapshot import store

        subject = _subject_key(row)
        deliveries: list[Delivery] = []
        folded: list[tuple[int, dict[str, Any]]] = []

        def shown(page_id: int, build: Any) -> Any:
            snapshot = store.get(page_id)
            if snapshot is None:
                return None
            try:
                return build(snapshot)
            except payloads.NotShown:
                if (now - row.at).total_seconds() < SNAPSHOT_WAIT_SECONDS:
                    raise
                log.warning("outbox.not_shown event=%s page=%s", row.id, page_id)
            except payloads.Unsupported:
                pass
            return None

        touching = digest.touched_components if row.name in digest.SUPPORTED else payloads.touched_components
        for channel in wanting:
            if row.name not in (channel.events or []):
                continue
            if row.name == events.UPTIME_ALERT and not _same_rule(channel, row):
                continue
            sent_for = 0
            for page_id in _pages(row, channel):
                if row.name == events.UPTIME_ALERT and sent_for:
                    break  # a component on several pages breaches once: one alert per channel
                touched = shown(page_id, lambda s: touching(event, s))
                if touched is None or not _wants_components(channel.component_ids, touched):
                    continue
                payload = shown(page_id, lambda s, channel=channel: build_payload(channel, event, s, now))
                if payload is None:
                    continue
                due = now
                if row.name == events.COMPONENT_STATUS_CHANGED:
                    due, waiting = await self._flap_window(channel, subject, page_id, now)
                    if waiting is not None:
                        folded.append((waiting, payload))
                        continue
                deliveries.append(Delivery(
                    channel_id=channel.id, event=row.name, page_id=page_id, subject=subject, payload=payload,
                    next_attempt_at=due, idempotency_key=f"{row.id}:{channel.id}:{page_id}"))
                sent_for += 1
        if row.name not in SUBSCRIBER_EVENTS:
            return deliveries, folded
        for page_id in _pages(row, None):
            built = shown(page_id, lambda s: (s, payloads.touched_components(event, s),
                                              subscriber_payloads(event, s, now)))
            if built is None:
                continue
            snapshot, touched, by_kind = built
            for sub in await subscribers.recipients(page_id, touched, private=not snapshot.page.public):
                payload = by_kind.get(sub.kind)
                if payload is None:
                    continue
                if sub.kind != "push":
                    payload = _fill(payload, subscribers.links(sub, snapshot.page.slug).unsubscribe)
                deliveries.append(Delivery(
                    subscriber_id=sub.id, event=row.name, page_id=page_id, subject=subject, payload=payload,
                    next_attempt_at=now, idempotency_key=f"{row.id}:s{sub.id}:{page_id}"))
        return deliveries, folded

    @staticmethod
    async def _flap_window(channel: Channel, subject: str, page_id: int, now: datetime
                           ) -> tuple[datetime, int | None]:
        """When a component status change may go to the channel, and the id of a not-yet-sent one to fold it
        into instead (None: make a new delivery)."""
        minutes = (channel.options or {}).get("flap_minutes", FLAP_MINUTES)
        if not minutes:
            return now, None
        last = await Delivery.filter(channel_id=channel.id, event=events.COMPONENT_STATUS_CHANGED, subject=subject,
                                     page_id=page_id).order_by("-id").first()
        if last is None:
            return now, None
        if last.status == "pending" and last.attempts == 0 and last.next_attempt_at > now:
            return last.next_attempt_at, last.id
        due = (last.sent_at or last.next_attempt_at) + timedelta(minutes=minutes)
        return max(now, due), None

    # -- delivery ------------------------------------------------------------------------------------------------

    async def deliver_due(self, now: datetime | None = None) -> int:
        """Start the next due delivery of each channel that has none in flight; returns how many started."""
        now = now or datetime.now(UTC)
        due = await Delivery.filter(status__in=["pending", "failed"], next_attempt_at__lte=now).order_by(
            "next_attempt_at", "id").limit(500)
        started = 0
        for delivery in due:
            if len(self._sending) >= MAX_IN_FLIGHT:
                break
            target = _target(delivery)
            if target in self._sending:
                continue
            task = asyncio.get_running_loop().create_task(self._send(delivery), name=f"delivery-{delivery.id}")
            self._sending[target] = task
            task.add_done_callback(lambda _, target=target: (self._sending.pop(target, None), self._wake.set()))
            started += 1
        return started

    async def _send(self, delivery: Delivery) -> None:
        error = ""
        try:
            if delivery.subscriber_id is not None:  # type: ignore[attr-defined]
                error = await self._send_to_subscriber(delivery)
            else:
                channel = await Channel.get_or_none(id=delivery.channel_id)  # type: ignore[attr-defined]
                if channel is None or not channel.enabled:
                    error = "The channel was deleted or turned off."
                else:
                    await channels.send(channel.kind, channel.config or {}, delivery.event, delivery.payload,
                                        delivery.id)
        except channels.DeliveryError as exc:
            error = str(exc) or type(exc).__name__
        except Exception as exc:  # a bug in a channel must not stop the worker
            log.exception("outbox.send_crashed delivery=%s", delivery.id)
            error = f"Internal error: {type(exc).__name__}"
        await asyncio.shield(self._record(delivery, error))

    async def _send_to_subscriber(self, delivery: Delivery) -> str:
        """Send to an e-mail, webhook or browser subscriber; returns an error for the deliveries list, or ""."""
        from app.notify import webpush
        from app.services import subscribers

        sub = await Subscriber.get_or_none(id=delivery.subscriber_id)  # type: ignore[attr-defined]
        if sub is None:
            return "The subscriber unsubscribed."
        if sub.kind == "email":
            mail = await subscribers.mail_settings()
            if mail is None:
                return "No mail server is set for subscriber mail (Notifications → Subscriber mail)."
            await channels.send("email", {**mail, "to": [sub.address]}, delivery.event, delivery.payload,
                                delivery.id)
        elif sub.kind == "webhook":  # its address was checked when it subscribed (app/services/subscribers.py)
            await channels.send("webhook", {"url": sub.address}, delivery.event, delivery.payload, delivery.id)
        else:
            try:
                await webpush.send({"endpoint": sub.address, "keys": sub.push_keys or {}}, delivery.payload,
                                   vapid=subscribers.vapid(), subject=subscribers.vapid_subject())
            except webpush.SubscriptionGone:
                await Subscriber.filter(id=sub.id).delete()  # the browser unsubscribed: forget it
                log.info("outbox.push_gone subscriber=%s", sub.id)
        return ""

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
        from app.services import retention, subscribers

        sent_days = (await retention.current()).delivery_days  # the owner may change it in the UI
        await Delivery.filter(status="sent", sent_at__lt=now - timedelta(days=sent_days)).delete()

        await subscribers.prune_unconfirmed(now)

    async def settle(self) -> None:
        """Wait for the deliveries in flight (tests)."""
        while self._sending:
            await asyncio.gather(*list(self._sending.values()), return_exceptions=True)


outbox = Outbox()

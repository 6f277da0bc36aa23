"""Public subscribers: people who get a page's news by e-mail (double opt-in), at a webhook URL, or in their
browser (Web Push); and how administrators see, export and remove them.

- **Never telling who is subscribed.** The public form answers the same whatever the address: a new address gets
  a confirmation mail, an unconfirmed one gets it again (at most once per ``RESEND_MINUTES``), a confirmed one a
  note with a link to its subscription. Only the mailbox's owner learns which case it was.
- **Links** are derived from the install's secret and the subscriber's nonce (app/notify/tokens.py); nothing to
  leak in the table. Confirmation links expire after ``tokens.CONFIRM_HOURS``; unconfirmed rows are pruned then.
- **Private pages** take subscriptions only from signed-in users with access (their account's address, no
  confirmation needed); their deliveries stop when the user loses access (app/notify/outbox.py checks).
- Subscribing is not an administrative act and is not audited; removing a subscriber from the admin is.
"""

from __future__ import annotations

import asyncio
import csv
import io
import ipaddress
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from app import config
from app.auth import Actor, scope
from app.notify import channels as kinds
from app.notify import subscriber_mail, tokens
from app.services.errors import Invalid, NotFound
from app.services.transaction import authorize, change
from app.services.validation import keep_masked_secrets, mask_secrets
from storage.models import Component, Delivery, InstallSetting, Placement, StatusPage, Subscriber, User

KINDS = ("email", "webhook", "push")
MAIL_SETTING = "subscriber_mail"
MAIL_SECRETS = ("password",)
RESEND_MINUTES = 10
_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


# --- the mail server subscriber mail goes through ----------------------------------------------------------------

async def mail_settings() -> dict[str, Any] | None:
    """The SMTP settings for subscriber mail (host, port, security, username, password, from_address, verify_tls),
    or None when none are set: then the public form offers no e-mail subscription."""
    row = await InstallSetting.filter(key=MAIL_SETTING).first()
    return dict(row.value) if row is not None and row.value else None


async def public_mail_settings(actor: Actor) -> dict[str, Any] | None:
    authorize(actor, "subscriber.manage")
    values = await mail_settings()
    return None if values is None else mask_secrets(values, MAIL_SECRETS)


async def set_mail_settings(actor: Actor, values: dict[str, Any] | None) -> None:
    """Set (or, with None, remove) the SMTP server for subscriber mail. A password sent back masked keeps the
    stored one."""
    async with change(actor, "subscriber.manage") as ch:
        await ch.lock(f"setting:{MAIL_SETTING}")
        row = await InstallSetting.filter(key=MAIL_SETTING).using_db(ch.conn).first()
        old = dict(row.value) if row is not None and row.value else None
        new = None
        if values is not None:
            new = keep_masked_secrets(dict(values), old, MAIL_SECRETS)
            # the recipients are the subscribers; validate the rest like an e-mail channel's settings
            if errors := kinds.validate("email", {**new, "to": [new.get("from_address")]}):
                raise Invalid(errors)
            new.pop("to", None)
        if row is None:
            await InstallSetting.create(using_db=ch.conn, key=MAIL_SETTING, value=new)
        else:
            await InstallSetting.filter(key=MAIL_SETTING).using_db(ch.conn).update(value=new)
        masked = {k: mask_secrets(v, MAIL_SECRETS) if v else None for k, v in (("old", old), ("new", new))}
        await ch.audit("settings.update", "setting", MAIL_SETTING, {MAIL_SETTING: masked})


# --- checking what the public submits ------------------------------------------------------------------------------

def email_problem(address: str) -> str | None:
    if not _EMAIL.match(address) or len(address) > 254:
        return "Enter an e-mail address such as you@example.com."
    return None


def _private(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%", 1)[0])
    return not address.is_global or address.is_multicast


async def webhook_problem(url: str, *, allow_private: bool) -> str | None:
    """Why the URL cannot receive webhooks: not http(s), too long, or (unless allowed) on a private network,
    which an anonymous visitor must not make the server call."""
    if len(url) > 1000:
        return "The address is too long (at most 1000 characters)."
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        return "Enter an http:// or https:// address."
    if allow_private:
        return None
    try:
        async with asyncio.timeout(5):
            infos = await asyncio.get_running_loop().getaddrinfo(host, port)
    except (OSError, TimeoutError):
        return f"The host name {host} could not be resolved."
    if any(_private(str(info[4][0])) for info in infos):
        return "The address is on a private network; use one reachable from the internet."
    return None


async def _component_choice(page_id: int, component_ids: Iterable[Any]) -> list[int]:
    wanted = []
    for value in component_ids or []:
        try:
            wanted.append(int(value))
        except (TypeError, ValueError):
            raise Invalid({"components": f"'{value}' is not a component of this page."}) from None
    if not wanted:
        return []
    shown = set(await Placement.filter(page_id=page_id, component_id__in=wanted).values_list("component_id",
                                                                                         flat=True))
    if missing := [c for c in wanted if c not in shown]:
        raise Invalid({"components": f"Component {missing[0]} is not on this page."})
    return sorted(set(wanted))


# --- links -------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Links:
    manage: str
    unsubscribe: str


_vapid_cache: dict[str, Any] = {}


def vapid() -> Any:
    """The install's Web Push keys (generated into the data folder on first use, app/notify/webpush.py)."""
    from app.notify import webpush

    folder = config.current().data_dir.resolve()
    key = str(folder)
    if key not in _vapid_cache:
        _vapid_cache[key] = webpush.load_or_create_vapid(folder)
    return _vapid_cache[key]


def vapid_subject() -> str:
    """Who push services may contact about our pushes (RFC 8292): the install's address, as https:// or mailto:.
    py_vapid refuses an http:// subject, which a test or an intranet install has; then its host as mailto:."""
    base = config.current().effective_base_url
    if base.startswith("https://"):
        return base + "/"
    return f"mailto:beacon@{urlsplit(base).hostname or 'localhost'}"


def links(subscriber: Subscriber, slug: str) -> Links:
    settings = config.current()
    token = tokens.manage_token(settings.secret, subscriber.id, subscriber.nonce)
    base = f"{settings.effective_base_url}/status/{slug}"
    return Links(f"{base}/subscription/{token}", f"{base}/unsubscribe/{token}")


def confirm_link(subscriber: Subscriber, slug: str, now: datetime) -> str:
    settings = config.current()
    token = tokens.confirm_token(settings.secret, subscriber.id, subscriber.nonce, now)
    return f"{settings.effective_base_url}/status/{slug}/confirm/{token}"


async def _by_token(token: str, *, confirm: bool, now: datetime | None = None) -> Subscriber | None:
    claim = tokens.read(token)
    if claim is None or (claim.expires is not None) != confirm:
        return None
    subscriber = await Subscriber.get_or_none(id=claim.subscriber_id).prefetch_related("page")
    now = now or datetime.now(UTC)
    if subscriber is None or not tokens.valid(config.current().secret, claim, subscriber.nonce, now):
        return None
    return subscriber


# --- the public side ---------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Subscribed:
    """What the public form may show: never whether the address was known before."""

    kind: str
    manage_url: str | None = None  # webhook and push subscribers: the only place they get their link


def _new_nonce() -> str:
    return secrets.token_urlsafe(12)


async def _mail(subscriber: Subscriber, event: str, payload: dict[str, Any], now: datetime, conn: Any) -> None:
    await Delivery.create(using_db=conn, subscriber_id=subscriber.id, event=event, page_id=subscriber.page_id,  # type: ignore[attr-defined]
                          payload=payload, next_attempt_at=now,
                          idempotency_key=f"{event}:{subscriber.id}:{secrets.token_hex(8)}")


async def subscribe(page: StatusPage, *, kind: str, address: str, component_ids: Iterable[Any] = (),
                    push_keys: dict[str, str] | None = None, user: User | None = None, vouched: bool = False,
                    now: datetime | None = None, conn: Any = None) -> Subscribed:
    """Subscribe ``address`` to the page's news. E-mail needs confirming, unless ``user`` (a signed-in user with
    access) subscribes their own address or an administrator ``vouched`` for it; webhooks and browsers start at
    once. ``conn``: write inside this transaction (an administrator's, with its audit entry)."""
    now = now or datetime.now(UTC)
    trusted = user is not None or vouched
    kind = str(kind or "").strip()
    address = str(address or "").strip()
    if kind not in KINDS:
        raise Invalid({"kind": "Choose e-mail, webhook or browser notifications."})
    if kind == "email":
        address = address.lower()
        if problem := email_problem(address):
            raise Invalid({"email": problem})
        if not trusted and await mail_settings() is None:
            raise Invalid({"email": "This page does not send e-mail yet."})
    elif kind == "webhook":  # an administrator may name an address inside the network; the public may not
        allowed = vouched or config.current().subscriber_private_urls
        if problem := await webhook_problem(address, allow_private=allowed):
            raise Invalid({"url": problem})
    if len(address) > 1000:
        raise Invalid({"url" if kind == "webhook" else "address": "The address is too long (at most 1000 "
                                                                   "characters)."})
    components = await _component_choice(page.id, component_ids)
    if conn is None:
        async with in_transaction() as own:
            return await _subscribe(own, page, kind, address, components, push_keys, user, trusted, now)
    return await _subscribe(conn, page, kind, address, components, push_keys, user, trusted, now)


async def _subscribe(conn: Any, page: StatusPage, kind: str, address: str, components: list[int],
                     push_keys: dict[str, str] | None, user: User | None, trusted: bool, now: datetime
                     ) -> Subscribed:
    confirmed = kind != "email" or trusted
    existing = await Subscriber.filter(page_id=page.id, kind=kind, address=address).using_db(conn) \
        .select_for_update().first()
    if existing is None:
        try:
            subscriber = await Subscriber.create(
                using_db=conn, page_id=page.id, kind=kind, address=address, push_keys=push_keys,
                component_ids=components, nonce=_new_nonce(), user_id=user.id if user else None,
                confirmed_at=now if confirmed else None)
        except IntegrityError:  # someone subscribed the same address a moment ago: same answer as for them
            return Subscribed(kind)
        if not confirmed:
            await _send_confirmation(subscriber, page, components, now, conn)
        return _answer(subscriber, page)
    if kind == "email" and existing.confirmed_at is not None and not trusted:
        # say nothing here; tell the address's owner where their subscription is
        if _may_resend(existing, now):
            subscription = links(existing, page.slug)
            await _mail(existing, "subscriber.reminder", subscriber_mail.already_subscribed(
                page.title, subscription.manage, subscription.unsubscribe), now, conn)
            await Subscriber.filter(id=existing.id).using_db(conn).update(confirmation_sent_at=now)
        return Subscribed(kind)
    updates: dict[str, Any] = {"component_ids": components}
    if kind == "push":
        updates["push_keys"] = push_keys
    if confirmed and existing.confirmed_at is None:
        updates["confirmed_at"] = now
    if user is not None:
        updates["user_id"] = user.id
    await Subscriber.filter(id=existing.id).using_db(conn).update(**updates)
    if kind == "email" and not confirmed and _may_resend(existing, now):
        await _send_confirmation(existing, page, components, now, conn)
    return _answer(existing, page)


def _answer(subscriber: Subscriber, page: StatusPage) -> Subscribed:
    if subscriber.kind == "email":
        return Subscribed("email")
    return Subscribed(subscriber.kind, links(subscriber, page.slug).manage)


def _may_resend(subscriber: Subscriber, now: datetime) -> bool:
    sent = subscriber.confirmation_sent_at
    return sent is None or now - sent >= timedelta(minutes=RESEND_MINUTES)


async def _send_confirmation(subscriber: Subscriber, page: StatusPage, components: list[int], now: datetime,
                             conn: Any) -> None:
    names = [c.name for c in await Component.filter(id__in=components).using_db(conn).order_by("name")]
    payload = subscriber_mail.confirmation(page.title, confirm_link(subscriber, page.slug, now), names)
    await _mail(subscriber, "subscriber.confirm", payload, now, conn)
    await Subscriber.filter(id=subscriber.id).using_db(conn).update(confirmation_sent_at=now)


async def to_confirm(token: str, now: datetime | None = None) -> Subscriber | None:
    """The subscriber a (valid, unexpired) confirmation link names, without confirming yet; None otherwise."""
    return await _by_token(token, confirm=True, now=now)


async def confirm(token: str, now: datetime | None = None) -> Subscriber | None:
    """Confirm the e-mail subscription of a (valid, unexpired) confirmation link; None for any other link."""
    now = now or datetime.now(UTC)
    subscriber = await _by_token(token, confirm=True, now=now)
    if subscriber is None:
        return None
    if subscriber.confirmed_at is None:
        await Subscriber.filter(id=subscriber.id, confirmed_at=None).update(confirmed_at=now)
        subscriber.confirmed_at = now
    return subscriber


async def subscription(token: str) -> Subscriber | None:
    """The subscriber a manage or unsubscribe link names (with its page), or None."""
    return await _by_token(token, confirm=False)


async def choose_components(token: str, component_ids: Iterable[Any]) -> Subscriber:
    subscriber = await subscription(token)
    if subscriber is None:
        raise NotFound("This subscription link is no longer valid.")
    components = await _component_choice(subscriber.page_id, component_ids)  # type: ignore[attr-defined]
    await Subscriber.filter(id=subscriber.id).update(component_ids=components)
    subscriber.component_ids = components
    return subscriber


async def unsubscribe(token: str) -> Subscriber | None:
    """Remove the subscriber of a manage or unsubscribe link; None when the link is not (or no longer) valid."""
    subscriber = await subscription(token)
    if subscriber is not None:
        await Subscriber.filter(id=subscriber.id).delete()
    return subscriber


async def unsubscribe_push(page: StatusPage, endpoint: str) -> bool:
    """A browser that stopped notifications: its endpoint is its proof (only it and its push service know it)."""
    return bool(await Subscriber.filter(page_id=page.id, kind="push", address=str(endpoint or "")).delete())


async def prune_unconfirmed(now: datetime | None = None) -> int:
    """Forget addresses whose confirmation link has expired."""
    now = now or datetime.now(UTC)
    expired = await Subscriber.filter(confirmed_at=None, created_at__lt=now - timedelta(hours=tokens.CONFIRM_HOURS)
                                      ).values_list("id", flat=True)
    if expired:
        await Subscriber.filter(id__in=expired).delete()
    return len(expired)


# --- who gets a page's news ------------------------------------------------------------------------------------------

async def recipients(page_id: int, component_ids: Iterable[int], private: bool) -> list[Subscriber]:
    """Confirmed subscribers of the page who want news about these components (news about no component in
    particular goes to all). On a private page, only subscribers whose user still has access."""
    touched = set(component_ids)
    rows = await Subscriber.filter(page_id=page_id).exclude(confirmed_at=None)
    wanted = [s for s in rows if not s.component_ids or not touched or touched & set(s.component_ids)]
    if not private:
        return wanted
    kept = []
    for s in wanted:
        user = await User.get_or_none(id=s.user_id) if s.user_id else None  # type: ignore[attr-defined]
        if user is not None and user.is_active and await scope.page_in_scope(Actor.for_user(user), page_id):
            kept.append(s)
    return kept


# --- the admin side ------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SubscriberRow:
    id: int
    page_id: int
    page_slug: str
    kind: str
    address: str
    components: tuple[str, ...]
    confirmed: bool
    created_at: datetime


async def list_subscribers(actor: Actor, *, page_id: int | None = None, kind: str | None = None,
                           search: str = "", offset: int = 0, limit: int = 100) -> tuple[list[SubscriberRow], int]:
    """Subscribers of the pages in the actor's scope, newest first, and how many match in all."""
    authorize(actor, "subscriber.manage")
    query = Subscriber.all()
    visible = await scope.visible_page_ids(actor)
    if visible is not None:
        query = query.filter(page_id__in=visible)
    if page_id is not None:
        query = query.filter(page_id=page_id)
    if kind:
        query = query.filter(kind=kind)
    if search.strip():
        query = query.filter(address__icontains=search.strip())
    total = await query.count()
    rows = await query.order_by("-created_at", "-id").offset(offset).limit(limit).prefetch_related("page")
    return await describe(rows), total


async def describe(rows: list[Subscriber]) -> list[SubscriberRow]:
    """Subscribers (with their page fetched) as the admin screens and the API show them: one query for the names
    of all their components."""
    wanted = {c for s in rows for c in s.component_ids or []}
    names = dict(await Component.filter(id__in=wanted).values_list("id", "name")) if wanted else {}
    return [SubscriberRow(s.id, s.page_id, s.page.slug, s.kind, s.address,  # type: ignore[attr-defined]
                          tuple(names.get(c, f"#{c}") for c in s.component_ids or []), s.confirmed_at is not None,
                          s.created_at) for s in rows]


async def export_csv(actor: Actor, page_id: int | None = None) -> str:
    """Every subscriber in scope as CSV (page, kind, address, components, confirmed, created). Push subscribers'
    addresses are their browser's push endpoint."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "page", "kind", "address", "components", "confirmed", "created_at"])
    offset = 0
    while True:
        rows, _ = await list_subscribers(actor, page_id=page_id, offset=offset, limit=1000)
        for r in rows:
            writer.writerow([r.id, r.page_slug, r.kind, _csv_safe(r.address), _csv_safe("; ".join(r.components)),
                             "yes" if r.confirmed else "no", r.created_at.isoformat()])
        if len(rows) < 1000:
            return out.getvalue()
        offset += 1000


def _csv_safe(text: str) -> str:
    # a cell starting with = + - @ runs as a formula in spreadsheet programs (CSV injection)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def add_subscriber(actor: Actor, page: StatusPage, *, kind: str, address: str,
                         component_ids: Iterable[Any] = (), skip_confirmation: bool = False
                         ) -> tuple[Subscriber, bool]:
    """An administrator adds a subscriber (audited): an e-mail address still gets the confirmation mail unless
    ``skip_confirmation`` (the administrator vouches for it, as when importing a list). Returns the subscriber and
    whether it is new."""
    async with change(actor, "subscriber.manage") as ch:
        if not await scope.page_in_scope(actor, page.id, ch.conn):
            raise NotFound(f"No status page with id {page.id}.")
        normal = str(address or "").strip()
        normal = normal.lower() if kind == "email" else normal
        before = await Subscriber.filter(page_id=page.id, kind=kind, address=normal).using_db(ch.conn).first()
        await subscribe(page, kind=kind, address=address, component_ids=component_ids,
                        vouched=skip_confirmation or kind != "email", conn=ch.conn)
        row = await Subscriber.get(page_id=page.id, kind=kind, address=normal).using_db(ch.conn)
        await ch.audit("subscriber.add", "subscriber", row.id, {
            "kind": {"old": None, "new": kind}, "address": {"old": None, "new": normal},
            "page_id": {"old": None, "new": page.id}, "confirmed": {"old": None, "new": row.confirmed_at is not None}})
    return row, before is None


async def remove_subscriber(actor: Actor, subscriber_id: int) -> None:
    async with change(actor, "subscriber.manage") as ch:
        subscriber = await Subscriber.get_or_none(id=subscriber_id).using_db(ch.conn)
        if subscriber is None or not await scope.page_in_scope(actor, subscriber.page_id, ch.conn):  # type: ignore[attr-defined]
            raise NotFound(f"No subscriber with id {subscriber_id}.")
        await Subscriber.filter(id=subscriber_id).using_db(ch.conn).delete()
        await ch.audit("subscriber.remove", "subscriber", subscriber_id, {
            "kind": {"old": subscriber.kind, "new": None}, "address": {"old": subscriber.address, "new": None},
            "page_id": {"old": subscriber.page_id, "new": None}})  # type: ignore[attr-defined]

"""The admin side of subscribers through the service, on SQLite and PostgreSQL: who may list them and what the
filters find, the CSV export (formula cells neutralised), removing one (audited; an unknown id is NotFound), and the
subscriber mail server's settings (checked, the password masked on the way out and kept when sent back masked)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from app.auth import Actor
from app.enums import Role
from app.services import pages, subscribers
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.validation import SECRET_MASK
from storage.models import AuditEntryRow, InstallSetting, Subscriber

OWNER = Actor.system("test")
ADMIN = Actor(kind="user", id=50, label="admin@example.com", role=Role.ADMIN)
MEMBER = Actor(kind="user", id=51, label="member@example.com", role=Role.MEMBER)
START = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)
MAIL = {"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "beacon",
        "password": "s3cret", "from_address": "status@example.com", "verify_tls": True}


async def _subscriber(page_id: int, address: str, kind: str = "email", *, minutes: int = 0,
                      confirmed: bool = True) -> Subscriber:
    row = await Subscriber.create(page_id=page_id, kind=kind, address=address, nonce="x",
                                  confirmed_at=START if confirmed else None)
    await Subscriber.filter(id=row.id).update(created_at=START + timedelta(minutes=minutes))
    return row


async def _two_pages() -> tuple[int, int]:
    acme = await pages.create_page(OWNER, title="Acme", slug="acme")
    other = await pages.create_page(OWNER, title="Other", slug="other")
    return acme.id, other.id


async def test_admins_list_every_pages_subscribers_newest_first_and_members_are_refused(beacon):
    acme, other = await _two_pages()
    alice = await _subscriber(acme, "alice@example.com", minutes=1)
    hook = await _subscriber(acme, "https://hooks.example.com/a", kind="webhook", minutes=2)
    carol = await _subscriber(other, "Carol@Example.com", minutes=3, confirmed=False)

    with pytest.raises(Forbidden):
        await subscribers.list_subscribers(MEMBER)
    everyone, total = await subscribers.list_subscribers(ADMIN)
    by_page, page_total = await subscribers.list_subscribers(ADMIN, page_id=acme)
    by_kind, _ = await subscribers.list_subscribers(ADMIN, kind="webhook")
    by_search, _ = await subscribers.list_subscribers(ADMIN, search=" carol@ ")
    second, still_total = await subscribers.list_subscribers(ADMIN, offset=1, limit=1)

    assert ([r.id for r in everyone], total) == ([carol.id, hook.id, alice.id], 3)
    assert ([r.id for r in by_page], page_total) == ([hook.id, alice.id], 2)
    assert [r.id for r in by_kind] == [hook.id]
    assert [(r.address, r.page_slug, r.confirmed) for r in by_search] == [("Carol@Example.com", "other", False)]
    assert ([r.id for r in second], still_total) == ([hook.id], 3)


async def test_the_export_lists_the_chosen_page_and_neutralises_formula_cells(beacon):
    acme, other = await _two_pages()
    await _subscriber(acme, "alice@example.com")
    await _subscriber(acme, "=HYPERLINK(\"http://evil\")@example.com", minutes=1)
    await _subscriber(acme, "+1@example.com", minutes=2, confirmed=False)
    await _subscriber(other, "carol@example.com")

    with pytest.raises(Forbidden):
        await subscribers.export_csv(MEMBER)
    rows = list(csv.reader(io.StringIO(await subscribers.export_csv(ADMIN, page_id=acme))))

    assert rows[0] == ["id", "page", "kind", "address", "components", "confirmed", "created_at"]
    assert [(r[1], r[3], r[5]) for r in rows[1:]] == [
        ("acme", "'+1@example.com", "no"), ("acme", "'=HYPERLINK(\"http://evil\")@example.com", "yes"),
        ("acme", "alice@example.com", "yes")]
    assert len(list(csv.reader(io.StringIO(await subscribers.export_csv(ADMIN))))) == 5


async def test_removing_a_subscriber_is_audited_and_an_unknown_one_is_not_found(beacon):
    acme, _ = await _two_pages()
    alice = await _subscriber(acme, "alice@example.com")

    with pytest.raises(Forbidden):
        await subscribers.remove_subscriber(MEMBER, alice.id)
    await subscribers.remove_subscriber(ADMIN, alice.id)
    with pytest.raises(NotFound):
        await subscribers.remove_subscriber(ADMIN, alice.id)
    with pytest.raises(NotFound):
        await subscribers.remove_subscriber(ADMIN, 99999)

    assert await Subscriber.filter(id=alice.id).count() == 0
    entries = await AuditEntryRow.filter(action="subscriber.remove")
    assert [(e.entity_type, e.entity_id, e.actor_label) for e in entries] == [
        ("subscriber", str(alice.id), "admin@example.com")]
    assert entries[0].changes["address"] == {"old": "alice@example.com", "new": None}


async def test_mail_settings_are_checked_masked_and_keep_a_password_sent_back_masked(beacon):
    with pytest.raises(Forbidden):
        await subscribers.set_mail_settings(MEMBER, MAIL)
    with pytest.raises(Forbidden):
        await subscribers.public_mail_settings(MEMBER)
    with pytest.raises(Invalid) as bad:
        await subscribers.set_mail_settings(ADMIN, {**MAIL, "host": " ", "port": 0, "from_address": "nobody"})
    assert {"config.host", "config.port", "config.from_address"} <= set(bad.value.errors)
    assert await subscribers.mail_settings() is None

    await subscribers.set_mail_settings(ADMIN, MAIL)
    shown = await subscribers.public_mail_settings(ADMIN)
    assert shown == {**MAIL, "password": SECRET_MASK}

    await subscribers.set_mail_settings(ADMIN, {**shown, "host": "mail.example.com"})
    assert await subscribers.mail_settings() == {**MAIL, "host": "mail.example.com"}
    await subscribers.set_mail_settings(ADMIN, {**shown, "password": ""})  # emptied: no password any more
    assert (await subscribers.mail_settings())["password"] == ""
    assert (await subscribers.public_mail_settings(ADMIN))["password"] == ""

    await subscribers.set_mail_settings(ADMIN, None)
    assert await subscribers.mail_settings() is None
    assert await subscribers.public_mail_settings(ADMIN) is None
    assert (await InstallSetting.get(key="subscriber_mail")).value is None
    audited = await AuditEntryRow.filter(action="settings.update").order_by("seq")
    assert len(audited) == 4
    assert all("s3cret" not in str(e.changes) for e in audited)

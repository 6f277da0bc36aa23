"""/api/v1/subscribers: list with filters and cursor pages, add (an e-mail address gets its confirmation mail),
remove, the CSV export; ADMIN only."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from app.auth import Actor
from app.services import apikeys, subscribers, users
from storage.models import AuditEntryRow, Delivery, Subscriber
from tests.api.management_client import PROBLEM, Api, create_acme, create_component, field_errors

SYSTEM = Actor.system("test")
MAIL = {"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "beacon",
        "password": "s3cret", "from_address": "status@example.com", "verify_tls": True}
HOOK = "https://93.184.216.34/hook"  # a public address needs no DNS
START = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)


async def _subscriber(page_id: int, address: str, kind: str = "email", *, minutes: int = 0) -> Subscriber:
    row = await Subscriber.create(page_id=page_id, kind=kind, address=address, nonce="x", confirmed_at=START)
    await Subscriber.filter(id=row.id).update(created_at=START + timedelta(minutes=minutes))
    return row


async def test_an_email_subscriber_is_added_and_gets_a_confirmation_mail(api: Api):
    page = await create_acme(api)
    component = await create_component(api)
    await subscribers.set_mail_settings(SYSTEM, MAIL)
    added = await api.post("/api/v1/subscribers", {"page": "acme", "kind": "email", "address": " Ada@Example.com ",
                                                   "components": [component["id"]]})
    assert added.status_code == 201, added.text
    body = added.json()
    assert added.headers["location"] == f"/api/v1/subscribers/{body['id']}"
    assert (body["page_id"], body["page_slug"], body["kind"], body["address"], body["confirmed"],
            body["components"]) == (page["id"], "acme", "email", "ada@example.com", False, ["API"])
    [mail] = await Delivery.filter(subscriber_id=int(body["id"]))
    assert mail.event == "subscriber.confirm"
    assert (await api.get(added.headers["location"])).json() == body
    again = await api.post("/api/v1/subscribers", {"page": page["id"], "kind": "email", "address": "ada@example.com"})
    assert again.status_code == 200 and again.json()["id"] == body["id"]


async def test_a_webhook_subscriber_starts_at_once_and_is_removed(api: Api):
    await create_acme(api)
    added = await api.post("/api/v1/subscribers", {"page": "acme", "kind": "webhook", "address": HOOK})
    assert added.status_code == 201, added.text
    hook = added.json()
    assert hook["confirmed"] is True and hook["address"] == HOOK
    removed = await api.http.delete(f"/api/v1/subscribers/{hook['id']}", headers=api.as_admin())
    assert removed.status_code == 204
    assert (await api.get(f"/api/v1/subscribers/{hook['id']}")).status_code == 404
    assert (await api.http.delete(f"/api/v1/subscribers/{hook['id']}", headers=api.as_admin())).status_code == 404
    assert await AuditEntryRow.filter(action="subscriber.remove", entity_id=hook["id"]).exists()


async def test_bad_subscribers_get_field_errors(api: Api):
    await create_acme(api)
    other_component = await create_component(api, name="Elsewhere", pages=[
        (await api.post("/api/v1/pages", {"title": "Other", "slug": "other"})).json()["id"]])
    assert field_errors(await api.post("/api/v1/subscribers", {"page": "nope", "kind": "webhook",
                                                               "address": HOOK})) == {"page": "No status page 'nope'."}
    assert set(field_errors(await api.post("/api/v1/subscribers", {"page": "acme", "kind": "fax",
                                                                   "address": "1"}))) == {"kind"}
    assert set(field_errors(await api.post("/api/v1/subscribers", {"page": "acme", "kind": "webhook",
                                                                   "address": "ftp://x"}))) == {"address"}
    assert set(field_errors(await api.post("/api/v1/subscribers", {"page": "acme", "kind": "email",
                                                                   "address": "not-mail"}))) == {"address"}
    assert field_errors(await api.post("/api/v1/subscribers", {"page": "acme", "kind": "email",
                                                               "address": "a@example.com"})) == {
        "address": "This page does not send e-mail yet."}
    assert set(field_errors(await api.post("/api/v1/subscribers", {
        "page": "acme", "kind": "webhook", "address": HOOK, "components": [other_component["id"]]}))) == {"components"}
    assert set(field_errors(await api.post("/api/v1/subscribers", {"page": "acme", "kind": "webhook",
                                                                   "address": HOOK, "x": 1}))) == {"x"}
    assert set(field_errors(await api.get("/api/v1/subscribers?kind=fax"))) == {"kind"}
    assert (await api.get("/api/v1/subscribers?page=nope")).status_code == 404
    assert (await api.get("/api/v1/subscribers/abc")).status_code == 404


async def test_subscribers_are_filtered_and_come_in_cursor_pages(api: Api):
    acme = int((await create_acme(api))["id"])
    other = int((await api.post("/api/v1/pages", {"title": "Other", "slug": "other"})).json()["id"])
    rows = [await _subscriber(acme, f"user{n}@example.com", minutes=n) for n in range(4)]
    rows.append(await _subscriber(other, HOOK, "webhook", minutes=9))
    ids, path, count = [], "/api/v1/subscribers?limit=2", 0
    while path:
        response = await api.get(path)
        assert response.status_code == 200, response.text
        count += 1
        ids += [int(s["id"]) for s in response.json()]
        link = response.headers.get("link", "")
        assert bool(link) == ("x-next-cursor" in response.headers)
        path = link[1:link.index(">")].removeprefix("http://test") if link else ""
    assert count == 3 and ids == [r.id for r in reversed(rows)]
    assert [s["address"] for s in (await api.get("/api/v1/subscribers?kind=webhook")).json()] == [HOOK]
    assert len((await api.get("/api/v1/subscribers?page=acme")).json()) == 4
    assert [s["address"] for s in (await api.get("/api/v1/subscribers?search=USER2")).json()] == ["user2@example.com"]
    filtered = await api.get("/api/v1/subscribers?page=acme&limit=3")
    rest = await api.get(f"/api/v1/subscribers?page=acme&limit=3&cursor={filtered.headers['x-next-cursor']}")
    assert [s["address"] for s in rest.json()] == ["user0@example.com"] and "link" not in rest.headers


async def test_the_csv_export_lists_every_subscriber(api: Api):
    acme = int((await create_acme(api))["id"])
    await _subscriber(acme, "=cmd@example.com")
    await _subscriber(acme, HOOK, "webhook", minutes=1)
    exported = await api.get("/api/v1/subscribers.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(exported.text)))
    assert table[0] == ["id", "page", "kind", "address", "components", "confirmed", "created_at"]
    assert [(r[1], r[2], r[3], r[5]) for r in table[1:]] == [("acme", "webhook", HOOK, "yes"),
                                                             ("acme", "email", "'=cmd@example.com", "yes")]
    assert len(list(csv.reader(io.StringIO((await api.get("/api/v1/subscribers.csv?page=acme")).text)))) == 3


async def test_only_admins_manage_subscribers(api: Api):
    acme = int((await create_acme(api))["id"])
    row = await _subscriber(acme, "a@example.com")
    member = await users.create_user(SYSTEM, email="member@example.com", password="correct horse", role="MEMBER")
    _, key = await apikeys.create_api_key(SYSTEM, email=member.email)
    for headers in (api.as_reader(), {"Authorization": f"Bearer {key}"}):
        for method, path, body in (("GET", "/api/v1/subscribers", None), ("GET", "/api/v1/subscribers.csv", None),
                                   ("POST", "/api/v1/subscribers", {"page": "acme", "kind": "webhook",
                                                                    "address": HOOK}),
                                   ("DELETE", f"/api/v1/subscribers/{row.id}", None)):
            response = await api.http.request(method, path, json=body, headers=headers)
            assert response.status_code == 403 and response.headers["content-type"] == PROBLEM, (method, path)
    assert await Subscriber.filter(id=row.id).exists()


async def test_skip_confirmation_adds_a_confirmed_address_without_a_mail(api: Api):
    await create_acme(api)
    await subscribers.set_mail_settings(SYSTEM, MAIL)
    added = await api.post("/api/v1/subscribers", {"page": "acme", "kind": "email", "address": "A@example.com",
                                                   "skip_confirmation": True})
    assert added.status_code == 201 and added.json()["confirmed"] is True
    assert added.json()["address"] == "a@example.com"
    assert not await Delivery.exists()  # no confirmation mail
    assert await AuditEntryRow.filter(action="subscriber.add").exists()
    hook = await api.post("/api/v1/subscribers", {"page": "acme", "kind": "webhook", "address": HOOK,
                                                  "skip_confirmation": True})
    assert hook.status_code == 201 and hook.json()["confirmed"] is True

"""Durable notification delivery, against a real HTTP receiver on 127.0.0.1: events are written to the outbox with
the change that caused them, dispatched to the channels that want them, sent with retries and backoff, dead
after the last attempt, retried by hand, and never lost or doubled by a restart; a slow channel delays no other."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.auth import Actor
from app.enums import Role
from app.notify import outbox as outbox_module
from app.notify.outbox import Outbox, backoff
from app.services import channels, components, incidents, pages
from app.services.errors import Forbidden, Invalid
from storage.models import Delivery, OutboxEvent
from tests.conftest import settle

OWNER = Actor.system("test")


@pytest.fixture
async def acme(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    api = await components.create_component(OWNER, name="API", pages=[page.id])
    return page, api


async def open_incident(page, api, name: str = "API unavailable"):
    incident = await incidents.create_incident(OWNER, page=page.id, name=name, impact="MAJOR", body="Looking.",
                                               components={api.id: "MAJOR_OUTAGE"})
    await settle()
    return incident


async def run(box: Outbox, rounds: int = 1, now: datetime | None = None) -> None:
    for _ in range(rounds):
        await box.dispatch(now)
        await box.deliver_due(now)
        await box.settle()


async def test_an_incident_reaches_a_webhook_with_the_contract_payload_and_a_valid_signature(acme, receiver):
    page, api = acme
    await channels.create_channel(OWNER, name="Ops hook", kind="webhook", events=["incident.created"],
                                  config={"url": f"{receiver.url}/hook", "secret": "s3cret",
                                          "headers": {"X-Team": "ops"}})
    await open_incident(page, api)
    box = Outbox()
    await run(box)
    [request] = receiver.accepted()
    body, headers = request["body"], request["headers"]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert (headers["x-beacon-event"], headers["x-beacon-signature"], headers["x-team"]) == (
        "incident.created", expected, "ops")
    payload = json.loads(body)
    assert set(payload) == {"meta", "page", "incident"}
    assert payload["incident"]["name"] == "API unavailable" and payload["incident"]["impact"] == "critical"
    assert payload["page"]["status_indicator"] == "critical"
    delivery = await Delivery.get()
    assert (delivery.status, delivery.attempts, headers["x-beacon-delivery"]) == ("sent", 1, str(delivery.id))
    assert await OutboxEvent.filter(dispatched_at=None).count() == 0


async def test_a_receiver_that_fails_twice_gets_exactly_one_accepted_delivery(acme, receiver):
    page, api = acme
    receiver.fail_first = 2
    await channels.create_channel(OWNER, name="Hook", kind="webhook", events=["incident.created"],
                                  config={"url": receiver.url})
    await open_incident(page, api)
    box = Outbox()
    await run(box)
    delivery = await Delivery.get()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("failed", 1, "HTTP 500: ok")
    assert delivery.next_attempt_at > datetime.now(UTC)  # backing off: not due yet
    later = datetime.now(UTC) + timedelta(hours=2)
    await run(box, rounds=3, now=later)
    delivery = await Delivery.get()
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    assert len(receiver.requests) == 3 and len(receiver.accepted()) == 1


async def test_a_delivery_is_dead_after_the_last_attempt_and_a_person_can_retry_it(acme, receiver, monkeypatch):
    page, api = acme
    monkeypatch.setattr(outbox_module, "MAX_ATTEMPTS", 3)
    receiver.fail_first = 3
    await channels.create_channel(OWNER, name="Hook", kind="webhook", events=["incident.created"],
                                  config={"url": receiver.url})
    await open_incident(page, api)
    box = Outbox()
    for hours in (0, 2, 4, 6):
        await run(box, now=datetime.now(UTC) + timedelta(hours=hours))
    delivery = await Delivery.get()
    assert (delivery.status, delivery.attempts) == ("dead", 3)
    assert len(receiver.requests) == 3
    with pytest.raises(Forbidden):
        await channels.retry_delivery(Actor(kind="user", id=None, label="m", role=Role.MEMBER), delivery.id)
    await channels.retry_delivery(OWNER, delivery.id)
    await run(box)
    assert (await Delivery.get()).status == "sent" and len(receiver.accepted()) == 1


async def test_a_restart_loses_nothing_and_sends_nothing_twice(acme, receiver):
    page, api = acme
    await channels.create_channel(OWNER, name="Hook", kind="webhook", events=["incident.created"],
                                  config={"url": receiver.url})
    # the process dies right after the commit: the event is in the outbox, nothing was sent
    await open_incident(page, api, "First")
    assert await OutboxEvent.filter(dispatched_at=None, name="incident.created").count() == 1
    await run(Outbox())  # "after the restart"
    assert len(receiver.accepted()) == 1
    # a dispatcher that died after writing the deliveries but before marking the event dispatched runs again
    await OutboxEvent.all().update(dispatched_at=None)
    await run(Outbox(), rounds=2)
    assert len(receiver.accepted()) == 1 and await Delivery.all().count() == 1


async def test_old_dispatched_events_and_sent_deliveries_are_pruned_but_failures_kept(acme, receiver):
    page, api = acme
    await channels.create_channel(OWNER, name="Hook", kind="webhook", events=["incident.created"],
                                  config={"url": receiver.url})
    await open_incident(page, api)
    await open_incident(page, api, "Second")
    box = Outbox()
    await box.dispatch()
    first, second = await Delivery.all().order_by("id")
    await box.deliver_due()  # one at a time per channel: the first is sent ...
    await box.settle()
    await Delivery.filter(id=second.id).update(status="failed")  # ... and the second failed
    await box.prune(now=datetime.now(UTC) + timedelta(days=40))
    assert await OutboxEvent.filter(name="incident.created").count() == 0
    assert [d.id for d in await Delivery.all()] == [second.id]  # the failed one waits for a person


async def test_a_slow_channel_delays_no_other(acme, receiver):
    page, api = acme
    fast = []

    class Fast(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            fast.append(time.monotonic())
            self.send_response(204)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Fast)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        receiver.delay = 2.0
        await channels.create_channel(OWNER, name="Slow", kind="webhook", events=["incident.created"],
                                      config={"url": receiver.url})
        await channels.create_channel(OWNER, name="Fast", kind="discord", events=["incident.created"],
                                      config={"url": f"http://127.0.0.1:{server.server_address[1]}/api/webhooks/1"})
        await open_incident(page, api)
        box = Outbox()
        started = time.monotonic()
        await box.dispatch()
        await box.deliver_due()
        await asyncio.sleep(0.5)
        assert fast and fast[0] - started < 0.5  # the fast one went out while the slow one still waited
        await box.settle()
        assert {d.status for d in await Delivery.all()} == {"sent"}
    finally:
        server.shutdown()
        server.server_close()


async def test_channels_get_only_their_events_and_pages(acme, receiver):
    page, api = acme
    other = await pages.create_page(OWNER, title="Partners", slug="partners")
    await channels.create_channel(OWNER, name="Partners only", kind="webhook", events=["incident.created"],
                                  config={"url": receiver.url}, page_ids=[other.id])
    await channels.create_channel(OWNER, name="Resolutions", kind="webhook", events=["incident.resolved"],
                                  config={"url": receiver.url})
    incident = await open_incident(page, api)
    await run(Outbox())
    assert receiver.requests == []
    await incidents.resolve_incident(OWNER, incident.id, body="Fixed.")
    await settle()
    await run(Outbox())
    assert [r["headers"]["x-beacon-event"] for r in receiver.accepted()] == ["incident.resolved"]


async def test_a_component_filter_passes_its_components_and_news_about_the_whole_page(acme, receiver):
    page, api = acme
    web = await components.create_component(OWNER, name="Website", pages=[page.id])
    await channels.create_channel(OWNER, name="Web team", kind="webhook", events=["incident.created"],
                                  config={"url": receiver.url}, component_ids=[web.id])
    await open_incident(page, api, "API down")
    await incidents.create_incident(OWNER, page=page.id, name="Website down", impact="MAJOR", body="…",
                                    components={web.id: "MAJOR_OUTAGE"})
    await incidents.create_incident(OWNER, page=page.id, name="Everything slow", impact="MINOR", body="…")
    await settle()
    await run(Outbox(), rounds=3)
    names = [json.loads(r["body"])["incident"]["name"] for r in receiver.accepted()]
    assert names == ["Website down", "Everything slow"]


async def test_a_flapping_component_notifies_at_most_once_per_window_and_the_last_status_wins(acme, receiver):
    page, api = acme
    await channels.create_channel(OWNER, name="Status", kind="webhook", events=["component.status_changed"],
                                  config={"url": receiver.url}, options={"flap_minutes": 10})
    await channels.create_channel(OWNER, name="Every change", kind="webhook", events=["component.status_changed"],
                                  config={"url": f"{receiver.url}/all"}, options={"flap_minutes": 0})
    for status in ("MAJOR_OUTAGE", "OPERATIONAL", "DEGRADED", "OPERATIONAL"):
        await components.set_status(OWNER, api.id, status)
        await settle()
        await run(Outbox())
    damped = [json.loads(r["body"])["component_update"] for r in receiver.accepted() if r["path"] != "/all"]
    every = [json.loads(r["body"])["component_update"]["new_status"] for r in receiver.accepted()
             if r["path"] == "/all"]
    assert every == ["major_outage", "operational", "degraded_performance", "operational"]
    assert [u["new_status"] for u in damped] == ["major_outage"]  # the rest waits, folded into one
    [waiting] = await Delivery.filter(status="pending", channel__name="Status")
    first = await Delivery.get(status="sent", channel__name="Status")
    assert waiting.next_attempt_at - first.sent_at == timedelta(minutes=10)  # type: ignore[operator]
    await run(Outbox(), now=datetime.now(UTC) + timedelta(minutes=11))
    damped = [json.loads(r["body"])["component_update"] for r in receiver.accepted() if r["path"] != "/all"]
    assert [u["new_status"] for u in damped] == ["major_outage", "operational"]  # the latest status, once


async def test_a_component_added_then_deleted_reaches_the_channel_twice(acme, receiver):
    page, _ = acme
    await run(Outbox())  # the fixture's own events, before the channel existed
    await channels.create_channel(OWNER, name="Inventory", kind="webhook", config={"url": receiver.url},
                                  events=["component.created", "component.deleted"])
    search = await components.create_component(OWNER, name="Search", pages=[page.id])
    await settle()
    await run(Outbox())
    await components.delete_component(OWNER, search.id)
    await settle()
    await run(Outbox())
    sent = [(r["headers"]["x-beacon-event"], json.loads(r["body"])["component"]) for r in receiver.accepted()]
    assert [(name, c["name"]) for name, c in sent] == [("component.created", "Search"),
                                                        ("component.deleted", "Search")]
    assert sent[0][1]["status"] == "operational" and "deleted_at" in sent[1][1]


async def test_the_worker_runs_in_the_background_and_stops_cleanly(acme, receiver):
    page, api = acme
    await channels.create_channel(OWNER, name="Hook", kind="webhook", events=["incident.created"],
                                  config={"url": receiver.url})
    box = Outbox()
    box.start()
    try:
        await open_incident(page, api)
        for _ in range(50):
            if receiver.accepted():
                break
            await asyncio.sleep(0.1)
        assert len(receiver.accepted()) == 1
    finally:
        await asyncio.wait_for(box.stop(), 5)
    assert (await Delivery.get()).status == "sent"


async def test_two_processes_on_one_postgres_send_once_and_the_standby_takes_over(acme, receiver, database_url,
                                                                                   monkeypatch):
    """Two outbox workers as two processes would run them (each holds its own lock connection): one sends, and
    when it stops the other takes over."""
    if not database_url.startswith("postgres"):
        pytest.skip("one SQLite file serves one server process")
    monkeypatch.setattr(outbox_module, "LEADER_POLL_SECONDS", 0.2)
    page, api = acme
    await channels.create_channel(OWNER, name="Hook", kind="webhook", events=["incident.created"],
                                  config={"url": receiver.url})
    first, second = Outbox(), Outbox()
    first.start()
    await asyncio.sleep(0.3)
    second.start()
    try:
        await open_incident(page, api, "First")
        for _ in range(50):
            if receiver.accepted():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # time for a second, wrong, send
        assert len(receiver.accepted()) == 1
        assert first._leader.held and not second._leader.held
        await asyncio.wait_for(first.stop(), 5)
        await open_incident(page, api, "Second")
        for _ in range(50):
            if len(receiver.accepted()) == 2:
                break
            await asyncio.sleep(0.1)
        assert [json.loads(r["body"])["incident"]["name"] for r in receiver.accepted()] == ["First", "Second"]
        assert second._leader.held
    finally:
        await asyncio.wait_for(first.stop(), 5)
        await asyncio.wait_for(second.stop(), 5)


@pytest.mark.parametrize(("fields", "errors"), [
    ({"kind": "pigeon"}, {"kind"}),
    ({"config": {"url": "ftp://x"}}, {"config.url"}),
    ({"events": ["incident.backfilled"]}, {"events"}),
    ({"events": []}, {"events"}),
    ({"name": ""}, {"name"}),
])
async def test_bad_channels_are_refused_with_field_messages(acme, fields, errors):
    values = {"name": "Hook", "kind": "webhook", "config": {"url": "http://127.0.0.1:9/"},
              "events": ["incident.created"], **fields}
    with pytest.raises(Invalid) as caught:
        await channels.create_channel(OWNER, **values)
    assert set(caught.value.errors) == errors


def test_backoff_doubles_with_jitter_up_to_an_hour():
    import random

    rng = random.Random(1)
    for attempts in range(1, 15):
        ceiling = min(3600.0, 5.0 * 2 ** (attempts - 1))
        delays = {backoff(attempts, rng) for _ in range(20)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays), attempts
        assert len(delays) > 1  # jittered: failed deliveries do not all come back at once


async def test_send_test_reports_what_the_channel_answered(acme, receiver, closed_port):
    hook = await channels.create_channel(OWNER, name="Hook", kind="webhook", events=["incident.created"],
                                         config={"url": receiver.url})
    assert await channels.send_test(OWNER, hook.id) is None
    assert receiver.accepted()[0]["headers"]["x-beacon-event"] == "test"
    dead = await channels.create_channel(OWNER, name="Nowhere", kind="webhook", events=["incident.created"],
                                         config={"url": f"http://127.0.0.1:{closed_port}/"})
    assert (await channels.send_test(OWNER, dead.id)).startswith("Could not connect")
    receiver.fail_first = 10
    assert await channels.send_test(OWNER, hook.id) == "HTTP 500: ok"


async def test_editing_a_channel_keeps_a_masked_secret_and_is_audited(acme):
    from storage.models import AuditEntryRow, Channel

    hook = await channels.create_channel(OWNER, name="Hook", kind="webhook", events=["incident.created"],
                                         config={"url": "http://127.0.0.1:9/", "secret": "s3cret"})
    shown = channels.public_config(hook)
    assert shown["secret"] != "s3cret"
    await channels.update_channel(OWNER, hook.id, config=shown, events=["incident.created", "incident.resolved"],
                                  enabled=False)
    stored = await Channel.get(id=hook.id)
    assert (stored.config["secret"], stored.events, stored.enabled) == (
        "s3cret", ["incident.created", "incident.resolved"], False)
    trail = str(await AuditEntryRow.filter(action__startswith="channel.").values_list("changes", flat=True))
    assert "s3cret" not in trail and "incident.resolved" in trail
    assert [c.name for c in await channels.list_channels(OWNER)] == ["Hook"]


async def test_an_incident_goes_out_as_an_email_with_both_parts(acme, mailbox):
    page, api = acme
    port, received = mailbox
    await channels.create_channel(OWNER, name="On-call mail", kind="email", events=["incident.created"],
                                  config={"host": "127.0.0.1", "port": port, "security": "none",
                                          "from_address": "status@acme.example",
                                          "to": ["oncall@acme.example", "cto@acme.example"]})
    await open_incident(page, api, "API <unavailable>")
    await run(Outbox())
    [(recipients, message)] = received
    assert recipients == ["oncall@acme.example", "cto@acme.example"]
    assert message["Subject"] == "[Acme] Investigating: API <unavailable>"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Looking." in text and "/status/acme/incidents/" in text
    assert "API &lt;unavailable&gt;" in html and "<unavailable>" not in html
    assert (await Delivery.get()).status == "sent"


@pytest.mark.parametrize(("config", "errors"), [
    ({"host": "", "from_address": "x@y", "to": ["a@b"]}, {"config.host"}),
    ({"host": "smtp", "from_address": "nobody", "to": []}, {"config.from_address", "config.to"}),
    ({"host": "smtp", "port": 70000, "security": "ssl", "from_address": "x@y", "to": ["a b@c"]},
     {"config.port", "config.security", "config.to"}),
])
async def test_bad_email_settings_name_each_field(acme, config, errors):
    with pytest.raises(Invalid) as caught:
        await channels.create_channel(OWNER, name="Mail", kind="email", events=["incident.created"], config=config)
    assert set(caught.value.errors) == errors


async def test_an_incident_reaches_any_apprise_service_here_its_json_endpoint(acme, receiver):
    page, api = acme
    port = receiver.url.rsplit(":", 1)[1]
    await channels.create_channel(OWNER, name="Apprise", kind="apprise", events=["incident.created"],
                                  config={"urls": [f"json://127.0.0.1:{port}/apprise"]})
    await open_incident(page, api)
    await run(Outbox())
    [request] = receiver.accepted()
    sent = json.loads(request["body"])
    assert request["path"] == "/apprise"
    assert sent["title"] == "[Acme] Investigating: API unavailable" and "Looking." in sent["message"]
    assert (await Delivery.get()).status == "sent"


async def test_an_apprise_url_it_does_not_know_is_refused(acme):
    with pytest.raises(Invalid) as caught:
        await channels.create_channel(OWNER, name="Apprise", kind="apprise", events=["incident.created"],
                                      config={"urls": ["carrierpigeon://coop/7"]})
    assert "carrierpigeon" in caught.value.errors["config.urls"]

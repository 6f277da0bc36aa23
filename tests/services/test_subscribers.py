"""Public subscribers, end to end against real receivers on 127.0.0.1: the subscribe form, the double opt-in mail
read from aiosmtpd, the confirmation, notices only about the chosen components, one-click unsubscribe from the
mail's headers, webhook subscribers receiving the contract payload, browsers receiving a Web Push they can decrypt,
the rate limit, and a form that never tells who is subscribed."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import http_ece
import httpx
import pytest

from app import config
from app.auth import Actor
from app.notify.outbox import Outbox
from app.services import components, incidents, pages, subscribers, teams, users
from app.services.errors import Invalid
from storage.models import Delivery, Subscriber
from tests.conftest import settle
from tests.receivers import browser, unb64url

OWNER = Actor.system("test")


@pytest.fixture
def http(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client  # tests/conftest.py: the public routes, the subscribe form included


@pytest.fixture
async def acme(beacon_sqlite, mailbox):
    port, _ = mailbox
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    api = await components.create_component(OWNER, name="API", pages=[page.id])
    web = await components.create_component(OWNER, name="Website", pages=[page.id])
    await subscribers.set_mail_settings(OWNER, {"host": "127.0.0.1", "port": port, "security": "none",
                                                "from_address": "status@acme.example"})
    await settle()
    return page, api, web


async def deliver(rounds: int = 1) -> None:
    box = Outbox()
    for _ in range(rounds):
        await box.dispatch()
        await box.deliver_due()
        await box.settle()


def path_of(url: str) -> str:
    return urlsplit(url).path


def link(text: str, kind: str) -> str:
    return re.search(rf"http://\S+/status/acme/{kind}/\S+", text).group(0)  # type: ignore[union-attr]


async def incident_on(page, *component_ids, name="API unavailable"):
    incident = await incidents.create_incident(OWNER, page=page.id, name=name, impact="MAJOR", body="Looking.",
                                               components={c: "MAJOR_OUTAGE" for c in component_ids})
    await settle()
    return incident


async def test_double_opt_in_then_notices_then_one_click_unsubscribe(acme, mailbox, http):
    page, api, _ = acme
    _, received = mailbox
    answer = await http.post("/status/acme/subscribe", data={"kind": "email", "email": "Ann@Example.org",
                                                             "components": [str(api.id)]})
    assert answer.status_code == 200 and "Check your inbox" in answer.text
    await incident_on(page, api.id, name="Before confirming")
    await deliver()
    [(to, confirmation)] = received  # the confirmation, and no incident notice before it is confirmed
    assert to == ["ann@example.org"] and confirmation["Subject"] == "[Acme] Confirm your subscription"
    text = confirmation.get_body(("plain",)).get_content()
    assert "API" in text and "48 hours" in text
    confirm_url = link(text, "confirm")
    assert confirm_url in confirmation.get_body(("html",)).get_content()

    question = await http.get(path_of(confirm_url))  # a mail scanner opening the link confirms nothing
    assert question.status_code == 200 and "Confirm subscription" in question.text
    assert (await Subscriber.get()).confirmed_at is None
    confirmed = await http.post(path_of(confirm_url))
    assert confirmed.status_code == 200 and "You are subscribed" in confirmed.text
    assert (await Subscriber.get()).confirmed_at is not None

    await incident_on(page, api.id, name="Database failover")
    await deliver()
    notice = received[-1][1]
    assert received[-1][0] == ["ann@example.org"]
    assert notice["Subject"] == "[Acme] Investigating: Database failover"
    assert notice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = str(notice["List-Unsubscribe"]).strip().strip("<>")
    assert unsubscribe_url in notice.get_body(("plain",)).get_content()
    assert "/status/acme/unsubscribe/" in unsubscribe_url

    # what a mail app sends for one-click unsubscribe (RFC 8058)
    gone = await http.post(path_of(unsubscribe_url), content=b"List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert gone.status_code == 200 and "Unsubscribed" in gone.text
    assert await Subscriber.all().count() == 0
    again = await http.post(path_of(unsubscribe_url))
    assert again.status_code == 200 and "no more updates" in again.text


async def test_the_form_answers_the_same_for_a_known_address_and_tells_only_the_mailbox(acme, mailbox, http):
    page, _, _ = acme
    _, received = mailbox
    await subscribers.subscribe(page, kind="email", address="known@example.org")
    await Subscriber.filter(address="known@example.org").update(confirmed_at=datetime.now(UTC),
                                                               confirmation_sent_at=None)
    await Delivery.all().delete()  # its confirmation mail, long read
    new = await http.post("/status/acme/subscribe", data={"kind": "email", "email": "new@example.org"})
    known = await http.post("/status/acme/subscribe", data={"kind": "email", "email": "known@example.org"})
    assert new.status_code == known.status_code == 200
    assert new.text.replace("new@", "X@") == known.text.replace("known@", "X@")
    await deliver()
    subjects = {tuple(to): message["Subject"] for to, message in received}
    assert subjects[("known@example.org",)] == "[Acme] You are already subscribed"
    assert subjects[("new@example.org",)] == "[Acme] Confirm your subscription"
    assert await Subscriber.filter(address="known@example.org").count() == 1


async def test_asking_again_at_once_sends_no_second_mail(acme, mailbox, http):
    _, received = mailbox
    for _ in range(3):
        await http.post("/status/acme/subscribe", data={"kind": "email", "email": "ann@example.org"})
    await deliver()
    assert len(received) == 1


async def test_a_confirmation_link_expires_and_a_forged_one_never_works(acme):
    page, _, _ = acme
    await subscribers.subscribe(page, kind="email", address="ann@example.org")
    subscriber = await Subscriber.get()
    issued = datetime.now(UTC)
    token = subscribers.confirm_link(subscriber, "acme", issued).rsplit("/", 1)[1]
    assert await subscribers.confirm(token, now=issued + timedelta(hours=49)) is None
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert await subscribers.confirm(forged, now=issued) is None
    manage = subscribers.links(subscriber, "acme").manage.rsplit("/", 1)[1]
    assert await subscribers.confirm(manage, now=issued) is None  # a manage link is not a confirmation
    assert (await subscribers.confirm(token, now=issued + timedelta(hours=47))).confirmed_at is not None  # type: ignore[union-attr]


async def test_unconfirmed_addresses_are_forgotten_after_the_link_expires(acme):
    page, _, _ = acme
    await subscribers.subscribe(page, kind="email", address="ann@example.org")
    assert await subscribers.prune_unconfirmed(datetime.now(UTC) + timedelta(hours=1)) == 0
    assert await subscribers.prune_unconfirmed(datetime.now(UTC) + timedelta(hours=49)) == 1


async def test_subscribers_hear_only_about_their_components_and_about_the_whole_page(acme, mailbox):
    page, api, web = acme
    _, received = mailbox
    now = datetime.now(UTC)
    for address, chosen in (("api@example.org", [api.id]), ("web@example.org", [web.id]), ("all@example.org", [])):
        await subscribers.subscribe(page, kind="email", address=address, component_ids=chosen)
    await Subscriber.all().update(confirmed_at=now)
    await Delivery.all().delete()  # the confirmation mails
    await incident_on(page, api.id, name="API down")
    await incident_on(page, name="Everything slow")
    await deliver(rounds=2)  # one mail at a time to each address, in order
    got = sorted((to[0], message["Subject"]) for to, message in received)
    assert got == [("all@example.org", "[Acme] Investigating: API down"),
                   ("all@example.org", "[Acme] Investigating: Everything slow"),
                   ("api@example.org", "[Acme] Investigating: API down"),
                   ("api@example.org", "[Acme] Investigating: Everything slow"),
                   ("web@example.org", "[Acme] Investigating: Everything slow")]


async def test_the_manage_page_changes_the_choice(acme, http):
    page, api, web = acme
    await subscribers.subscribe(page, kind="email", address="ann@example.org", component_ids=[api.id])
    subscriber = await Subscriber.get()
    manage = path_of(subscribers.links(subscriber, "acme").manage)
    shown = await http.get(manage)
    assert shown.status_code == 200 and f'value="{api.id}" checked' in shown.text and "ann@example.org" in shown.text
    saved = await http.post(manage, data={"components": [str(web.id)]})
    assert saved.status_code == 200 and "1 chosen component" in saved.text
    assert (await Subscriber.get()).component_ids == [web.id]
    refused = await http.post(manage, data={"components": ["999999"]})
    assert refused.status_code == 422 and "not on this page" in refused.text
    assert (await http.get(manage.replace("/acme/", "/other/"))).status_code == 404


async def test_bad_input_gets_a_message_on_the_form(acme, http):
    answer = await http.post("/status/acme/subscribe", data={"kind": "email", "email": "not an address"})
    assert answer.status_code == 422 and "Enter an e-mail address" in answer.text
    assert 'aria-invalid="true"' in answer.text and await Subscriber.all().count() == 0


async def test_the_form_is_rate_limited_per_client(acme, http):
    for n in range(5):
        ok = await http.post("/status/acme/subscribe", data={"kind": "email", "email": f"u{n}@example.org"})
        assert ok.status_code == 200
    limited = await http.post("/status/acme/subscribe", data={"kind": "email", "email": "u9@example.org"})
    assert limited.status_code == 429 and "Too many subscription requests" in limited.text
    assert await Subscriber.filter(address="u9@example.org").count() == 0


async def test_without_a_mail_server_the_form_offers_no_email(acme, http):
    await subscribers.set_mail_settings(OWNER, None)
    form = await http.get("/status/acme/subscribe")
    assert "By e-mail" not in form.text and "By webhook" in form.text and "Notify me" in form.text
    refused = await http.post("/status/acme/subscribe", data={"kind": "email", "email": "ann@example.org"})
    assert refused.status_code == 422 and "does not send e-mail" in refused.text


async def test_a_webhook_subscriber_gets_the_contract_payload_with_its_unsubscribe_link(acme, receiver, http,
                                                                                       settings):
    page, api, _ = acme
    refused = await http.post("/status/acme/subscribe", data={"kind": "webhook", "url": f"{receiver.url}/hook"})
    assert refused.status_code == 422 and "private network" in refused.text  # an anonymous visitor, by default
    config.use(replace(settings, subscriber_private_urls=True))
    answer = await http.post("/status/acme/subscribe", data={"kind": "webhook", "url": f"{receiver.url}/hook"})
    assert answer.status_code == 200 and "/status/acme/subscription/" in answer.text
    await incident_on(page, api.id)
    await deliver()
    [request] = receiver.accepted()
    payload = json.loads(request["body"])
    subscriber = await Subscriber.get()
    assert request["headers"]["x-beacon-event"] == "incident.created"
    assert payload["meta"]["unsubscribe"] == subscribers.links(subscriber, "acme").unsubscribe
    assert payload["incident"]["name"] == "API unavailable"


async def test_a_browser_gets_a_push_it_can_decrypt_and_a_gone_one_is_forgotten(acme, push_service, http,
                                                                               settings):
    page, api, _ = acme
    config.use(replace(settings, subscriber_private_urls=True))  # the push service runs on 127.0.0.1 here
    device = browser(f"{push_service.origin}/push/device-1")
    answer = await http.post("/status/acme/push", json={"subscription": device.subscription,
                                                        "components": [api.id]})
    assert answer.status_code == 201
    await incident_on(page, api.id)
    await deliver()
    [(_, headers, body)] = push_service.requests
    message = json.loads(http_ece.decrypt(body, private_key=device.key, auth_secret=device.auth,
                                          version="aes128gcm"))
    assert message["title"] == "Acme: Investigating: API unavailable"
    assert message["url"].endswith(f"/status/acme/incidents/{(await Delivery.first()).subject.split(':')[1]}")  # type: ignore[union-attr]
    assert headers["Authorization"].startswith("vapid t=")
    assert unb64url(headers["Authorization"].split("k=")[1]) == unb64url(subscribers.vapid().public_key)

    push_service.answer = 410  # the browser unsubscribed: the push service says so
    await incident_on(page, api.id, name="Again")
    await deliver()
    assert await Subscriber.all().count() == 0


async def test_a_broken_browser_subscription_is_refused_with_the_field(acme, http):
    answer = await http.post("/status/acme/push", json={"subscription": {"endpoint": "ftp://x", "keys": {}}})
    assert answer.status_code == 422
    assert set(answer.json()["errors"]) >= {"endpoint"}


async def test_the_service_worker_is_served_at_the_root(http):
    answer = await http.get("/sw.js")
    assert answer.status_code == 200 and answer.headers["service-worker-allowed"] == "/"
    assert "showNotification" in answer.text


async def test_a_private_page_takes_no_public_subscription_and_stops_for_users_without_access(acme, http):
    page, api, _ = acme
    await pages.update_page(OWNER, page.id, public=False)
    await settle()
    assert (await http.get("/status/acme/subscribe")).status_code == 404
    assert (await http.post("/status/acme/subscribe", data={"kind": "email", "email": "a@example.org"})
            ).status_code == 404
    staff = await users.create_user(OWNER, email="staff@acme.example", password="correct horse battery",
                                    role="READ_ONLY")
    await subscribers.subscribe(page, kind="email", address=staff.email, user=staff)
    assert [s.address for s in await subscribers.recipients(page.id, (api.id,), private=True)] == [staff.email]
    team = await teams.create_team(OWNER, "Partners")
    await teams.assign_page(OWNER, page.id, team.id)  # the page now belongs to a team staff is not in
    assert await subscribers.recipients(page.id, (api.id,), private=True) == []


async def test_subscribing_checks_each_field(acme):
    page, _, _ = acme
    with pytest.raises(Invalid) as caught:
        await subscribers.subscribe(page, kind="sms", address="+1555")
    assert set(caught.value.errors) == {"kind"}
    with pytest.raises(Invalid) as caught:
        await subscribers.subscribe(page, kind="email", address="ann@example.org", component_ids=["x"])
    assert set(caught.value.errors) == {"components"}


async def test_a_forged_link_shows_nobody_s_address(acme, http):
    page, _, _ = acme
    await subscribers.subscribe(page, kind="email", address="secret-person@example.org")
    subscriber = await Subscriber.get()
    expires = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    for path in (f"/status/acme/confirm/{subscriber.id}.{expires}.forged",
                 f"/status/acme/subscription/{subscriber.id}.forged", f"/status/acme/unsubscribe/{subscriber.id}.x"):
        answer = await http.get(path)
        assert answer.status_code == 404 and "secret-person" not in answer.text, path
        assert "This link no longer works" in answer.text
    good = path_of(subscribers.confirm_link(subscriber, "acme", datetime.now(UTC)))
    assert (await http.get(good.replace("/acme/", "/other/"))).status_code == 404  # only under its own page
    assert "secret-person@example.org" in (await http.get(good)).text

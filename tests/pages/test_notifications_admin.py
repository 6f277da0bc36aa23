"""The notification screens through NiceGUI's simulated user: creating a webhook channel through the form, a bad URL
shown on its input, "Send test" against a local server and a closed port, retrying a failed delivery, editing with
the secret kept, and a member's refusal (with no Notifications link in the navigation)."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import pytest
from nicegui import ui
from nicegui.testing import User

from app import events
from app.enums import Role
from app.runtime import state
from app.services import channels, users
from storage.models import Channel, Delivery
from tests.monitors.http_servers import serve
from tests.pages.screens import ELSEWHERE, acme, click, element, set_value

PASSWORD = "correct horse battery"


async def _channel(url: str, name: str = "Ops hook", **config) -> Channel:
    return await channels.create_channel(ELSEWHERE, name=name, kind="webhook", config={"url": url, **config},
                                         events=[events.INCIDENT_CREATED])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _links(user: User) -> set[str]:
    try:
        return {link.text for link in user.find(kind=ui.link).elements}
    except AssertionError:
        return set()


async def test_creating_a_webhook_channel_through_the_form(signed_in: User):
    page_id, _ = await acme()
    await signed_in.open("/admin/notifications/new")
    await signed_in.should_see("What it sends")
    signed_in.find(marker="name").type("Ops hook")
    signed_in.find(marker="config-url").type("https://hooks.example.com/beacon")
    signed_in.find(marker="config-secret").type("s3cret")
    signed_in.find(marker="config-headers").type("X-Team: ops")
    signed_in.find(marker=f"event-{events.INCIDENT_CREATED}").click()
    signed_in.find(marker=f"event-{events.COMPONENT_STATUS_CHANGED}").click()
    set_value(signed_in, "pages", [page_id])
    click(signed_in, "Create channel")

    await signed_in.should_see("Channels", retries=50)
    await signed_in.should_see("Ops hook")
    await signed_in.should_see("2 events · 1 page")
    c = await Channel.get(name="Ops hook")
    assert (c.kind, c.config, c.page_ids) == ("webhook", {"url": "https://hooks.example.com/beacon", "secret": "s3cret",
                                                          "headers": {"X-Team": "ops"}}, [page_id])
    assert sorted(c.events) == sorted([events.INCIDENT_CREATED, events.COMPONENT_STATUS_CHANGED])


async def test_component_filter_and_rules_through_the_form(signed_in: User):
    _, component_ids = await acme()
    await signed_in.open("/admin/notifications/new")
    await signed_in.should_see("Rules")
    signed_in.find(marker="name").type("Uptime watch")
    signed_in.find(marker="config-url").type("https://hooks.example.com/uptime")
    signed_in.find(marker=f"event-{events.UPTIME_ALERT}").click()
    set_value(signed_in, "components", [component_ids["API"]])
    set_value(signed_in, "flap-minutes", 0)
    set_value(signed_in, "uptime-window", "7d")
    set_value(signed_in, "uptime-threshold", 100)
    click(signed_in, "Create channel")
    for _ in range(100):  # the service answers after the click
        if element(signed_in, "uptime-threshold").error:
            break
        await asyncio.sleep(0.02)
    assert element(signed_in, "uptime-threshold").error == "A percentage above 0 and below 100, e.g. 99.9."
    assert await Channel.all().count() == 0

    set_value(signed_in, "uptime-threshold", 99.9)
    click(signed_in, "Create channel")
    await signed_in.should_see("Channels", retries=50)
    c = await Channel.get(name="Uptime watch")
    assert c.component_ids == [component_ids["API"]]
    assert c.options == {"flap_minutes": 0, "uptime_window": "7d", "uptime_threshold": 99.9}


async def test_a_bad_url_and_no_events_show_next_to_their_inputs(signed_in: User):
    await signed_in.open("/admin/notifications/new")
    await signed_in.should_see("What it sends")
    signed_in.find(marker="name").type("Ops hook")
    signed_in.find(marker="config-url").type("hooks.example.com")
    click(signed_in, "Create channel")

    await signed_in.should_see("Choose at least one event.")
    assert element(signed_in, "config-url").error == "Enter an http:// or https:// address."
    assert element(signed_in, "name").value == "Ops hook"
    assert await Channel.all().count() == 0

    set_value(signed_in, "kind", "discord")  # the kind's settings are rebuilt for the new kind
    signed_in.find(marker="config-username")
    with pytest.raises(AssertionError):
        signed_in.find(marker="config-secret")


async def test_an_email_channel_through_the_form(signed_in: User):
    from app.notify.channels import KINDS

    if "email" not in KINDS:
        pytest.skip("no e-mail channels yet")
    await signed_in.open("/admin/notifications/new")
    await signed_in.should_see("What it sends")
    set_value(signed_in, "kind", "email")
    assert element(signed_in, "config-port").value == 587
    signed_in.find(marker="name").type("On call")
    signed_in.find(marker="config-host").type("smtp.example.com")
    signed_in.find(marker="config-from_address").type("beacon@example.com")
    signed_in.find(marker="config-to").type("ops@example.com\noncall@example.com")
    signed_in.find(marker=f"event-{events.INCIDENT_CREATED}").click()
    click(signed_in, "Create channel")

    await signed_in.should_see("Channel created", retries=50)
    c = await Channel.get(name="On call")
    assert (c.kind, c.config["host"], c.config["port"], c.config["security"], c.config["to"]) == (
        "email", "smtp.example.com", 587, "starttls", ["ops@example.com", "oncall@example.com"])


async def test_editing_keeps_the_secret_it_does_not_show(signed_in: User):
    c = await _channel("https://hooks.example.com/a", secret="s3cret")
    await signed_in.open(f"/admin/notifications/{c.id}/edit")
    await signed_in.should_see("Edit Ops hook")
    assert element(signed_in, "config-secret").value == "••••"
    signed_in.find(marker="name").clear().type("Renamed hook")
    click(signed_in, "Save channel")

    await signed_in.should_see("Channel saved")
    c = await Channel.get(id=c.id)
    assert (c.name, c.config["secret"]) == ("Renamed hook", "s3cret")


async def test_send_test_reports_acceptance_and_failure(signed_in: User):
    with serve() as base:
        good = await _channel(f"{base}/echo", name="Good hook")
        bad = await _channel(f"http://127.0.0.1:{_closed_port()}/hook", name="Bad hook")
        await signed_in.open("/admin/notifications")
        await signed_in.should_see("Good hook")

        signed_in.find(marker=f"test-{good.id}").click()
        await signed_in.should_see("Test accepted", retries=50)

        signed_in.find(marker=f"test-{bad.id}").click()
        await signed_in.should_see("Test failed: Could not connect", retries=50)


async def test_a_failed_delivery_is_listed_and_retried(signed_in: User):
    c = await _channel(f"http://127.0.0.1:{_closed_port()}/hook")
    d = await Delivery.create(channel=c, event=events.INCIDENT_CREATED, payload={}, status="failed", attempts=3,
                              next_attempt_at=datetime.now(UTC), last_error="HTTP 500: boom",
                              idempotency_key="test-1")
    await Delivery.create(channel=c, event=events.INCIDENT_UPDATED, payload={}, status="sent", attempts=1,
                          next_attempt_at=datetime.now(UTC), sent_at=datetime.now(UTC), idempotency_key="test-2")
    await signed_in.open("/admin/notifications")
    await signed_in.should_see("HTTP 500: boom")
    await signed_in.should_not_see(events.INCIDENT_UPDATED)  # problems only at first

    signed_in.find(marker=f"retry-{d.id}").click()

    await signed_in.should_see("Delivery queued again")
    d = await Delivery.get(id=d.id)
    # pending with fresh attempts, unless the running outbox has tried it once already
    assert (d.status, d.attempts) in {("pending", 0), ("failed", 1)}

    set_value(signed_in, "delivery-filter", "all")
    await signed_in.should_see(f"Ops hook · {events.INCIDENT_UPDATED}")


async def test_the_enabled_switch_and_delete(signed_in: User):
    c = await _channel("https://hooks.example.com/a")
    await signed_in.open("/admin/notifications")
    await signed_in.should_see("Ops hook")
    signed_in.find(marker=f"enabled-{c.id}").click()
    await signed_in.should_see("Channel disabled")
    assert not (await Channel.get(id=c.id)).enabled

    signed_in.find(marker=f"delete-{c.id}").click()
    await signed_in.should_see("Delete 'Ops hook'?")
    click(signed_in, "Delete channel")
    await signed_in.should_see("Channel deleted")
    assert not await Channel.filter(id=c.id).exists()


async def test_a_member_is_refused_and_sees_no_link(user: User):
    c = await _channel("https://hooks.example.com/a")
    await users.create_first_owner(email="first-owner@example.com", password=PASSWORD)
    state.has_owner = True
    await users.create_user(ELSEWHERE, email="person@example.com", password=PASSWORD, role=Role.MEMBER)
    await user.open("/login")
    user.find("E-mail").type("person@example.com")
    user.find("Password").type(PASSWORD)
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)
    assert "Notifications" not in _links(user)
    assert "Monitors" in _links(user)

    await user.open("/admin/notifications")
    await user.should_see("You cannot manage notification channels:")
    await user.should_not_see("Ops hook")
    await user.open(f"/admin/notifications/{c.id}/edit")
    await user.should_see("You cannot manage notification channels:")
    await user.should_not_see("What it sends")


async def test_an_admin_sees_the_link_and_an_unknown_channel_reads_as_missing(signed_in: User):
    await signed_in.open("/admin/notifications/9999/edit")
    await signed_in.should_see("No such channel.")
    assert "Notifications" in _links(signed_in)

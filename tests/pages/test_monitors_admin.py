"""The monitor screens through NiceGUI's simulated user (no browser): creating an HTTP monitor against a local server
with "Test now" first, a bad interval shown on its input, "Check now" filling the uptime figures, bulk pause from
the list, and what READ_ONLY and MEMBER accounts are offered."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User

from app.enums import Role
from app.runtime import state
from app.services import monitoring, users
from storage.models import Monitor
from tests.monitors.http_servers import serve
from tests.pages.screens import ELSEWHERE, acme, click, element, set_value

PASSWORD = "correct horse battery"


async def _manual(name: str, **extra) -> Monitor:
    return await monitoring.create_monitor(ELSEWHERE, name=name, kind="manual", config={"status": "up"}, **extra)


async def _sign_in_as(user: User, role: Role) -> None:
    await users.create_first_owner(email="first-owner@example.com", password=PASSWORD)
    state.has_owner = True
    await users.create_user(ELSEWHERE, email="person@example.com", password=PASSWORD, role=role)
    await user.open("/login")
    user.find("E-mail").type("person@example.com")
    user.find("Password").type(PASSWORD)
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)


def _offers(user: User, text: str) -> bool:
    try:
        return any(button.text == text for button in user.find(kind=ui.button).elements)
    except AssertionError:  # no button at all
        return False


async def test_creating_an_http_monitor_after_testing_it(signed_in: User):
    _, ids = await acme()
    with serve() as base:
        await signed_in.open("/admin/monitors/new")
        await signed_in.should_see("What to check")
        signed_in.find(marker="name").type("Website")
        signed_in.find(marker="config-url").type(f"{base}/")
        set_value(signed_in, "component", ids["API"])

        click(signed_in, "Test now")
        await signed_in.should_see("Test result", retries=50)
        assert element(signed_in, "test-result").props["role"] == "status"
        await signed_in.should_see("Up")
        assert await Monitor.all().count() == 0  # a test saves nothing

        click(signed_in, "Create monitor")
        await signed_in.should_see("Check now", retries=50)
    m = await Monitor.get(name="Website")
    assert (m.kind, m.config["url"], m.component_id, m.interval_seconds) == ("http", f"{base}/", ids["API"], 60)

    await signed_in.open("/admin/monitors")
    await signed_in.should_see("Website")
    await signed_in.should_see("HTTP(S) · API")


async def test_a_bad_interval_and_a_missing_url_show_on_their_inputs(signed_in: User):
    await signed_in.open("/admin/monitors/new")
    await signed_in.should_see("What to check")
    signed_in.find(marker="name").type("Website")
    set_value(signed_in, "interval_seconds", 2)
    click(signed_in, "Create monitor")

    await signed_in.should_see("The interval (seconds) must be between 5 and 86400.")
    assert element(signed_in, "config-url").error == "URL is required"
    assert element(signed_in, "name").value == "Website"
    assert await Monitor.all().count() == 0

    set_value(signed_in, "kind", "manual")  # the kind's settings are rebuilt for the new kind
    with pytest.raises(AssertionError):
        signed_in.find(marker="config-url")
    assert element(signed_in, "config-status").value == "up"


async def test_editing_a_monitor_keeps_its_kind(signed_in: User):
    m = await _manual("Supplier")
    await signed_in.open(f"/admin/monitors/{m.id}/edit")
    await signed_in.should_see("Edit Supplier")
    set_value(signed_in, "config-status", "down")
    signed_in.find(marker="name").clear().type("Card supplier")
    click(signed_in, "Save monitor")

    await signed_in.should_see("Monitor saved")
    m = await Monitor.get(id=m.id)
    assert (m.name, m.kind, m.config["status"]) == ("Card supplier", "manual", "down")


async def test_check_now_fills_the_uptime_figures_and_the_history(signed_in: User):
    m = await _manual("Supplier")
    await signed_in.open(f"/admin/monitors/{m.id}")
    await signed_in.should_see("Response time")
    assert element(signed_in, "uptime-24h").text == "—"

    click(signed_in, "Check now")

    await signed_in.should_see("Checked: Up")
    for window in ("24h", "7d", "30d", "90d"):
        assert element(signed_in, f"uptime-{window}").text == "100 %"
    await signed_in.should_see("Set by hand: up")
    assert element(signed_in, "heartbeats").rows[0]["status"] == "Up"


async def test_pausing_two_monitors_from_the_list(signed_in: User):
    first, second, third = [await _manual(name) for name in ("Alpha", "Beta", "Gamma")]
    await signed_in.open("/admin/monitors")
    await signed_in.should_see("Gamma")
    assert not element(signed_in, "select-all").value
    assert not next(b for b in signed_in.find(kind=ui.button, content="Pause").elements if b.text == "Pause").enabled

    signed_in.find(marker=f"select-{first.id}").click()
    signed_in.find(marker=f"select-{second.id}").click()
    click(signed_in, "Pause")

    await signed_in.should_see("2 monitors paused")
    assert [m.paused for m in await Monitor.all().order_by("name")] == [True, True, False]
    set_value(signed_in, "state-filter", "paused")
    await signed_in.should_not_see("Gamma")
    await signed_in.should_see("Alpha")
    assert third.id


async def test_a_long_list_draws_a_hundred_rows_and_shows_more_on_request(signed_in: User, monkeypatch):
    from pages.admin import monitors as screen

    monkeypatch.setattr(screen, "PAGE_SIZE", 3)
    for n in range(7):
        await _manual(f"Check {n}")
    await signed_in.open("/admin/monitors")
    await signed_in.should_see("Check 2")
    await signed_in.should_not_see("Check 3")
    signed_in.find(marker="show-more").click()
    await signed_in.should_see("Check 5")
    await signed_in.should_not_see("Check 6")
    assert element(signed_in, "show-more").text == "Show 1 more (1 not shown)"


async def test_a_push_monitor_shows_its_url(signed_in: User):
    m = await monitoring.create_monitor(ELSEWHERE, name="Nightly backup", kind="push", interval=3600)
    await signed_in.open(f"/admin/monitors/{m.id}")
    await signed_in.should_see("Push URL")
    assert element(signed_in, "push-url").text.endswith(f"/api/push/{m.push_token}")


async def test_read_only_sees_no_changes_and_cannot_open_the_form(user: User):
    m = await _manual("Supplier")
    await _sign_in_as(user, Role.READ_ONLY)

    await user.open("/admin/monitors")
    await user.should_see("Supplier")
    assert not any(_offers(user, text) for text in ("New monitor", "Pause", "Resume"))
    with pytest.raises(AssertionError):
        user.find(marker=f"select-{m.id}")

    await user.open(f"/admin/monitors/{m.id}")
    await user.should_see("Response time")
    assert not any(_offers(user, text) for text in ("Check now", "Pause", "Edit", "Delete"))

    await user.open("/admin/monitors/new")
    await user.should_see("You cannot create monitors:")
    await user.should_not_see("What to check")
    await user.open(f"/admin/monitors/{m.id}/edit")
    await user.should_see("You cannot edit monitors:")


async def test_a_member_may_check_and_edit_but_not_delete(user: User):
    m = await _manual("Supplier")
    await _sign_in_as(user, Role.MEMBER)

    await user.open(f"/admin/monitors/{m.id}")
    await user.should_see("Response time")
    assert [_offers(user, text) for text in ("Check now", "Pause", "Edit", "Delete")] == [True, True, True, False]


async def test_an_admin_deletes_after_confirming(signed_in: User):
    m = await _manual("Supplier")
    await signed_in.open(f"/admin/monitors/{m.id}")
    await signed_in.should_see("Response time")

    click(signed_in, "Delete")
    await signed_in.should_see("Delete 'Supplier'?")
    click(signed_in, "Delete monitor")

    await signed_in.should_see("Monitor deleted")
    assert not await Monitor.filter(id=m.id).exists()


async def test_an_unknown_monitor_reads_as_missing(signed_in: User):
    await signed_in.open("/admin/monitors/9999")
    await signed_in.should_see("No such monitor.")

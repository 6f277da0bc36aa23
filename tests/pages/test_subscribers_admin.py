"""/admin/subscribers through NiceGUI's simulated user: the list with its filters, removing one subscriber after
confirming, the CSV export of the filtered page, a member's refusal, the subscriber mail server form (a bad port on
its input, the password kept masked); and /admin/preview/{slug}/subscribe, where signed-in staff subscribe their own
account's address to a private page (through the simulated user's HTTP client, which carries its session)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime

from nicegui import ui
from nicegui.testing import User

from app import html
from app.enums import Role
from app.runtime import state
from app.services import pages, users
from app.services.validation import SECRET_MASK
from storage.models import AuditEntryRow, Delivery, InstallSetting, StatusPage, Subscriber, Team
from tests.conftest import settle
from tests.pages.screens import ELSEWHERE, acme, click, element, set_value

PASSWORD = "correct horse battery"
SUBSCRIBED = datetime(2025, 3, 4, 5, 6, tzinfo=UTC)


async def _subscriber(page_id: int, address: str, kind: str = "email", *, confirmed: bool = True,
                      components: list[int] | None = None) -> Subscriber:
    row = await Subscriber.create(page_id=page_id, kind=kind, address=address, nonce="x",
                                  component_ids=components or [], confirmed_at=SUBSCRIBED if confirmed else None)
    await Subscriber.filter(id=row.id).update(created_at=SUBSCRIBED)
    return row


async def _sign_in(user: User, email: str, password: str = PASSWORD) -> None:
    await user.open("/login")
    user.find("E-mail").type(email)
    user.find("Password").type(password)
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)


def _links(user: User) -> set[str]:
    try:
        return {link.text for link in user.find(kind=ui.link).elements}
    except AssertionError:
        return set()


async def _error_of(user: User, marker: str) -> str | None:
    """The message on an input once the save's answer has arrived."""
    for _ in range(50):
        if error := element(user, marker).error:
            return error
        await asyncio.sleep(0.05)
    return None


async def test_an_admin_sees_the_subscribers_and_filters_them_by_kind_and_address(signed_in: User):
    page_id, ids = await acme()
    alice = await _subscriber(page_id, "alice@example.com", components=[ids["API"]])
    bob = await _subscriber(page_id, "bob@example.com", confirmed=False)
    hook = await _subscriber(page_id, "https://hooks.example.com/status", kind="webhook")

    await signed_in.open("/admin/subscribers")
    await signed_in.should_see("3 subscribers")
    await signed_in.should_see("alice@example.com")
    await signed_in.should_see("acme · API")  # alice chose one component
    await signed_in.should_see(marker=f"confirmed-{alice.id}")
    await signed_in.should_see(marker=f"waiting-{bob.id}")
    await signed_in.should_see("Waiting for confirmation")
    await signed_in.should_see(html.local_time(SUBSCRIBED, "UTC"))
    assert "Subscribers" in _links(signed_in)

    set_value(signed_in, "filter-kind", "webhook")
    await signed_in.should_see("1 subscriber")
    await signed_in.should_see(marker=f"subscriber-{hook.id}")
    await signed_in.should_see("acme · Whole page")
    await signed_in.should_not_see(marker=f"subscriber-{alice.id}")

    set_value(signed_in, "filter-kind", "")
    signed_in.find(marker="filter-search").type("BOB@")
    await signed_in.should_see("1 subscriber")
    await signed_in.should_see(marker=f"subscriber-{bob.id}")
    await signed_in.should_not_see(marker=f"subscriber-{alice.id}")
    await signed_in.should_not_see(marker=f"subscriber-{hook.id}")


async def test_show_more_lists_the_rest(signed_in: User):
    page_id, _ = await acme()
    for n in range(103):
        await _subscriber(page_id, f"person{n:03d}@example.com")
    await signed_in.open("/admin/subscribers")
    await signed_in.should_see("103 subscribers")
    await signed_in.should_see("Showing 100 of 103")
    await signed_in.should_not_see("person000@example.com")  # newest first: the first three come last

    click(signed_in, "Show more")
    await signed_in.should_see("person000@example.com")
    await signed_in.should_not_see("Show more")


async def test_removing_a_subscriber_after_confirming(signed_in: User):
    page_id, _ = await acme()
    alice = await _subscriber(page_id, "alice@example.com")
    bob = await _subscriber(page_id, "bob@example.com")
    await signed_in.open("/admin/subscribers")
    await signed_in.should_see("2 subscribers")

    signed_in.find(marker=f"remove-{alice.id}").click()
    await signed_in.should_see("Remove alice@example.com?")
    click(signed_in, "Remove subscriber")

    await signed_in.should_see("Subscriber removed")
    await signed_in.should_see("1 subscriber")
    await signed_in.should_not_see(marker=f"subscriber-{alice.id}")
    await signed_in.should_see(marker=f"subscriber-{bob.id}")
    assert await Subscriber.filter(id=alice.id).count() == 0
    entry = await AuditEntryRow.get(action="subscriber.remove")
    assert (entry.entity_id, entry.actor_label) == (str(alice.id), "owner@example.com")
    assert entry.changes["address"]["old"] == "alice@example.com"


async def test_exporting_the_chosen_pages_subscribers_as_csv(signed_in: User):
    page_id, _ = await acme()
    other = await pages.create_page(ELSEWHERE, title="Other", slug="other")
    await settle()
    await _subscriber(page_id, "alice@example.com")
    await _subscriber(page_id, "=cmd@example.com")
    await _subscriber(other.id, "carol@example.com")
    await signed_in.open("/admin/subscribers")
    await signed_in.should_see("3 subscribers")

    set_value(signed_in, "filter-page", page_id)
    await signed_in.should_see("2 subscribers")
    click(signed_in, "Export CSV")
    download = await signed_in.download.next(timeout=5)

    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0] == ["id", "page", "kind", "address", "components", "confirmed", "created_at"]
    assert sorted((r[1], r[3]) for r in rows[1:]) == [("acme", "'=cmd@example.com"), ("acme", "alice@example.com")]


async def test_a_member_is_refused_and_sees_no_link(user: User):
    page_id, _ = await acme()
    await _subscriber(page_id, "alice@example.com")
    await users.create_first_owner(email="first-owner@example.com", password=PASSWORD)
    state.has_owner = True
    await users.create_user(ELSEWHERE, email="person@example.com", password=PASSWORD, role=Role.MEMBER)
    await _sign_in(user, "person@example.com")
    assert "Subscribers" not in _links(user)

    await user.open("/admin/subscribers")
    await user.should_see("You cannot manage subscribers:")
    await user.should_not_see("alice@example.com")
    await user.should_not_see("Subscriber mail")


async def test_the_mail_server_form_shows_a_bad_port_then_saves_and_keeps_the_password_masked(signed_in: User):
    await signed_in.open("/admin/subscribers")
    await signed_in.should_see("Subscriber mail")
    await signed_in.should_see("No mail server set")
    signed_in.find(marker="mail-host").type("smtp.example.com")
    signed_in.find(marker="mail-from_address").type("status@example.com")
    signed_in.find(marker="mail-username").type("beacon")
    signed_in.find(marker="mail-password").type("s3cret")
    set_value(signed_in, "mail-port", 70000)
    click(signed_in, "Save mail server")

    assert await _error_of(signed_in, "mail-port") == "The port is a number from 1 to 65535."
    assert (await InstallSetting.filter(key="subscriber_mail").first()) is None

    set_value(signed_in, "mail-port", 465)
    set_value(signed_in, "mail-security", "tls")
    click(signed_in, "Save mail server")
    await signed_in.should_see("Mail server saved")
    stored = (await InstallSetting.get(key="subscriber_mail")).value
    assert stored == {"host": "smtp.example.com", "port": 465, "security": "tls", "username": "beacon",
                      "password": "s3cret", "from_address": "status@example.com", "verify_tls": True}

    await signed_in.open("/admin/subscribers")  # the password comes back masked, and saving keeps it
    await signed_in.should_see("Subscriber mail")
    await signed_in.should_not_see("No mail server set")
    assert element(signed_in, "mail-password").value == SECRET_MASK
    assert element(signed_in, "mail-port").value == 465
    signed_in.find(marker="mail-host").clear().type("mail.example.com")
    signed_in.notify.messages.clear()  # the first save's "Mail server saved" must not count
    click(signed_in, "Save mail server")
    await signed_in.should_see("Mail server saved")
    stored = (await InstallSetting.get(key="subscriber_mail")).value
    assert (stored["host"], stored["password"]) == ("mail.example.com", "s3cret")


async def test_a_bad_from_address_shows_on_its_input_and_the_server_can_be_removed(signed_in: User):
    await InstallSetting.create(key="subscriber_mail", value={"host": "smtp.example.com", "port": 587,
                                                              "security": "starttls", "from_address": "a@example.com"})
    await signed_in.open("/admin/subscribers")
    await signed_in.should_see("Subscriber mail")
    signed_in.find(marker="mail-from_address").clear().type("not an address")
    click(signed_in, "Save mail server")
    assert await _error_of(signed_in, "mail-from_address") == "'not an address' is not an e-mail address."

    click(signed_in, "Remove mail server")
    await signed_in.should_see("Remove the mail server?")
    click(signed_in, "Remove the server")
    await signed_in.should_see("Mail server removed")
    assert (await InstallSetting.get(key="subscriber_mail")).value is None
    await signed_in.should_see("No mail server set")


# --- /admin/preview/{slug}/subscribe ---------------------------------------------------------------------------------

async def _private_acme() -> tuple[int, dict[str, int]]:
    page_id, ids = await acme()
    await pages.update_page(ELSEWHERE, page_id, public=False)
    await settle()
    return page_id, ids


async def test_staff_subscribe_their_own_address_to_a_private_page_and_others_get_404(user: User):
    page_id, ids = await _private_acme()
    form = {"kind": "email", "email": "someone-else@example.com", "components": [str(ids["API"])]}
    anonymous = await user.http_client.get("/admin/preview/acme/subscribe")
    anonymous_post = await user.http_client.post("/admin/preview/acme/subscribe", data=form)
    public_form = await user.http_client.get("/status/acme/subscribe")
    assert (anonymous.status_code, anonymous_post.status_code, public_form.status_code) == (404, 404, 404)
    assert "Acme" not in anonymous.text

    owner = await users.create_first_owner(email="owner@example.com", password=PASSWORD)
    state.has_owner = True
    await _sign_in(user, "owner@example.com")
    shown = await user.http_client.get("/admin/preview/acme/subscribe")
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "private, no-store"
    assert 'value="owner@example.com"' in shown.text
    assert 'action="/admin/preview/acme/subscribe"' in shown.text
    assert "Database" in shown.text  # the page's components to choose from

    answer = await user.http_client.post("/admin/preview/acme/subscribe", data=form)
    assert answer.status_code == 200
    assert "You are subscribed" in answer.text and "owner@example.com" in answer.text
    row = await Subscriber.get(page_id=page_id)
    assert (row.kind, row.address, row.user_id, row.component_ids) == ("email", "owner@example.com", owner.id,
                                                                       [ids["API"]])
    assert row.confirmed_at is not None
    assert await Subscriber.filter(address="someone-else@example.com").count() == 0
    assert await Delivery.all().count() == 0  # no confirmation mail for the account's own address

    wrong = await user.http_client.post("/admin/preview/acme/subscribe", data={"components": ["99999"]})
    assert wrong.status_code == 422
    assert "Component 99999 is not on this page." in wrong.text
    assert (await Subscriber.get(id=row.id)).component_ids == [ids["API"]]


async def test_a_member_subscribes_to_their_teams_private_page_but_not_another_teams(user: User):
    alpha = await pages.create_page(ELSEWHERE, title="Alpha Cloud", slug="alpha", public=False)
    bravo = await pages.create_page(ELSEWHERE, title="Bravo Cloud", slug="bravo", public=False)
    await users.create_first_owner(email="owner@example.com", password=PASSWORD)
    state.has_owner = True
    member = await users.create_user(ELSEWHERE, email="member@alpha.test", password=PASSWORD, role=Role.MEMBER)
    team_a, team_b = await Team.create(name="Alpha"), await Team.create(name="Bravo")
    await team_a.members.add(member)
    await StatusPage.filter(id=alpha.id).update(team_id=team_a.id)
    await StatusPage.filter(id=bravo.id).update(team_id=team_b.id)
    await settle()
    await _sign_in(user, "member@alpha.test")

    own = await user.http_client.post("/admin/preview/alpha/subscribe", data={})
    other_form = await user.http_client.get("/admin/preview/bravo/subscribe")
    other = await user.http_client.post("/admin/preview/bravo/subscribe", data={})

    assert own.status_code == 200 and "member@alpha.test" in own.text
    assert (other_form.status_code, other.status_code) == (404, 404)
    assert "Bravo Cloud" not in other_form.text
    assert await Subscriber.filter(page_id=alpha.id, address="member@alpha.test", user_id=member.id).count() == 1
    assert await Subscriber.filter(page_id=bravo.id).count() == 0

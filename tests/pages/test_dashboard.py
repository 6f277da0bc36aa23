"""The admin dashboard through NiceGUI's simulated user: every page's status at a glance, following changes made
elsewhere without a reload, quick status changes, and forms that explain bad input as it is typed."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.auth import Actor
from app.enums import ComponentStatus
from app.services import components, pages
from app.snapshot import store
from tests.conftest import settle

# "someone else": the API, a monitor or another admin, writing through the same services
ELSEWHERE = Actor.system("test-elsewhere")


async def _page_with(names: list[str], slug: str = "acme", **statuses: ComponentStatus) -> dict[str, int]:
    """A status page with the named components (``statuses`` by name; operational otherwise); their ids."""
    page = await pages.create_page(ELSEWHERE, title="Acme Cloud", slug=slug)
    group = await components.create_group(ELSEWHERE, page_id=page.id, name="Core")
    ids = {}
    for name in names:
        component = await components.create_component(
            ELSEWHERE, name=name, pages=[page.id], group_id=group.id,
            status=statuses.get(name, ComponentStatus.OPERATIONAL))
        ids[name] = component.id
    await settle()
    return ids


def _status_order(user: User) -> list[str]:
    """The components' status selects as the page lays them out, top to bottom."""
    assert user.client is not None
    return [e.props["aria-label"].removeprefix("Status of ") for e in user.client.layout.descendants()
            if isinstance(e, ui.select)]


def _select(user: User, component_id: int) -> ui.select:
    return next(iter(user.find(marker=f"status-{component_id}").elements))


def _button(user: User, text: str) -> ui.button:
    return next(iter(user.find(kind=ui.button, content=text).elements))


async def test_each_page_shows_its_indicator_and_how_many_components_are_not_operational(signed_in: User):
    await _page_with(["API", "Search", "Billing"], Search=ComponentStatus.DEGRADED)
    await signed_in.open("/admin")
    await signed_in.should_see("Acme Cloud")
    await signed_in.should_see("Minor Service Outage")
    await signed_in.should_see("1 of 3 not operational")
    await signed_in.should_see("Core")  # the group each component belongs to


async def test_a_status_change_made_elsewhere_shows_without_reload_worst_first(signed_in: User):
    ids = await _page_with(["API", "Search", "Billing"], Search=ComponentStatus.DEGRADED)
    await signed_in.open("/admin")
    await signed_in.should_see("1 of 3 not operational")
    assert _status_order(signed_in) == ["Search", "API", "Billing"]

    await components.set_status(ELSEWHERE, ids["Billing"], ComponentStatus.MAJOR_OUTAGE)
    await settle()

    await signed_in.should_see("Major System Outage")
    await signed_in.should_see("2 of 3 not operational")
    assert _select(signed_in, ids["Billing"]).value == "MAJOR_OUTAGE"
    assert _status_order(signed_in) == ["Billing", "Search", "API"]

    await components.set_status(ELSEWHERE, ids["Billing"], ComponentStatus.OPERATIONAL)
    await components.set_status(ELSEWHERE, ids["Search"], ComponentStatus.OPERATIONAL)
    await settle()
    await signed_in.should_see("All Systems Operational")
    await signed_in.should_see("3 components · all operational")
    assert _status_order(signed_in) == ["API", "Search", "Billing"]  # back in the page's own order


async def test_quick_status_change_confirms_and_updates_the_indicator(signed_in: User):
    ids = await _page_with(["API"])
    await signed_in.open("/admin")
    await signed_in.should_see("All Systems Operational")

    signed_in.find(marker=f"status-{ids['API']}").click()
    signed_in.find("Partial outage").click()

    await signed_in.should_see("API: Partial outage")
    await settle()
    await signed_in.should_see("Partial System Outage")
    await signed_in.should_see("1 of 1 not operational")
    assert (await components.get_component(ids["API"])).status is ComponentStatus.PARTIAL_OUTAGE


async def test_page_card_links_to_the_public_page_its_editor_and_its_structure(signed_in: User):
    await _page_with(["API"])
    page = await pages.find_page("acme")
    await signed_in.open("/admin")
    await signed_in.should_see("/status/acme")
    view = _button(signed_in, "View")
    assert (view.props["href"], view.props["target"]) == ("/status/acme", "_blank")
    assert _button(signed_in, "Edit page").props["href"] == f"/admin/pages/{page.id}"
    assert _button(signed_in, "Structure").props["href"] == f"/admin/pages/{page.id}/structure"


async def test_pages_created_and_deleted_elsewhere_come_and_go_without_reload(signed_in: User):
    await signed_in.open("/admin")
    await signed_in.should_see("No status pages yet")

    page = await pages.create_page(ELSEWHERE, title="Made by the API", slug="by-api")
    await settle()
    await signed_in.should_see("Made by the API")
    await signed_in.should_see("/status/by-api")
    await signed_in.should_not_see("No status pages yet")

    await pages.delete_page(ELSEWHERE, page.id)
    await settle()
    await signed_in.should_not_see("Made by the API")
    await signed_in.should_see("No status pages yet")


async def test_slug_problems_show_while_typing_and_disable_create(signed_in: User):
    from storage.models import StatusPage

    await pages.create_page(ELSEWHERE, title="Taken", slug="taken")
    await signed_in.open("/admin")
    signed_in.find("Title").type("Acme Cloud")

    signed_in.find("Slug").type("acme cloud")
    await signed_in.should_see("A slug cannot contain spaces")
    assert not _button(signed_in, "Create page").enabled

    signed_in.find("Slug").clear().type("acme-cloud")
    await signed_in.should_not_see("A slug cannot contain spaces")
    assert _button(signed_in, "Create page").enabled

    signed_in.find("Slug").clear().type("taken")
    await signed_in.should_see("The slug 'taken' is already used by another page.")  # looked up, not submitted
    assert not _button(signed_in, "Create page").enabled
    assert await StatusPage.filter(title="Acme Cloud").count() == 0


async def test_blank_component_name_is_reported_as_it_is_typed(signed_in: User):
    await _page_with([])
    await signed_in.open("/admin")
    await signed_in.should_see("No components yet")

    signed_in.find("New component name").type("   ")

    await signed_in.should_see("Enter a component name.")
    assert not _button(signed_in, "Add component").enabled

    signed_in.find("New component name").clear().type("API")
    await signed_in.should_not_see("Enter a component name.")
    signed_in.find("Add component").click()
    await signed_in.should_see("Component 'API' added")
    await settle()
    await signed_in.should_see("1 component · all operational")
    assert _status_order(signed_in) == ["API"]


async def test_a_closed_dashboard_stops_following_its_pages(signed_in: User):
    await _page_with(["API"])
    page = await pages.find_page("acme")
    await signed_in.open("/admin")
    await signed_in.should_see("Acme Cloud")
    following = store.listener_count(page.id)  # the simulated user never closes the dashboard of its sign-in
    assert following >= 1

    assert signed_in.client is not None
    signed_in.client.delete()  # what NiceGUI does once the browser has been gone past the reconnect timeout

    assert store.listener_count(page.id) == following - 1


async def test_a_read_only_user_sees_every_status_but_is_offered_no_change(user: User):
    from app.runtime import state
    from app.services import users

    ids = await _page_with(["API"], API=ComponentStatus.DEGRADED)
    await users.create_first_owner(email="owner@example.com", password="correct horse")
    await users.create_user(ELSEWHERE, email="viewer@example.com", password="correct horse", role="READ_ONLY")
    state.has_owner = True
    await user.open("/login")
    user.find("E-mail").type("viewer@example.com")
    user.find("Password").type("correct horse")
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)

    await user.should_see("Minor Service Outage")
    assert not _select(user, ids["API"]).enabled
    await user.should_not_see("New status page")
    await user.should_not_see("New component name")

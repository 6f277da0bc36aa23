"""The structure editor through NiceGUI's simulated user (no JavaScript, so no dragging here: the drag itself is
tests/browser/test_drag_and_drop.py). Groups are added, nested, renamed and deleted; components are moved with the
row menu and put on or taken off the page; bad input gets a message on the spot."""

from __future__ import annotations

import asyncio

import pytest
from nicegui import ui
from nicegui.testing import User

from app.auth import Actor
from app.enums import ComponentStatus
from app.services import components, groups, pages
from app.snapshot import GroupView, store
from storage.models import ComponentGroup
from tests.conftest import settle

ELSEWHERE = Actor.system("test-elsewhere")


@pytest.fixture
async def acme() -> dict[str, int]:
    """Page 'acme': Website, group API (REST), and the component Mail shown on another page only."""
    page = await pages.create_page(ELSEWHERE, title="Acme Cloud", slug="acme")
    other = await pages.create_page(ELSEWHERE, title="Mailroom", slug="mailroom")
    website = await components.create_component(ELSEWHERE, name="Website", pages=[page.id])
    api = await groups.create_group(ELSEWHERE, page.id, "API")
    rest = await components.create_component(ELSEWHERE, name="REST", pages=[page.id], group_id=api.id)
    mail = await components.create_component(ELSEWHERE, name="Mail", pages=[other.id])
    await settle()
    return {"page": page.id, "Website": website.id, "API": api.id, "REST": rest.id, "Mail": mail.id}


def outline(items) -> list:
    return [(i.name, outline(i.items)) if isinstance(i, GroupView) else i.name for i in items]


async def page_outline(slug: str = "acme") -> list:
    await settle()
    return outline(store.by_slug(slug).items)


def the(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


def texts_in(user: User, marker: str) -> list[str]:
    """The labels shown inside the element marked ``marker`` (none when it is not shown), top to bottom."""
    assert user.client is not None
    found = [e for e in user.client.layout.descendants() if marker in e._markers]
    return [e.text for e in found[0].descendants() if isinstance(e, ui.label)] if found else []


def badge(user: User, marker: str) -> str:
    """The status badge of the component or group marked ``marker`` (a group's comes before its contents')."""
    element = the(user, marker)
    return next(e.text for e in element.descendants() if isinstance(e, ui.label) and "data-status" in e.props)


async def shows_in(user: User, marker: str, text: str, present: bool = True) -> None:
    """Wait (with a deadline) until ``text`` is, or is no longer, shown inside the element marked ``marker``."""
    deadline = asyncio.get_running_loop().time() + 3
    while (text in texts_in(user, marker)) != present:
        assert asyncio.get_running_loop().time() < deadline, f"{text!r} in {marker}: {texts_in(user, marker)}"
        await asyncio.sleep(0.05)


async def open_editor(user: User, acme: dict[str, int]) -> None:
    await user.open(f"/admin/pages/{acme['page']}/structure")
    await user.should_see("Structure of Acme Cloud")


async def test_the_editor_requires_sign_in(user: User, acme):
    from app.runtime import state
    from app.services import users

    await users.create_first_owner(email="owner@example.com", password="correct horse")
    state.has_owner = True
    await user.open(f"/admin/pages/{acme['page']}/structure")
    await user.should_see("Sign in to Beacon")
    await user.should_not_see("Components and groups")


async def test_the_editor_shows_the_tree_with_each_status(signed_in: User, acme):
    await components.set_status(ELSEWHERE, acme["REST"], ComponentStatus.MAJOR_OUTAGE)
    await settle()

    await open_editor(signed_in, acme)

    await signed_in.should_see("Website")
    assert badge(signed_in, f"group-{acme['API']}") == "Major outage"  # the worst inside
    await signed_in.should_see(marker=f"component-{acme['REST']}")


async def test_a_group_added_inside_another_shows_nested_on_the_public_page(signed_in: User, acme):
    await open_editor(signed_in, acme)

    signed_in.find("New group name").type("Regions")
    signed_in.find("Add group").click()
    await signed_in.should_see("Group 'Regions' added")
    regions = await ComponentGroup.get(page_id=acme["page"], name="Regions")
    the(signed_in, "new-group-parent").set_value(regions.id)
    signed_in.find("New group name").type("Europe")
    signed_in.find("Add group").click()
    await signed_in.should_see("Group 'Europe' added")

    await shows_in(signed_in, f"group-{regions.id}", "Europe")
    assert await page_outline() == ["Website", ("API", ["REST"]), ("Regions", [("Europe", [])])]


async def test_a_blank_group_name_is_explained_and_nothing_is_added(signed_in: User, acme):
    await open_editor(signed_in, acme)

    signed_in.find("New group name").type("   ")
    signed_in.find("Add group").click()

    await signed_in.should_see("Enter a group name.")
    assert await ComponentGroup.filter(page_id=acme["page"]).count() == 1


async def test_renaming_a_group_shows_the_new_name_and_a_blank_one_is_refused(signed_in: User, acme):
    await open_editor(signed_in, acme)

    signed_in.find(marker=f"rename-{acme['API']}").click()
    signed_in.find("Group name").clear().type("   ")
    signed_in.find("Save").click()
    await signed_in.should_see("Enter a group name.")
    assert (await page_outline())[1][0] == "API"

    signed_in.find("Group name").clear().type("Public API")
    signed_in.find("Save").click()
    await signed_in.should_see("Group renamed to 'Public API'")
    await shows_in(signed_in, f"group-{acme['API']}", "Public API")
    assert await page_outline() == ["Website", ("Public API", ["REST"])]


async def test_the_row_menu_moves_a_component_into_the_group_above_and_out_again(signed_in: User, acme):
    await groups.move(ELSEWHERE, acme["page"], "group", acme["API"], None, 0)
    await open_editor(signed_in, acme)

    signed_in.find(marker=f"move-component-{acme['Website']}").click()
    await signed_in.should_see("Move into API")
    signed_in.find(kind=ui.menu_item, marker=f"move-component-{acme['Website']}-into").click()
    await shows_in(signed_in, f"group-{acme['API']}", "Website")
    assert await page_outline() == [("API", ["REST", "Website"])]

    signed_in.find(marker=f"move-component-{acme['Website']}").click()
    signed_in.find(kind=ui.menu_item, marker=f"move-component-{acme['Website']}-out").click()
    await shows_in(signed_in, f"group-{acme['API']}", "Website", present=False)
    assert await page_outline() == [("API", ["REST"]), "Website"]


async def test_deleting_a_group_keeps_what_it_held_on_the_page(signed_in: User, acme):
    await open_editor(signed_in, acme)

    signed_in.find(marker=f"delete-{acme['API']}").click()
    await signed_in.should_see("The 1 item inside it move up to the top level, in its place.")
    signed_in.find(kind=ui.button, content="Delete group").click()

    await signed_in.should_see("Group 'API' deleted")
    await signed_in.should_not_see(marker=f"group-{acme['API']}")
    assert await page_outline() == ["Website", "REST"]


async def test_a_component_of_another_page_can_be_shown_here_and_taken_off_again(signed_in: User, acme):
    await open_editor(signed_in, acme)

    the(signed_in, "place-component").set_value(acme["Mail"])
    the(signed_in, "place-parent").set_value(acme["API"])
    signed_in.find("Add to this page").click()
    await signed_in.should_see("'Mail (on Mailroom)' added to this page")
    assert await page_outline() == ["Website", ("API", ["REST", "Mail"])]
    assert await page_outline("mailroom") == ["Mail"]

    signed_in.find(marker=f"remove-{acme['Mail']}").click()
    await signed_in.should_see("'Mail' removed from this page")
    assert await page_outline() == ["Website", ("API", ["REST"])]
    assert await page_outline("mailroom") == ["Mail"]


async def test_a_change_made_elsewhere_shows_without_reload(signed_in: User, acme):
    await open_editor(signed_in, acme)
    await signed_in.should_not_see("Payments")

    await components.create_component(ELSEWHERE, name="Payments", pages=[acme["page"]], group_id=acme["API"],
                                      status=ComponentStatus.DEGRADED)
    await settle()

    await shows_in(signed_in, f"group-{acme['API']}", "Payments")
    await shows_in(signed_in, f"group-{acme['API']}", "Degraded performance")


async def test_a_status_change_elsewhere_updates_the_badges_without_redrawing_the_tree(signed_in: User, acme):
    await open_editor(signed_in, acme)
    row = the(signed_in, f"component-{acme['REST']}")

    await components.set_status(ELSEWHERE, acme["REST"], ComponentStatus.PARTIAL_OUTAGE)
    await settle()

    await shows_in(signed_in, f"component-{acme['REST']}", "Partial outage")
    assert badge(signed_in, f"group-{acme['API']}") == "Partial outage"  # the group's own: the worst inside
    # the same row element: a drag in progress would have survived
    assert the(signed_in, f"component-{acme['REST']}") is row

"""A page's structure through the services, on SQLite and PostgreSQL: nested groups, moving components and groups
between levels, components on several pages, and what each change leaves behind (audit entry, event)."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth import Actor
from app.enums import ComponentStatus, Role
from app.services import components, groups, pages
from app.services.errors import Forbidden, Invalid
from app.snapshot import GroupView, PageSnapshot, store
from storage.models import AuditEntryRow, ComponentGroup, Placement
from tests.conftest import settle

OWNER = Actor.system("test")
READ_ONLY = Actor(kind="user", id=1, label="ro@x", role=Role.READ_ONLY)
Outline = list[Any]  # a name for a component, (name, [its items]) for a group


def outline(items) -> Outline:
    """What a visitor sees, top to bottom: components by name, groups as (name, their items)."""
    return [(item.name, outline(item.items)) if isinstance(item, GroupView) else item.name for item in items]


async def page_outline(slug: str) -> Outline:
    await settle()
    return outline(store.by_slug(slug).items)


async def level_positions(page_id: int, group_id: int | None) -> list[int]:
    """The stored positions of one level, components and groups together, in ascending order."""
    found = await ComponentGroup.filter(page_id=page_id, parent_id=group_id).values_list("position", flat=True)
    found += await Placement.filter(page_id=page_id, group_id=group_id).values_list("position", flat=True)
    return sorted(found)


def group_named(snapshot: PageSnapshot, name: str) -> GroupView:
    return next(g for g in snapshot.all_groups if g.name == name)


@pytest.fixture
async def acme() -> dict[str, int]:
    """Page 'acme': Website, then group API (REST, Search), then group Regions (US, group Europe (Frankfurt,
    group Germany (Berlin))), then Billing — three levels of groups below the page."""
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    ids = {"page": page.id}

    async def component(name: str, group: str | None = None) -> None:
        made = await components.create_component(OWNER, name=name, pages=[page.id],
                                                 group_id=ids[group] if group else None)
        ids[name] = made.id

    async def group(name: str, parent: str | None = None) -> None:
        ids[name] = (await groups.create_group(OWNER, page.id, name, ids[parent] if parent else None)).id

    await component("Website")
    await group("API")
    await component("REST", "API")
    await component("Search", "API")
    await group("Regions")
    await component("US", "Regions")
    await group("Europe", "Regions")
    await component("Frankfurt", "Europe")
    await group("Germany", "Europe")
    await component("Berlin", "Germany")
    await component("Billing")
    await settle()
    return ids


ACME = ["Website", ("API", ["REST", "Search"]),
        ("Regions", ["US", ("Europe", ["Frankfurt", ("Germany", ["Berlin"])])]), "Billing"]


async def test_new_groups_and_components_go_last_on_their_own_level(beacon, acme):
    assert await page_outline("acme") == ACME
    for group_id in (None, acme["API"], acme["Regions"], acme["Europe"], acme["Germany"]):
        positions = await level_positions(acme["page"], group_id)
        assert positions == list(range(len(positions)))


async def test_a_new_component_goes_last_even_after_a_deletion_left_a_gap(beacon, acme):
    await components.delete_component(OWNER, acme["Website"])
    await components.delete_component(OWNER, acme["Billing"])  # the top level keeps API at 1 and Regions at 2

    await components.create_component(OWNER, name="Status widget", pages=[acme["page"]])

    assert await page_outline("acme") == [ACME[1], ACME[2], "Status widget"]


async def test_a_group_shows_the_worst_status_inside_it_through_three_levels(beacon, acme):
    await components.set_status(OWNER, acme["Berlin"], ComponentStatus.MAJOR_OUTAGE)
    await components.set_status(OWNER, acme["Frankfurt"], ComponentStatus.DEGRADED)
    await components.set_status(OWNER, acme["US"], ComponentStatus.MAINTENANCE)
    await settle()

    snapshot = store.by_slug("acme")
    assert group_named(snapshot, "Germany").status == ComponentStatus.MAJOR_OUTAGE
    assert group_named(snapshot, "Europe").status == ComponentStatus.MAJOR_OUTAGE
    assert group_named(snapshot, "Regions").status == ComponentStatus.MAJOR_OUTAGE
    assert group_named(snapshot, "API").status == ComponentStatus.OPERATIONAL
    assert snapshot.indicator.description == "Major System Outage"

    await components.set_status(OWNER, acme["Berlin"], ComponentStatus.OPERATIONAL)
    await settle()

    snapshot = store.by_slug("acme")
    assert group_named(snapshot, "Germany").status == ComponentStatus.OPERATIONAL
    assert group_named(snapshot, "Europe").status == ComponentStatus.DEGRADED
    # maintenance counts only when nothing inside is worse
    assert group_named(snapshot, "Regions").status == ComponentStatus.DEGRADED


async def test_moving_within_a_level_reorders_it_and_renumbers_it(beacon, acme):
    await groups.move(OWNER, acme["page"], "component", acme["Billing"], None, 0)

    assert await page_outline("acme") == ["Billing", "Website", ACME[1], ACME[2]]
    assert await level_positions(acme["page"], None) == [0, 1, 2, 3]

    await groups.move(OWNER, acme["page"], "group", acme["API"], None, 3)

    assert await page_outline("acme") == ["Billing", "Website", ACME[2], ACME[1]]
    assert await level_positions(acme["page"], None) == [0, 1, 2, 3]


async def test_moving_a_component_into_a_nested_group_puts_it_there_at_the_index(beacon, acme):
    await groups.move(OWNER, acme["page"], "component", acme["Website"], acme["Germany"], 0)

    assert await page_outline("acme") == [
        ("API", ["REST", "Search"]),
        ("Regions", ["US", ("Europe", ["Frankfurt", ("Germany", ["Website", "Berlin"])])]), "Billing"]
    assert await level_positions(acme["page"], None) == [0, 1, 2]
    assert await level_positions(acme["page"], acme["Germany"]) == [0, 1]


async def test_moving_between_groups_and_back_to_the_top_level(beacon, acme):
    await groups.move(OWNER, acme["page"], "component", acme["Search"], acme["Europe"], 1)
    assert await page_outline("acme") == [
        "Website", ("API", ["REST"]),
        ("Regions", ["US", ("Europe", ["Frankfurt", "Search", ("Germany", ["Berlin"])])]), "Billing"]
    assert await level_positions(acme["page"], acme["API"]) == [0]
    assert await level_positions(acme["page"], acme["Europe"]) == [0, 1, 2]

    await groups.move(OWNER, acme["page"], "component", acme["Berlin"], None, 1)
    assert await page_outline("acme") == [
        "Website", "Berlin", ("API", ["REST"]),
        ("Regions", ["US", ("Europe", ["Frankfurt", "Search", ("Germany", [])])]), "Billing"]
    assert await level_positions(acme["page"], None) == [0, 1, 2, 3, 4]
    assert await level_positions(acme["page"], acme["Germany"]) == []


async def test_a_group_moves_with_everything_inside_it(beacon, acme):
    await groups.move(OWNER, acme["page"], "group", acme["Europe"], None, 99)  # past the end: last

    assert await page_outline("acme") == [
        "Website", ACME[1], ("Regions", ["US"]), "Billing", ("Europe", ["Frankfurt", ("Germany", ["Berlin"])])]
    assert await level_positions(acme["page"], None) == [0, 1, 2, 3, 4]
    assert await level_positions(acme["page"], acme["Regions"]) == [0]

    await groups.move(OWNER, acme["page"], "group", acme["Regions"], acme["Germany"], 0)  # a fourth level

    assert await page_outline("acme") == [
        "Website", ACME[1], "Billing",
        ("Europe", ["Frankfurt", ("Germany", [("Regions", ["US"]), "Berlin"])])]


async def test_a_group_cannot_move_into_itself_or_anything_inside_it(beacon, acme):
    before = await AuditEntryRow.all().count()
    for target in ("Regions", "Europe", "Germany"):
        with pytest.raises(Invalid) as refused:
            await groups.move(OWNER, acme["page"], "group", acme["Regions"], acme[target], 0)
        assert set(refused.value.errors) == {"parent_group_id"}, target

    assert await page_outline("acme") == ACME
    assert await AuditEntryRow.all().count() == before


async def test_nothing_crosses_to_another_page(beacon, acme):
    other = await pages.create_page(OWNER, title="Other", slug="other")
    foreign_group = await groups.create_group(OWNER, other.id, "Theirs")
    foreign_component = await components.create_component(OWNER, name="Theirs", pages=[other.id])
    await settle()
    before = await AuditEntryRow.all().count()

    with pytest.raises(Invalid) as refused:
        await groups.move(OWNER, acme["page"], "component", acme["Website"], foreign_group.id, 0)
    assert set(refused.value.errors) == {"parent_group_id"}
    with pytest.raises(Invalid) as refused:
        await groups.move(OWNER, acme["page"], "component", foreign_component.id, None, 0)
    assert set(refused.value.errors) == {"item_id"}
    with pytest.raises(Invalid) as refused:
        await groups.create_group(OWNER, acme["page"], "Mixed", parent_id=foreign_group.id)
    assert set(refused.value.errors) == {"parent_id"}
    with pytest.raises(Invalid) as refused:
        await groups.place_component(OWNER, foreign_component.id, acme["page"], group_id=foreign_group.id)
    assert set(refused.value.errors) == {"group_id"}

    assert await page_outline("acme") == ACME
    assert await page_outline("other") == [("Theirs", []), "Theirs"]
    assert await AuditEntryRow.all().count() == before


@pytest.mark.parametrize(("kind", "item", "parent", "index", "field"), [
    ("widget", "Website", None, 0, "item_kind"),
    ("component", "nope", None, 0, "item_id"),
    ("component", "Website", "abc", 0, "parent_group_id"),
    ("component", "Website", None, -1, "index"),
    ("component", "Website", None, "first", "index"),
    ("group", 99999, None, 0, "item_id"),
])
async def test_a_move_with_bad_input_is_refused_with_a_message_for_the_field(beacon, acme, kind, item, parent,
                                                                            index, field):
    before = await AuditEntryRow.all().count()

    with pytest.raises(Invalid) as refused:
        await groups.move(OWNER, acme["page"], kind, acme.get(item, item), parent, index)

    assert list(refused.value.errors) == [field]
    assert refused.value.errors[field]
    assert await AuditEntryRow.all().count() == before


async def test_deleting_a_group_puts_what_it_held_in_its_place(beacon, acme):
    await groups.delete_group(OWNER, acme["Europe"])

    assert await page_outline("acme") == [
        "Website", ACME[1], ("Regions", ["US", "Frankfurt", ("Germany", ["Berlin"])]), "Billing"]
    assert await level_positions(acme["page"], acme["Regions"]) == [0, 1, 2]

    await groups.delete_group(OWNER, acme["API"])

    assert await page_outline("acme") == [
        "Website", "REST", "Search", ("Regions", ["US", "Frankfurt", ("Germany", ["Berlin"])]), "Billing"]
    assert await level_positions(acme["page"], None) == [0, 1, 2, 3, 4]


async def test_renaming_a_group_shows_the_new_name_and_a_blank_name_is_refused(beacon, acme):
    await groups.rename_group(OWNER, acme["API"], "  Public API ")
    assert (await page_outline("acme"))[1] == ("Public API", ["REST", "Search"])

    with pytest.raises(Invalid) as refused:
        await groups.rename_group(OWNER, acme["API"], "   ")
    assert list(refused.value.errors) == ["name"]
    assert (await page_outline("acme"))[1][0] == "Public API"


async def test_a_component_on_two_pages_keeps_its_own_place_on_each(beacon, acme):
    other = await pages.create_page(OWNER, title="Other", slug="other")
    await components.create_component(OWNER, name="Mail", pages=[other.id])
    ops = await groups.create_group(OWNER, other.id, "Ops")

    await groups.place_component(OWNER, acme["Search"], other.id, group_id=ops.id)
    await groups.place_component(OWNER, acme["Website"], other.id)
    assert await page_outline("other") == ["Mail", ("Ops", ["Search"]), "Website"]

    await groups.move(OWNER, other.id, "component", acme["Website"], None, 0)
    await groups.move(OWNER, other.id, "component", acme["Search"], None, 3)

    assert await page_outline("other") == ["Website", "Mail", ("Ops", []), "Search"]
    assert await page_outline("acme") == ACME

    await components.set_status(OWNER, acme["Search"], ComponentStatus.PARTIAL_OUTAGE)
    await settle()
    assert store.by_slug("other").indicator.indicator == "major"  # one component, shown on both pages
    assert group_named(store.by_slug("acme"), "API").status == ComponentStatus.PARTIAL_OUTAGE


async def test_a_component_can_be_taken_off_one_page_and_stays_on_the_others(beacon, acme):
    other = await pages.create_page(OWNER, title="Other", slug="other")
    await groups.place_component(OWNER, acme["REST"], other.id)

    with pytest.raises(Invalid) as refused:
        await groups.place_component(OWNER, acme["REST"], other.id)
    assert list(refused.value.errors) == ["component_id"]

    await groups.remove_from_page(OWNER, acme["REST"], acme["page"])

    assert (await page_outline("acme"))[1] == ("API", ["Search"])
    assert await level_positions(acme["page"], acme["API"]) == [0]
    assert await page_outline("other") == ["REST"]
    with pytest.raises(Invalid):
        await groups.remove_from_page(OWNER, acme["REST"], acme["page"])


async def test_dropping_an_item_where_it_already_is_writes_nothing(beacon, acme, published):
    before = await AuditEntryRow.all().count()
    published.clear()

    await groups.move(OWNER, acme["page"], "group", acme["API"], None, 1)
    await groups.move(OWNER, acme["page"], "component", acme["Billing"], None, 10)  # already last
    await settle()

    assert await AuditEntryRow.all().count() == before
    assert published == []


async def test_a_read_only_user_can_change_nothing_and_nothing_is_written(beacon, acme, published):
    other = await pages.create_page(OWNER, title="Other", slug="other")
    await settle()
    before = await AuditEntryRow.all().count()
    published.clear()
    attempts = [
        groups.create_group(READ_ONLY, acme["page"], "Sneaky"),
        groups.rename_group(READ_ONLY, acme["API"], "Sneaky"),
        groups.delete_group(READ_ONLY, acme["API"]),
        groups.move(READ_ONLY, acme["page"], "component", acme["Website"], acme["API"], 0),
        # bad input too: a caller without the right learns nothing from the input checks
        groups.move(READ_ONLY, acme["page"], "widget", "x", "y", -1),
        groups.place_component(READ_ONLY, acme["Website"], other.id),
        groups.remove_from_page(READ_ONLY, acme["Website"], acme["page"]),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            await attempt
    await settle()

    assert await page_outline("acme") == ACME
    assert await page_outline("other") == []
    assert await AuditEntryRow.all().count() == before
    assert published == []


async def test_each_change_writes_one_audit_entry_and_one_event_for_its_page(beacon, acme, published):
    other = await pages.create_page(OWNER, title="Other", slug="other")
    await settle()
    published.clear()
    calls = [
        ("group.create", lambda: groups.create_group(OWNER, acme["page"], "Storage", acme["Regions"])),
        ("group.update", lambda: groups.rename_group(OWNER, acme["API"], "Public API")),
        ("component.move", lambda: groups.move(OWNER, acme["page"], "component", acme["Website"], acme["API"], 2)),
        ("group.move", lambda: groups.move(OWNER, acme["page"], "group", acme["Germany"], None, 0)),
        ("group.delete", lambda: groups.delete_group(OWNER, acme["Europe"])),
        ("component.place", lambda: groups.place_component(OWNER, acme["Billing"], other.id)),
        ("component.remove_from_page", lambda: groups.remove_from_page(OWNER, acme["Billing"], acme["page"])),
    ]
    for action, call in calls:
        count = await AuditEntryRow.all().count()
        await call()
        await settle()

        entries = await AuditEntryRow.filter(seq__gt=count).order_by("seq")
        assert [e.action for e in entries] == [action]
        if action.endswith(".move"):
            assert set(entries[0].changes) >= {"parent_group_id", "position"}
            assert entries[0].changes["parent_group_id"]["old"] != entries[0].changes["parent_group_id"]["new"]
        page_id = other.id if action == "component.place" else acme["page"]
        assert [e.page_ids for e in published] == [frozenset({page_id})], action
        published.clear()

    assert await page_outline("acme") == [
        ("Germany", ["Berlin"]), ("Public API", ["REST", "Search", "Website"]),
        ("Regions", ["US", "Frankfurt", ("Storage", [])])]
    assert await page_outline("other") == ["Billing"]

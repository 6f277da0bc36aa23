"""Pages, components and groups through the services, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import events
from app.auth import Actor
from app.enums import ComponentStatus, Role
from app.events import bus
from app.services import components, pages
from app.services.errors import Forbidden, Invalid
from app.snapshot import store
from storage.models import AuditEntryRow, Component, ComponentGroup, Placement, StatusPage
from tests.conftest import settle

OWNER = Actor.system("test")
READ_ONLY = Actor(kind="user", id=1, label="ro@x", role=Role.READ_ONLY)


async def row_counts() -> dict[str, int]:
    return {
        "pages": await StatusPage.all().count(),
        "components": await Component.all().count(),
        "placements": await Placement.all().count(),
        "groups": await ComponentGroup.all().count(),
        "audit": await AuditEntryRow.all().count(),
    }


@pytest.fixture
async def published():
    """The events published while the test runs, each with whether its change was visible in the database
    when the subscriber ran (it must be: events go out after commit)."""
    seen: list[tuple[str, dict, bool]] = []

    async def record(event: events.Event) -> None:
        visible = True
        if "component_id" in event.data and event.name != events.COMPONENT_DELETED:
            visible = await Component.filter(id=event.data["component_id"]).exists()
        elif "page_id" in event.data and event.name != events.PAGE_DELETED:
            visible = await StatusPage.filter(id=event.data["page_id"]).exists()
        seen.append((event.name, event.data, visible))

    bus.subscribe(record)
    try:
        yield seen
    finally:
        bus.unsubscribe(record)


async def test_creating_a_page_with_a_grouped_component_shows_it_on_the_page(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme", description="Acme services")
    group = await components.create_group(OWNER, page_id=page.id, name="API")
    component = await components.create_component(OWNER, name="REST API", pages=[page.id], group_id=group.id)
    await settle()

    snapshot = store.by_slug("acme")
    assert snapshot is not None
    assert snapshot.page.title == "Acme"
    assert [g.name for g in snapshot.groups] == ["API"]
    assert [c.name for c in snapshot.groups[0].components] == ["REST API"]
    assert snapshot.all_components[0].id == component.id
    assert snapshot.indicator.description == "All Systems Operational"


async def test_setting_a_status_is_stored_and_shown_in_the_group_and_page(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    group = await components.create_group(OWNER, page_id=page.id, name="API")
    component = await components.create_component(OWNER, name="REST API", pages=[page.id], group_id=group.id)
    await components.create_component(OWNER, name="Search", pages=[page.id], group_id=group.id)

    await components.set_status(OWNER, component.id, "partial_outage")
    await settle()

    assert (await components.get_component(component.id)).status == ComponentStatus.PARTIAL_OUTAGE
    snapshot = store.by_slug("acme")
    assert snapshot.groups[0].status == ComponentStatus.PARTIAL_OUTAGE
    assert (snapshot.indicator.indicator, snapshot.indicator.description) == ("major", "Partial System Outage")


async def test_events_are_published_after_commit_with_their_data(beacon, published):
    # settle after each write: subscribers run after the writer returns, and the check that a change was
    # visible to them must not race the next write (the delete)
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    await settle()
    component = await components.create_component(OWNER, name="API", pages=[page.id])
    await settle()
    await components.set_status(OWNER, component.id, ComponentStatus.DEGRADED)
    await settle()
    await components.delete_component(OWNER, component.id)
    await settle()
    changed_at = published[2][1].pop("updated_at")  # when the status changed, for the in-memory snapshot update

    assert datetime.fromisoformat(changed_at).tzinfo is not None
    assert published == [
        (events.PAGE_CREATED, {"page_id": page.id, "slug": "acme"}, True),
        (events.COMPONENT_CREATED, {"component_id": component.id, "name": "API"}, True),
        (events.COMPONENT_STATUS_CHANGED, {"component_id": component.id, "name": "API",
                                           "old_status": "OPERATIONAL", "new_status": "DEGRADED"}, True),
        (events.COMPONENT_DELETED, {"component_id": component.id, "name": "API"}, True),
    ]


async def test_setting_the_same_status_again_changes_nothing_and_announces_nothing(beacon, published):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    component = await components.create_component(OWNER, name="API", pages=[page.id])
    await settle()
    before = await row_counts()
    published.clear()

    await components.set_status(OWNER, component.id, "OPERATIONAL")
    await settle()

    assert await row_counts() == before
    assert published == []


async def test_a_read_only_user_cannot_create_a_page_and_nothing_is_written(beacon, published):
    before = await row_counts()

    with pytest.raises(Forbidden):
        await pages.create_page(READ_ONLY, title="Acme", slug="acme")
    await settle()

    assert await row_counts() == before
    assert published == []


async def test_a_read_only_user_cannot_change_a_status_and_nothing_is_written(beacon, published):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    component = await components.create_component(OWNER, name="API", pages=[page.id])
    await settle()
    before = await row_counts()
    published.clear()

    with pytest.raises(Forbidden):
        await components.set_status(READ_ONLY, component.id, "MAJOR_OUTAGE")
    with pytest.raises(Forbidden):
        await components.create_component(READ_ONLY, name="Sneaky", pages=[page.id])
    with pytest.raises(Forbidden):
        await components.create_group(READ_ONLY, page_id=page.id, name="Sneaky")
    await settle()

    assert await row_counts() == before
    assert (await components.get_component(component.id)).status == ComponentStatus.OPERATIONAL
    assert published == []


@pytest.mark.parametrize(
    ("slug", "why"),
    [
        ("", "empty"),
        ("   ", "blank"),
        ("acme", "already used"),
        ("acme cloud", "contains a space"),
        ("Acme-Cloud", "uppercase"),
        ("admin", "reserved"),
        ("-acme", "starts with a hyphen"),
    ],
)
async def test_a_bad_slug_is_refused_with_a_message_and_nothing_is_written(beacon, slug, why):
    await pages.create_page(OWNER, title="Acme", slug="acme")
    before = await row_counts()

    with pytest.raises(Invalid) as refused:
        await pages.create_page(OWNER, title="Other", slug=slug)

    assert set(refused.value.errors) == {"slug"}, why
    assert refused.value.errors["slug"], why
    assert await row_counts() == before


async def test_renaming_a_page_to_a_taken_slug_is_refused_and_nothing_is_written(beacon):
    await pages.create_page(OWNER, title="Acme", slug="acme")
    other = await pages.create_page(OWNER, title="Other", slug="other")
    before = await row_counts()

    with pytest.raises(Invalid) as refused:
        await pages.update_page(OWNER, other.id, slug="acme", title="Renamed")

    assert "slug" in refused.value.errors
    assert await row_counts() == before
    assert (await pages.get_page(other.id)).title == "Other"


async def test_a_blank_component_name_is_refused_and_nothing_is_written(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    before = await row_counts()

    with pytest.raises(Invalid) as refused:
        await components.create_component(OWNER, name="   ", pages=[page.id])

    assert set(refused.value.errors) == {"name"}
    assert await row_counts() == before


async def test_an_unknown_status_or_page_is_refused_and_nothing_is_written(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    before = await row_counts()

    with pytest.raises(Invalid) as refused:
        await components.create_component(OWNER, name="API", pages=[page.id, page.id + 100], status="BROKEN")

    assert set(refused.value.errors) == {"status", "pages"}
    assert await row_counts() == before


async def test_a_component_on_two_pages_changes_both_pages(beacon):
    acme = await pages.create_page(OWNER, title="Acme", slug="acme")
    partner = await pages.create_page(OWNER, title="Partner", slug="partner")
    component = await components.create_component(OWNER, name="Shared API", pages=[acme.id, partner.id])
    await settle()

    await components.set_status(OWNER, component.id, "MAJOR_OUTAGE")
    await settle()

    for slug in ("acme", "partner"):
        snapshot = store.by_slug(slug)
        assert [(c.name, c.status) for c in snapshot.all_components] == [
            ("Shared API", ComponentStatus.MAJOR_OUTAGE)], slug
        assert snapshot.indicator.indicator == "critical", slug


async def test_timestamps_come_back_timezone_aware_in_utc(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    component = await components.create_component(OWNER, name="API", pages=[page.id])
    await settle()

    stored_page = await pages.get_page(page.id)
    stored_component = await components.get_component(component.id)
    snapshot = store.by_slug("acme")

    stamps = [page.created_at, component.created_at, stored_page.created_at, stored_page.updated_at,
              stored_component.created_at, stored_component.updated_at, snapshot.updated_at,
              snapshot.all_components[0].updated_at]
    for stamp in stamps:
        assert stamp.tzinfo is not None
        assert stamp.utcoffset() == timedelta(0)
    assert abs(stored_component.created_at - component.created_at) < timedelta(seconds=1)
    assert stored_component.created_at.astimezone(UTC) == stored_component.created_at


async def test_a_status_change_moves_the_component_and_page_updated_time(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    component = await components.create_component(OWNER, name="API", pages=[page.id])
    await settle()
    first = store.by_slug("acme").updated_at
    created = (await components.get_component(component.id)).updated_at

    changed = await components.set_status(OWNER, component.id, "DEGRADED")
    await settle()

    assert changed.updated_at > created
    assert store.by_slug("acme").updated_at > first


async def test_editing_a_page_moves_its_updated_time(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    created = (await pages.get_page(page.id)).updated_at

    edited = await pages.update_page(OWNER, page.id, title="Acme Cloud")

    assert edited.title == "Acme Cloud"
    assert edited.updated_at > created


@pytest.mark.parametrize("link", ["javascript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.com"])
async def test_a_component_link_that_is_not_a_web_address_is_refused(beacon, link):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")

    with pytest.raises(Invalid) as refused:
        await components.create_component(OWNER, name="API", pages=[page.id], link=link)
    component = await components.create_component(OWNER, name="API", pages=["acme"], link="https://api.example.com")
    with pytest.raises(Invalid) as refused_edit:
        await components.update_component(OWNER, component.id, link=link)

    assert "link" in refused.value.errors and "link" in refused_edit.value.errors
    assert (await components.get_component(component.id)).link == "https://api.example.com"


async def test_a_custom_domain_must_be_a_host_name_and_belong_to_one_page(beacon):
    first = await pages.create_page(OWNER, title="Acme", slug="acme")
    second = await pages.create_page(OWNER, title="Beta", slug="beta")

    await pages.update_page(OWNER, first.id, custom_domain="Status.Example.com")
    with pytest.raises(Invalid) as taken:
        await pages.update_page(OWNER, second.id, custom_domain="status.example.com")
    with pytest.raises(Invalid) as malformed:
        await pages.update_page(OWNER, second.id, custom_domain="https://status.example.com/x")

    assert (await pages.get_page(first.id)).custom_domain == "status.example.com"
    assert "already used" in taken.value.errors["custom_domain"]
    assert "host name" in malformed.value.errors["custom_domain"]
    assert (await pages.get_page(second.id)).custom_domain is None

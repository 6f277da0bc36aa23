"""Team scope through the services, on SQLite and PostgreSQL: two customers with private pages on one install.
A MEMBER or READ_ONLY user sees and touches only their teams' pages and the pages of no team; OWNER and ADMIN see
everything; whatever is out of scope is answered exactly like something that does not exist."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.auth import Actor, scope
from app.enums import Role
from app.services import components, groups, incidents, maintenance, pages
from app.services.errors import Forbidden, Invalid, NotFound
from storage.models import StatusPage, Team, User

OWNER = Actor.system("test")


@dataclass
class Install:
    a: StatusPage
    b: StatusPage
    shared: StatusPage
    a_api: int
    b_api: int
    both: int  # shown on A's and on B's page
    shared_web: int
    loose: int  # on no page
    b_incident: int
    b_window: int
    member_a: Actor
    reader_a: Actor
    admin: Actor


async def _user(email: str, role: Role, team: Team | None) -> Actor:
    user = await User.create(email=email, password_hash="-", role=role)
    if team is not None:
        await team.members.add(user)
    return Actor.for_user(user)


@pytest.fixture
async def install(beacon) -> Install:
    a = await pages.create_page(OWNER, title="Alpha", slug="alpha", public=False)
    b = await pages.create_page(OWNER, title="Bravo", slug="bravo", public=False)
    shared = await pages.create_page(OWNER, title="Everyone", slug="everyone")
    team_a, team_b = await Team.create(name="Alpha team"), await Team.create(name="Bravo team")
    await StatusPage.filter(id=a.id).update(team_id=team_a.id)
    await StatusPage.filter(id=b.id).update(team_id=team_b.id)
    a_api = await components.create_component(OWNER, name="Alpha API", pages=[a.id])
    b_api = await components.create_component(OWNER, name="Bravo API", pages=[b.id])
    both = await components.create_component(OWNER, name="Shared DNS", pages=[a.id, b.id])
    web = await components.create_component(OWNER, name="Website", pages=[shared.id])
    loose = await components.create_component(OWNER, name="Spare", pages=[])
    b_incident = await incidents.create_incident(OWNER, page=b.id, name="Bravo is down", body="Looking.",
                                                 components={b_api.id: "MAJOR_OUTAGE"})
    start = datetime.now(UTC) + timedelta(days=1)
    b_window = await maintenance.schedule_maintenance(OWNER, page=b.id, name="Bravo upgrade", starts_at=start,
                                                      ends_at=start + timedelta(hours=1))
    return Install(
        a=a, b=b, shared=shared, a_api=a_api.id, b_api=b_api.id, both=both.id, shared_web=web.id, loose=loose.id,
        b_incident=b_incident.id, b_window=b_window.id,
        member_a=await _user("member@alpha.test", Role.MEMBER, team_a),
        reader_a=await _user("reader@alpha.test", Role.READ_ONLY, team_a),
        admin=await _user("admin@install.test", Role.ADMIN, None))


async def test_a_member_sees_their_teams_pages_and_the_shared_ones_only(install):
    i = install
    assert [p.slug for p in await pages.list_pages(i.member_a)] == ["alpha", "everyone"]
    assert await scope.visible_page_ids(i.member_a) == {i.a.id, i.shared.id}
    assert (await pages.get_page(i.a.id, actor=i.member_a)).slug == "alpha"
    assert (await pages.find_page("everyone", actor=i.member_a)).id == i.shared.id
    with pytest.raises(NotFound, match=f"No status page with id {i.b.id}."):
        await pages.get_page(i.b.id, actor=i.member_a)
    with pytest.raises(NotFound, match="No status page 'bravo'."):
        await pages.find_page("bravo", actor=i.member_a)
    # answered like a page that does not exist
    with pytest.raises(NotFound, match="No status page 'nowhere'."):
        await pages.find_page("nowhere", actor=i.member_a)


async def test_components_are_in_scope_when_a_page_in_scope_shows_them_or_none_does(install):
    i = install
    assert [c.id for c in await components.list_components(i.member_a)] == [i.a_api, i.both, i.shared_web, i.loose]
    assert [c.id for c in await components.list_components(i.member_a, i.a.id)] == [i.a_api, i.both]
    for cid in (i.a_api, i.both, i.shared_web, i.loose):
        assert (await components.get_component(cid, actor=i.member_a)).id == cid
    with pytest.raises(NotFound, match=f"No component with id {i.b_api}."):
        await components.get_component(i.b_api, actor=i.member_a)


async def test_a_member_works_on_their_teams_page(install):
    i = install
    created = await components.create_component(i.member_a, name="Alpha worker", pages=["alpha"])
    assert await components.page_ids_of(created.id) == {i.a.id}
    await components.set_status(i.member_a, i.a_api, "DEGRADED")
    await components.update_component(i.member_a, i.both, name="DNS")  # also on B's page: A may still name it
    group = await groups.create_group(i.member_a, i.a.id, "Core")
    await groups.move(i.member_a, i.a.id, "component", i.a_api, group.id, 0)
    incident = await incidents.create_incident(i.member_a, page="alpha", name="Alpha slow", body="Looking.",
                                               components={i.a_api: "DEGRADED"})
    await incidents.post_update(i.member_a, incident.id, status="IDENTIFIED", body="Found it.")
    await incidents.resolve_incident(i.member_a, incident.id)
    start = datetime.now(UTC) + timedelta(days=2)
    window = await maintenance.schedule_maintenance(i.member_a, page=i.a.id, name="Alpha upgrade", starts_at=start,
                                                    ends_at=start + timedelta(hours=1), components=[i.a_api])
    await maintenance.post_maintenance_update(i.member_a, window.id, "On schedule.")
    assert [x.id for x in await incidents.list_incidents(actor=i.member_a)] == [incident.id]
    assert [x.id for x in await maintenance.list_maintenances(actor=i.member_a)] == [window.id]
    assert (await incidents.get_incident(incident.id, actor=i.member_a)).name == "Alpha slow"


async def test_another_teams_page_and_everything_on_it_is_not_found_for_a_member(install):
    i, m = install, install.member_a
    with pytest.raises(Invalid) as refused:
        await components.create_component(m, name="Sneaky", pages=["bravo"])
    assert refused.value.errors["pages"] == "No status page 'bravo'."
    with pytest.raises(NotFound, match=f"No component with id {i.b_api}."):
        await components.set_status(m, i.b_api, "OPERATIONAL")
    with pytest.raises(NotFound, match=f"No component with id {i.b_api}."):
        await components.update_component(m, i.b_api, name="Mine now")
    with pytest.raises(Invalid) as refused:
        await incidents.create_incident(m, page="bravo", name="Fake", body="Nope.")
    assert refused.value.errors["page"] == "No status page 'bravo'."
    with pytest.raises(NotFound, match=f"No incident with id {i.b_incident}."):
        await incidents.get_incident(i.b_incident, actor=m)
    with pytest.raises(NotFound, match=f"No incident with id {i.b_incident}."):
        await incidents.post_update(m, i.b_incident, status="RESOLVED", body="Not yours.")
    with pytest.raises(NotFound, match=f"No incident with id {i.b_incident}."):
        await incidents.edit_incident(m, i.b_incident, name="Renamed")
    with pytest.raises(NotFound, match=f"No maintenance with id {i.b_window}."):
        await maintenance.get_maintenance(i.b_window, actor=m)
    with pytest.raises(NotFound, match=f"No maintenance with id {i.b_window}."):
        await maintenance.cancel_maintenance(m, i.b_window)
    with pytest.raises(Invalid) as refused:
        await maintenance.schedule_maintenance(m, page="bravo", name="Fake", starts_at=datetime.now(UTC),
                                               ends_at=datetime.now(UTC) + timedelta(hours=1))
    assert refused.value.errors["page"] == "No status page 'bravo'."
    with pytest.raises(Invalid) as refused:
        await groups.create_group(m, i.b.id, "Mine")
    assert refused.value.errors["page_id"] == f"No status page with id {i.b.id}."
    with pytest.raises(NotFound):
        await groups.move(m, i.b.id, "component", i.b_api, None, 0)
    with pytest.raises(NotFound):
        await groups.structure(i.b.id, m)
    with pytest.raises(Invalid):  # placing B's component on A's page would show it to team A
        await groups.place_component(m, i.b_api, i.a.id)
    assert await incidents.list_incidents(actor=m) == []
    assert await maintenance.list_maintenances(i.b.id, actor=m) == []
    # nothing changed on B's page
    assert (await components.get_component(i.b_api)).status.value == "MAJOR_OUTAGE"
    assert (await incidents.get_incident(i.b_incident)).name == "Bravo is down"


async def test_a_read_only_team_member_sees_their_page_but_cannot_change_it(install):
    i, r = install, install.reader_a
    assert [p.slug for p in await pages.list_pages(r)] == ["alpha", "everyone"]
    assert (await components.get_component(i.a_api, actor=r)).name == "Alpha API"
    with pytest.raises(Forbidden):
        await components.set_status(r, i.a_api, "DEGRADED")
    with pytest.raises(Forbidden):
        await incidents.create_incident(r, page="alpha", name="No", body="No.")
    with pytest.raises(NotFound):
        await components.get_component(i.b_api, actor=r)


async def test_an_admin_sees_and_changes_every_teams_page(install):
    i, a = install, install.admin
    assert [p.slug for p in await pages.list_pages(a)] == ["alpha", "bravo", "everyone"]
    assert await scope.visible_page_ids(a) is None
    await components.set_status(a, i.b_api, "DEGRADED")
    await incidents.post_update(a, i.b_incident, status="RESOLVED", body="Fixed.")
    await maintenance.cancel_maintenance(a, i.b_window)
    update = await incidents.create_incident(a, page="alpha", name="Alpha", body="Looking.")
    assert (await incidents.get_incident(update.id, actor=a)).page_id == i.a.id
    assert len(await components.list_components(a)) == 5


async def test_a_page_without_a_team_is_everybodys(install):
    i = install
    outsider = await _user("nobody@else.test", Role.MEMBER, None)
    anonymous_member = Actor(kind="user", id=None, label="test", role=Role.MEMBER)
    for actor in (outsider, anonymous_member):
        assert [p.slug for p in await pages.list_pages(actor)] == ["everyone"]
        assert await scope.visible_component_ids(actor) == {i.shared_web, i.loose}
        await components.set_status(actor, i.shared_web, "DEGRADED")
        with pytest.raises(NotFound):
            await components.get_component(i.a_api, actor=actor)


async def test_another_teams_groups_are_not_found_for_a_member(install):
    i, m = install, install.member_a
    group = await groups.create_group(OWNER, i.b.id, "Bravo core")
    with pytest.raises(NotFound, match=f"No group with id {group.id}."):
        await groups.rename_group(m, group.id, "Mine")
    with pytest.raises(NotFound, match=f"No group with id {group.id}."):
        await groups.delete_group(m, group.id)
    with pytest.raises(Invalid) as refused:  # a component in B's group would land on B's page
        await components.create_component(m, name="Sneaky", pages=["alpha"], group_id=group.id)
    assert refused.value.errors["group_id"] == f"No group with id {group.id}."
    with pytest.raises(NotFound):
        await groups.remove_from_page(m, i.b_api, i.b.id)
    assert {n.name for n in await groups.structure(i.b.id)} == {"Bravo core", "Bravo API", "Shared DNS"}

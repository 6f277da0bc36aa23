"""Teams through the service, on SQLite and PostgreSQL: members, the pages each team looks after, audit."""

from __future__ import annotations

import pytest

from app.auth import Actor
from app.enums import Role
from app.services import pages, teams, users
from app.services.errors import Forbidden, Invalid
from storage.models import AuditEntryRow, StatusPage, Team, User

SYSTEM = Actor.system("test")
ADMIN = Actor(kind="user", id=None, label="admin@example.com", role=Role.ADMIN)
MEMBER = Actor(kind="user", id=None, label="member@example.com", role=Role.MEMBER)



async def _account(email: str) -> User:
    return await users.create_user(SYSTEM, email=email, password="correct horse battery", role=Role.MEMBER)


async def _last_entry() -> AuditEntryRow:
    return await AuditEntryRow.all().order_by("-seq").first()


async def test_members_are_added_and_removed_and_a_person_can_be_in_several_teams(beacon):
    ann = await _account("ann@example.com")
    bob = await _account("bob@example.com")
    ops = await teams.create_team(ADMIN, "Ops")
    web = await teams.create_team(ADMIN, "Web")

    await teams.add_member(ADMIN, ops.id, ann.id)
    await teams.add_member(ADMIN, ops.id, bob.id)
    await teams.add_member(ADMIN, ops.id, bob.id)  # already a member: nothing changes
    await teams.add_member(ADMIN, web.id, ann.id)
    await teams.remove_member(ADMIN, ops.id, bob.id)

    listed = {t.name: t for t in await teams.list_teams()}
    assert [m.email for m in listed["Ops"].members] == ["ann@example.com"]
    assert [m.email for m in listed["Web"].members] == ["ann@example.com"]
    assert await teams.team_ids_of(ann.id) == {ops.id, web.id}
    assert await teams.team_ids_of(bob.id) == set()
    entry = await _last_entry()
    assert (entry.action, entry.changes) == ("team.remove_member", {"member": {"old": "bob@example.com",
                                                                               "new": None}})
    assert await AuditEntryRow.filter(action="team.add_member").count() == 3


async def test_a_page_is_assigned_to_a_team_moved_and_released(beacon):
    page = await pages.create_page(SYSTEM, title="Acme", slug="acme")
    ops = await teams.create_team(ADMIN, "Ops")
    web = await teams.create_team(ADMIN, "Web")

    await teams.assign_page(ADMIN, page.id, ops.id)
    on_ops = [p.title for p in (await teams.list_teams())[0].pages]
    await teams.assign_page(ADMIN, page.id, web.id)
    moved = (await StatusPage.get(id=page.id)).team_id
    await teams.assign_page(ADMIN, page.id, None)

    assert on_ops == ["Acme"]
    assert moved == web.id
    assert (await StatusPage.get(id=page.id)).team_id is None
    entry = await _last_entry()
    assert (entry.action, entry.changes) == ("page.assign_team", {"team": {"old": "Web", "new": None}})


async def test_deleting_a_team_keeps_its_people_and_releases_its_pages(beacon):
    ann = await _account("ann@example.com")
    page = await pages.create_page(SYSTEM, title="Acme", slug="acme")
    ops = await teams.create_team(ADMIN, "Ops")
    await teams.add_member(ADMIN, ops.id, ann.id)
    await teams.assign_page(ADMIN, page.id, ops.id)

    await teams.delete_team(ADMIN, ops.id)

    assert not await Team.exists(id=ops.id)
    assert await User.exists(id=ann.id)
    assert (await StatusPage.get(id=page.id)).team_id is None
    assert await teams.team_ids_of(ann.id) == set()
    assert (await _last_entry()).action == "team.delete"


async def test_deleting_a_person_removes_them_from_their_teams(beacon):
    ann = await _account("ann@example.com")
    ops = await teams.create_team(ADMIN, "Ops")
    await teams.add_member(ADMIN, ops.id, ann.id)

    await users.delete_user(SYSTEM, ann.id)

    assert (await teams.list_teams())[0].members == ()


async def test_a_team_is_renamed_and_names_are_unique_and_required(beacon):
    ops = await teams.create_team(ADMIN, "Ops")
    await teams.create_team(ADMIN, "Web")

    await teams.rename_team(ADMIN, ops.id, "Operations")
    with pytest.raises(Invalid) as taken:
        await teams.rename_team(ADMIN, ops.id, "Web")
    with pytest.raises(Invalid) as empty:
        await teams.create_team(ADMIN, "  ")

    assert [t.name for t in await teams.list_teams()] == ["Operations", "Web"]
    assert set(taken.value.errors) == set(empty.value.errors) == {"name"}
    assert (await AuditEntryRow.filter(action="team.rename").first()).changes == {
        "name": {"old": "Ops", "new": "Operations"}}


async def test_a_member_cannot_manage_teams(beacon):
    ops = await teams.create_team(ADMIN, "Ops")
    ann = await _account("ann@example.com")

    for attempt in (teams.create_team(MEMBER, "Mine"), teams.add_member(MEMBER, ops.id, ann.id),
                    teams.delete_team(MEMBER, ops.id)):
        with pytest.raises(Forbidden):
            await attempt

    assert [t.name for t in await teams.list_teams()] == ["Ops"]

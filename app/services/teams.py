"""Teams: named groups of accounts, and the status pages each team looks after. Managed by ADMIN and up."""

from __future__ import annotations

from dataclasses import dataclass

from app import events
from app.auth import Actor
from app.services.errors import Invalid, NotFound
from app.services.transaction import authorize, change
from app.services.validation import text_problem
from storage.models import StatusPage, Team, User

ACTION = "team.manage"


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    email: str


@dataclass(frozen=True, slots=True)
class AssignedPage:
    id: int
    title: str


@dataclass(frozen=True, slots=True)
class TeamView:
    """A team with its members (by e-mail) and its pages (by title)."""

    id: int
    name: str
    members: tuple[Member, ...]
    pages: tuple[AssignedPage, ...]


async def list_teams() -> list[TeamView]:
    teams = await Team.all().order_by("name").prefetch_related("members", "pages")
    return [TeamView(id=t.id, name=t.name,
                     members=tuple(Member(m.id, m.email) for m in sorted(t.members, key=lambda m: m.email)),
                     pages=tuple(AssignedPage(p.id, p.title) for p in sorted(t.pages, key=lambda p: p.title)))
            for t in teams]


async def team_ids_of(user_id: int) -> set[int]:
    """The ids of the teams ``user_id`` belongs to."""
    return set(await Team.filter(members__id=user_id).values_list("id", flat=True))


async def get_team(team_id: int) -> Team:
    team = await Team.filter(id=team_id).first()
    if team is None:
        raise NotFound(f"No team with id {team_id}.")
    return team


async def _name(name: str, conn, team_id: int | None = None) -> str:
    name = (name or "").strip()
    if problem := text_problem(name, "team name"):
        raise Invalid({"name": problem})
    if await Team.filter(name=name).exclude(id=team_id or 0).using_db(conn).exists():
        raise Invalid({"name": f"There is already a team called '{name}'."})
    return name


async def _team(conn, team_id: int) -> Team:
    team = await Team.filter(id=team_id).using_db(conn).first()
    if team is None:
        raise NotFound(f"No team with id {team_id}.")
    return team


async def create_team(actor: Actor, name: str) -> Team:
    authorize(actor, ACTION)
    async with change(actor, ACTION) as ch:
        await ch.lock("teams")  # two teams of the same name at once: one gets the message, not a 500
        name = await _name(name, ch.conn)
        team = await Team.create(using_db=ch.conn, name=name)
        await ch.audit("team.create", "team", team.id, {"name": {"old": None, "new": name}})
        ch.emit(events.USER_CHANGED, {"team_id": team.id})
    return team


async def rename_team(actor: Actor, team_id: int, name: str) -> Team:
    authorize(actor, ACTION)
    async with change(actor, ACTION) as ch:
        await ch.lock("teams")
        team = await _team(ch.conn, team_id)
        name = await _name(name, ch.conn, team_id)
        if name == team.name:
            return team
        old, team.name = team.name, name
        await team.save(using_db=ch.conn, update_fields=["name"])
        await ch.audit("team.rename", "team", team.id, {"name": {"old": old, "new": name}})
        ch.emit(events.USER_CHANGED, {"team_id": team.id})
    return team


async def delete_team(actor: Actor, team_id: int) -> None:
    """Remove the team; its members keep their accounts and its pages belong to no team."""
    authorize(actor, ACTION)
    async with change(actor, ACTION) as ch:
        team = await _team(ch.conn, team_id)
        members = await team.members.all().using_db(ch.conn).values_list("email", flat=True)
        pages = await StatusPage.filter(team_id=team.id).using_db(ch.conn).values_list("id", flat=True)
        await StatusPage.filter(team_id=team.id).using_db(ch.conn).update(team_id=None)
        await team.members.clear(using_db=ch.conn)
        await team.delete(using_db=ch.conn)
        await ch.audit("team.delete", "team", team.id, {"name": {"old": team.name, "new": None},
                                                         "members": {"old": sorted(members), "new": None},
                                                         "pages": {"old": sorted(pages), "new": None}})
        ch.emit(events.USER_CHANGED, {"team_id": team.id})


async def _member_change(actor: Actor, team_id: int, user_id: int, *, add: bool) -> None:
    authorize(actor, ACTION)
    async with change(actor, ACTION) as ch:
        team = await _team(ch.conn, team_id)
        user = await User.filter(id=user_id).using_db(ch.conn).first()
        if user is None:
            raise NotFound(f"No user with id {user_id}.")
        member = await team.members.filter(id=user_id).using_db(ch.conn).exists()
        if member == add:
            return
        if add:
            await team.members.add(user, using_db=ch.conn)
        else:
            await team.members.remove(user, using_db=ch.conn)
        action = "team.add_member" if add else "team.remove_member"
        await ch.audit(action, "team", team.id, {"member": {"old": None if add else user.email,
                                                            "new": user.email if add else None}})
        ch.emit(events.USER_CHANGED, {"team_id": team.id, "user_id": user.id})


async def add_member(actor: Actor, team_id: int, user_id: int) -> None:
    await _member_change(actor, team_id, user_id, add=True)


async def remove_member(actor: Actor, team_id: int, user_id: int) -> None:
    await _member_change(actor, team_id, user_id, add=False)


async def assign_page(actor: Actor, page_id: int, team_id: int | None) -> None:
    """Make ``team_id`` the team looking after the page, or no team with None."""
    authorize(actor, ACTION)
    async with change(actor, ACTION) as ch:
        page = await StatusPage.filter(id=page_id).using_db(ch.conn).first()
        if page is None:
            raise NotFound(f"No status page with id {page_id}.")
        new = await _team(ch.conn, team_id) if team_id is not None else None
        old_id = page.team_id  # type: ignore[attr-defined]
        if old_id == team_id:
            return
        old = await Team.filter(id=old_id).using_db(ch.conn).first() if old_id else None
        await StatusPage.filter(id=page_id).using_db(ch.conn).update(team_id=team_id)
        await ch.audit("page.assign_team", "page", page_id, {"team": {"old": old.name if old else None,
                                                                      "new": new.name if new else None}})
        ch.emit(events.USER_CHANGED, {"team_id": team_id, "page_id": page_id})

"""Management API for people: accounts (/api/v1/users), teams (/api/v1/teams, and which team looks after a page)
and API keys (/api/v1/api-keys).

Adapters only: JSON → ``app.services.users``, ``teams`` and ``apikeys`` (which check the role, write and audit) and
rows → JSON. Nothing secret leaves: no password, key or invitation hashes, no TOTP secrets. A new key's plain text
and an invitation's link are answered once, by the call that makes them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from app import config
from app.api.auth import api_actor
from app.api.management import _problems
from app.api.pagination import NEXT_HEADERS, Paging
from app.auth import Actor
from app.enums import Role
from app.services import apikeys, pages, teams, users
from app.services.errors import Forbidden, Invalid, NotFound
from app.services.transaction import authorize
from app.services.validation import row_id
from storage.models import ApiKey, User

router = APIRouter(prefix="/api/v1", responses=_problems(401, 403))
Key = Annotated[Actor, Depends(api_actor)]
Timestamp = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]
ROLE_HELP = "OWNER, ADMIN, MEMBER or READ_ONLY"
LISTED = {200: {"headers": NEXT_HEADERS}}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class UserCreate(_Body):
    email: str
    role: str = Field("MEMBER", description=ROLE_HELP)
    name: str = ""
    password: str | None = Field(None, description="set it now (the account is active at once); without it the "
                                                   "person is invited and the answer carries their one-time link")


class UserChange(_Body):
    role: str = Field(None, description=ROLE_HELP)  # type: ignore[assignment]
    active: StrictBool = Field(None, description="false: deactivate (sessions end); true: reactivate")  # type: ignore[assignment]


class TeamIn(_Body):
    name: str


class PageTeamIn(_Body):
    team_id: StrictInt | str | None = Field(description="the team looking after the page; null: none")


class ApiKeyCreate(_Body):
    name: str = ""
    role: str | None = Field(None, description=f"{ROLE_HELP}: at most the account's own; absent: the account's")
    expires_days: StrictInt | None = Field(None, ge=1, le=3650, description="ends by itself after N days")


class InvitationOut(BaseModel):
    token: str = Field(description="shown only in this answer")
    url: str = Field(description="the link the person opens to choose a password")
    expires_at: Timestamp


class UserOut(BaseModel):
    id: str
    email: str
    name: str
    role: str
    status: str = Field(description="active, invited or deactivated")
    teams: list[str]
    last_login_at: Timestamp
    invite_expires_at: Timestamp


class CreatedUserOut(UserOut):
    invitation: InvitationOut | None = Field(description="only for an invitation")


class MemberOut(BaseModel):
    id: str
    email: str


class TeamPageOut(BaseModel):
    id: str
    title: str


class TeamOut(BaseModel):
    id: str
    name: str
    members: list[MemberOut]
    pages: list[TeamPageOut]


class PageTeamOut(BaseModel):
    page_id: str
    team_id: str | None


class ApiKeyOut(BaseModel):
    id: str
    user_id: str
    name: str
    prefix: str = Field(description="the key's first characters, to recognise it")
    role: str | None = Field(description="the key's own limit; null: its account's role")
    usable: bool = Field(description="neither revoked nor expired")
    created_at: Timestamp
    last_used_at: Timestamp
    expires_at: Timestamp
    revoked_at: Timestamp


class CreatedApiKeyOut(ApiKeyOut):
    key: str = Field(description="the key itself: shown only in this answer")


# --- helpers ----------------------------------------------------------------------------------------------------

def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _id(value: str, what: str) -> int:
    found = row_id(value)
    if found is None:
        raise NotFound(f"No {what} with id {value}.")
    return found


def _account_out(a: users.Account) -> UserOut:
    return UserOut(id=str(a.id), email=a.email, name=a.name, role=a.role.name, status=a.status, teams=list(a.teams),
                   last_login_at=_time(a.last_login_at), invite_expires_at=_time(a.invite_expires_at))


async def _user_out(user: User) -> UserOut:
    team_names = sorted(await user.teams.all().values_list("name", flat=True))
    account = users.Account(id=user.id, email=user.email, name=user.name, role=Role(user.role),
                            status=users.status_of(user), last_login_at=user.last_login_at,
                            invite_expires_at=user.invite_expires_at, teams=tuple(team_names))  # type: ignore[arg-type]
    return _account_out(account)


def _team_out(t: teams.TeamView) -> TeamOut:
    return TeamOut(id=str(t.id), name=t.name, members=[MemberOut(id=str(m.id), email=m.email) for m in t.members],
                   pages=[TeamPageOut(id=str(p.id), title=p.title) for p in t.pages])


async def _team(team_id: int) -> TeamOut:
    found = [t for t in await teams.list_teams() if t.id == team_id]
    if not found:
        raise NotFound(f"No team with id {team_id}.")
    return _team_out(found[0])


def _key_out(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(id=str(key.id), user_id=str(key.user_id), name=key.name, prefix=key.prefix,  # type: ignore[attr-defined]
                     role=None if key.role is None else Role(key.role).name, usable=apikeys.is_usable(key),
                     created_at=_time(key.created_at), last_used_at=_time(key.last_used_at),
                     expires_at=_time(key.expires_at), revoked_at=_time(key.revoked_at))


def _may_see_keys_of(actor: Actor, user_id: int) -> bool:
    return actor.user_id == user_id or actor.role >= Role.ADMIN


# --- users ------------------------------------------------------------------------------------------------------

@router.get("/users", tags=["users"], summary="Accounts, by e-mail", responses=_problems(422) | LISTED)
async def list_users(actor: Key, paging: Paging) -> list[UserOut]:
    authorize(actor, "user.invite")  # who may open the users screen
    return [_account_out(a) for a in paging.apply(await users.list_users(), key=lambda a: a.email)]


@router.get("/users/{user_id}", tags=["users"], summary="One account", responses=_problems(404))
async def get_user(user_id: str, actor: Key) -> UserOut:
    authorize(actor, "user.invite")
    return await _user_out(await users.get_user(_id(user_id, "user")))


@router.post("/users", status_code=201, tags=["users"], summary="Invite someone, or create an account",
             description="Without `password` the person is invited: the answer's `invitation` holds the one-time "
                         "link (valid 7 days), shown only now. With `password` the account is active at once.",
             responses=_problems(422))
async def create_user(body: UserCreate, actor: Key, response: Response) -> CreatedUserOut:
    invitation = None
    if body.password is None:
        user, token = await users.invite_user(actor, email=body.email, role=body.role, name=body.name)
        invitation = InvitationOut(token=token, url=f"{config.current().effective_base_url}/invite/{token}",
                                   expires_at=_time(user.invite_expires_at))
    else:
        user = await users.create_user(actor, email=body.email, password=body.password, role=body.role,
                                       name=body.name)
    response.headers["Location"] = f"/api/v1/users/{user.id}"
    return CreatedUserOut(**(await _user_out(user)).model_dump(), invitation=invitation)


@router.patch("/users/{user_id}", tags=["users"], summary="Change an account's role, or (de)activate it",
              description="A role change and a deactivation end the account's sessions. The last active owner "
                          "cannot be demoted or deactivated (409).", responses=_problems(404, 422))
async def change_user(user_id: str, body: UserChange, actor: Key) -> UserOut:
    target = _id(user_id, "user")
    values = body.model_dump(exclude_unset=True)
    if "role" in values:
        if values["role"] is None:
            raise Invalid({"role": f"Choose a role: {ROLE_HELP}."})
        await users.change_role(actor, target, values["role"])
    if "active" in values:
        if values["active"] is None:
            raise Invalid({"active": "Send true or false."})
        await (users.reactivate if values["active"] else users.deactivate)(actor, target)
    if not values:
        authorize(actor, "user.update")
    return await _user_out(await users.get_user(target))


@router.delete("/users/{user_id}", status_code=204, tags=["users"], summary="Delete an account",
               description="Its API keys and team memberships go with it; the audit trail keeps what it did.",
               responses=_problems(404))
async def delete_user(user_id: str, actor: Key) -> Response:
    await users.delete_user(actor, _id(user_id, "user"))
    return Response(status_code=204)


# --- teams ------------------------------------------------------------------------------------------------------

@router.get("/teams", tags=["teams"], summary="Teams, by name, with their members and pages",
            responses=_problems(422) | LISTED)
async def list_teams(actor: Key, paging: Paging) -> list[TeamOut]:
    authorize(actor, teams.ACTION)
    return [_team_out(t) for t in paging.apply(await teams.list_teams(), key=lambda t: t.name)]


@router.post("/teams", status_code=201, tags=["teams"], summary="Create a team", responses=_problems(422))
async def create_team(body: TeamIn, actor: Key, response: Response) -> TeamOut:
    team = await teams.create_team(actor, body.name)
    response.headers["Location"] = f"/api/v1/teams/{team.id}"
    return await _team(team.id)


@router.get("/teams/{team_id}", tags=["teams"], summary="One team", responses=_problems(404))
async def get_team(team_id: str, actor: Key) -> TeamOut:
    authorize(actor, teams.ACTION)
    return await _team(_id(team_id, "team"))


@router.patch("/teams/{team_id}", tags=["teams"], summary="Rename a team", responses=_problems(404, 422))
async def rename_team(team_id: str, body: TeamIn, actor: Key) -> TeamOut:
    team = await teams.rename_team(actor, _id(team_id, "team"), body.name)
    return await _team(team.id)


@router.delete("/teams/{team_id}", status_code=204, tags=["teams"], summary="Delete a team",
               description="Its members keep their accounts; its pages belong to no team.", responses=_problems(404))
async def delete_team(team_id: str, actor: Key) -> Response:
    await teams.delete_team(actor, _id(team_id, "team"))
    return Response(status_code=204)


@router.put("/teams/{team_id}/members/{user_id}", tags=["teams"], summary="Add an account to a team",
            responses=_problems(404))
async def add_member(team_id: str, user_id: str, actor: Key) -> TeamOut:
    team = _id(team_id, "team")
    await teams.add_member(actor, team, _id(user_id, "user"))
    return await _team(team)


@router.delete("/teams/{team_id}/members/{user_id}", status_code=204, tags=["teams"],
               summary="Take an account out of a team", responses=_problems(404))
async def remove_member(team_id: str, user_id: str, actor: Key) -> Response:
    await teams.remove_member(actor, _id(team_id, "team"), _id(user_id, "user"))
    return Response(status_code=204)


@router.put("/pages/{page}/team", tags=["teams"], summary="Choose the team that looks after a page",
            description="Only that team's members (and admins) then see the page; `null`: the whole install.",
            responses=_problems(404, 422))
async def assign_page(page: str, body: PageTeamIn, actor: Key) -> PageTeamOut:
    authorize(actor, teams.ACTION)
    found = await pages.find_page(page, actor=actor)
    team_id = None
    if body.team_id is not None:
        team_id = row_id(body.team_id)
        if team_id is None:
            raise Invalid({"team_id": f"No team with id {body.team_id}."})
    try:
        await teams.assign_page(actor, found.id, team_id)
    except NotFound as exc:  # the page was found above: it is the team
        raise Invalid({"team_id": str(exc)}) from None
    return PageTeamOut(page_id=str(found.id), team_id=None if team_id is None else str(team_id))


# --- API keys ---------------------------------------------------------------------------------------------------

@router.get("/api-keys", tags=["api keys"], summary="API keys, newest first (revoked and expired ones too)",
            responses=_problems(404, 422) | LISTED)
async def list_api_keys(actor: Key, paging: Paging, user: Annotated[str | None, Query(
        description="another account's keys, by id (admins only); absent: the calling key's account")] = None
        ) -> list[ApiKeyOut]:
    owner = actor.user_id if user is None else _id(user, "user")
    if owner is None or not _may_see_keys_of(actor, owner):
        raise Forbidden("Only an admin can list another account's keys.")
    if owner != actor.user_id:
        await users.get_user(owner)  # 404 for an unknown account
    keys = await apikeys.list_api_keys(owner)
    return [_key_out(k) for k in paging.apply(keys, key=lambda k: (k.created_at.timestamp(), k.id), order="desc")]


@router.get("/api-keys/{key_id}", tags=["api keys"], summary="One API key", responses=_problems(404))
async def get_api_key(key_id: str, actor: Key) -> ApiKeyOut:
    key = await ApiKey.filter(id=_id(key_id, "API key")).first()
    if key is None or not _may_see_keys_of(actor, key.user_id):  # type: ignore[attr-defined]
        raise NotFound(f"No API key with id {key_id}.")
    return _key_out(key)


@router.post("/api-keys", status_code=201, tags=["api keys"], summary="Create an API key for the calling account",
             description="The answer's `key` is the only time the key is shown.", responses=_problems(422))
async def create_api_key(body: ApiKeyCreate, actor: Key, response: Response) -> CreatedApiKeyOut:
    authorize(actor, "apikey.create")
    if actor.user_id is None:
        raise Forbidden("This key belongs to no account.")
    me = await users.get_user(actor.user_id)
    role = users.parse_role(body.role) if body.role else None
    # a key lower than its account (a READ_ONLY key of an admin, say) must not mint a stronger one
    if role is not None and role > actor.role:
        raise Invalid({"role": f"A key cannot carry a higher role than the key creating it ({actor.role.name})."})
    if role is None and actor.role < Role(me.role):
        role = actor.role
    expires = None if body.expires_days is None else datetime.now(UTC) + timedelta(days=body.expires_days)
    key, plain = await apikeys.create_api_key(actor, email=me.email, name=body.name, role=role,
                                              expires_at=expires)
    response.headers["Location"] = f"/api/v1/api-keys/{key.id}"
    return CreatedApiKeyOut(**_key_out(key).model_dump(), key=plain)


@router.delete("/api-keys/{key_id}", status_code=204, tags=["api keys"], summary="Revoke an API key",
               description="At once; an already revoked key answers 409.", responses=_problems(404))
async def revoke_api_key(key_id: str, actor: Key) -> Response:
    await apikeys.revoke_api_key(actor, _id(key_id, "API key"))
    return Response(status_code=204)

"""The permission matrix: every action of app/auth/permissions.py, tried by every role and by a member of another
team, through the service layer and (for what the API offers) through HTTP with API keys — allowed or refused
exactly as the table says. A new action without a row here fails ``test_every_action_is_in_the_matrix``."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app import backup
from app.api import management, problems
from app.auth import PERMISSIONS, Actor, allowed
from app.enums import Role
from app.services import (
    apikeys,
    channels,
    components,
    groups,
    incidents,
    maintenance,
    metrics,
    monitoring,
    pages,
    signin,
    subscribers,
    teams,
    users,
)
from app.services.errors import Forbidden, Invalid, NotFound
from storage.models import StatusPage, Team, User

SYSTEM = Actor.system("matrix")
_serial = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_serial)}"


@dataclass
class World:
    """Team A owns the page the actions aim at; each role has an account in team A; the outsider is a MEMBER of
    team B. Accounts get an unusable password: authorization, not hashing, is under test."""

    page_id: int
    other_page_id: int
    team_a: int
    actors: dict[str, Actor]


ROLES = {"READ_ONLY": Role.READ_ONLY, "MEMBER": Role.MEMBER, "ADMIN": Role.ADMIN, "OWNER": Role.OWNER}
OUTSIDER = "member of another team"


async def _account(role: Role, team: Team) -> Actor:
    user = await User.create(email=f"{unique(role.name.lower())}@example.com", password_hash="!", role=role)
    await team.members.add(user)
    return Actor.for_user(user)


@pytest.fixture
async def world(beacon_sqlite) -> World:
    team_a, team_b = await Team.create(name="A"), await Team.create(name="B")
    page = await pages.create_page(SYSTEM, title="Acme", slug="acme", public=False)
    other = await pages.create_page(SYSTEM, title="Acme EU", slug="acme-eu", public=False)
    await StatusPage.filter(id__in=[page.id, other.id]).update(team_id=team_a.id)
    actors = {name: await _account(role, team_a) for name, role in ROLES.items()}
    actors[OUTSIDER] = await _account(Role.MEMBER, team_b)
    return World(page.id, other.id, team_a.id, actors)


# --- how each action is performed, with fresh targets made by the system ------------------------------------------

async def _component(w: World) -> int:
    return (await components.create_component(SYSTEM, name=unique("C"), pages=[w.page_id])).id


async def _incident(w: World) -> int:
    return (await incidents.create_incident(SYSTEM, page=w.page_id, name=unique("I"), impact="MINOR",
                                            body="Looking.")).id


async def _subscriber(w: World) -> int:
    from storage.models import Subscriber

    return (await Subscriber.create(page_id=w.page_id, kind="webhook", address=f"https://{unique('h')}.example/",
                                    nonce="n", confirmed_at=datetime.now(UTC))).id


async def _metric(w: World) -> int:
    return (await metrics.create_metric(SYSTEM, page=w.page_id, name=unique("Latency"), suffix="ms")).id


async def _maintenance(w: World) -> int:
    start = datetime.now(UTC) + timedelta(days=1)
    return (await maintenance.schedule_maintenance(SYSTEM, page=w.page_id, name=unique("M"), starts_at=start,
                                                   ends_at=start + timedelta(hours=1))).id


async def _monitor(w: World) -> int:
    return (await monitoring.create_monitor(SYSTEM, name=unique("Mon"), kind="manual",
                                            component_id=await _component(w))).id


async def _create_monitor(a: Actor, w: World) -> Any:
    return await monitoring.create_monitor(a, name=unique("Mon"), kind="manual", component_id=await _component(w))


async def _read_only_account() -> int:
    return (await User.create(email=f"{unique('target')}@example.com", password_hash="!", role=Role.READ_ONLY)).id


async def _delete_page(a: Actor, w: World) -> Any:
    page = await pages.create_page(SYSTEM, title="Doomed", slug=unique("doomed"))
    await StatusPage.filter(id=page.id).update(team_id=w.team_a)
    return await pages.delete_page(a, page.id)


async def _revoke_own_key(a: Actor, w: World) -> Any:
    key, _ = await apikeys.create_api_key(SYSTEM, email=a.label, name="to revoke")
    return await apikeys.revoke_api_key(a, key.id)


def on(make: Callable[[World], Awaitable[int]], act: Callable[[Actor, int], Awaitable[Any]]
       ) -> Callable[[Actor, World], Awaitable[Any]]:
    """Make a fresh target as the system, then act on it as the actor."""
    async def perform(a: Actor, w: World) -> Any:
        return await act(a, await make(w))
    return perform


async def _group(w: World) -> int:
    return (await groups.create_group(SYSTEM, page_id=w.page_id, name=unique("G"))).id


async def _account_target(w: World) -> int:
    return await _read_only_account()


async def _move_component(a: Actor, w: World) -> Any:
    return await groups.move(a, w.page_id, "component", await _component(w), None, 0)


async def _place_component(a: Actor, w: World) -> Any:
    return await groups.place_component(a, await _component(w), w.other_page_id)


SERVICE_CALLS: dict[str, Callable[[Actor, World], Awaitable[Any]]] = {
    "page.create": lambda a, w: pages.create_page(a, title="New", slug=unique("new")),
    "page.update": lambda a, w: pages.update_page(a, w.page_id, description=unique("about ")),
    "page.delete": _delete_page,
    "group.create": lambda a, w: groups.create_group(a, page_id=w.page_id, name=unique("G")),
    "group.update": on(_group, lambda a, gid: groups.rename_group(a, gid, unique("renamed "))),
    "group.delete": on(_group, lambda a, gid: groups.delete_group(a, gid)),
    "group.move": _move_component,
    "component.create": lambda a, w: components.create_component(a, name=unique("C"), pages=[w.page_id]),
    "component.update": on(_component, lambda a, cid: components.update_component(a, cid, name=unique("R"))),
    "component.set_status": on(_component, lambda a, cid: components.set_status(a, cid, "DEGRADED")),
    "component.delete": on(_component, lambda a, cid: components.delete_component(a, cid)),
    "component.place": _place_component,
    "incident.create": lambda a, w: incidents.create_incident(a, page=w.page_id, name="Down", impact="MAJOR",
                                                              body="Down."),
    "incident.update": on(_incident, lambda a, iid: incidents.post_update(a, iid, status="IDENTIFIED", body="Found.")),
    "incident.delete": on(_incident, lambda a, iid: incidents.delete_incident(a, iid)),
    "template.manage": lambda a, w: incidents.save_template(a, name=unique("T"), title="Down"),
    "maintenance.create": lambda a, w: maintenance.schedule_maintenance(
        a, page=w.page_id, name="Upgrade", starts_at=datetime.now(UTC) + timedelta(days=2),
        ends_at=datetime.now(UTC) + timedelta(days=2, hours=1)),
    "maintenance.update": on(_maintenance, lambda a, mid: maintenance.post_maintenance_update(a, mid, "Soon.")),
    "maintenance.cancel": on(_maintenance, lambda a, mid: maintenance.cancel_maintenance(a, mid)),
    "channel.manage": lambda a, w: channels.create_channel(a, name=unique("Hook "), kind="webhook",
                                                           config={"url": "http://127.0.0.1:9/"},
                                                           events=["incident.created"]),
    "metric.manage": lambda a, w: metrics.create_metric(a, page=w.page_id, name=unique("Queue")),
    "metric.post": on(_metric, lambda a, mid: metrics.add_points(a, mid, [1.5])),
    "metric.delete": on(_metric, lambda a, mid: metrics.delete_metric(a, mid)),
    "subscriber.manage": on(_subscriber, lambda a, sid: subscribers.remove_subscriber(a, sid)),
    "monitor.create": _create_monitor,
    "monitor.update": on(_monitor, lambda a, mid: monitoring.set_paused(a, [mid], True)),
    "monitor.delete": on(_monitor, lambda a, mid: monitoring.delete_monitor(a, mid)),
    "user.create": lambda a, w: users.create_user(a, email=f"{unique('new')}@example.com",
                                                  password="correct horse battery", role=Role.READ_ONLY),
    "user.create_owner": lambda a, w: users.create_user(a, email=f"{unique('boss')}@example.com",
                                                        password="correct horse battery", role=Role.OWNER),
    "user.invite": lambda a, w: users.invite_user(a, email=f"{unique('invited')}@example.com", role=Role.READ_ONLY),
    "user.update": on(_account_target, lambda a, uid: users.change_role(a, uid, Role.MEMBER)),
    "user.delete": on(_account_target, lambda a, uid: users.delete_user(a, uid)),
    "team.manage": lambda a, w: teams.create_team(a, unique("Team ")),
    "apikey.create": lambda a, w: apikeys.create_api_key(a, email=a.label, name="mine"),
    "apikey.revoke": _revoke_own_key,
    "account.update": lambda a, w: signin.begin_totp(a),
    "settings.update": lambda a, w: signin.set_required_2fa_role(a, None),
    "backup.export": lambda a, w: backup.export_for(a),
}


# Actions no actor-taking service performs, and where their check is tested instead.
CHECKED_ELSEWHERE = {
    "page.view_private": "the staff preview of a private page (tests/pages/test_scope_admin.py, "
                         "tests/browser/test_drafts_and_private.py)",
    "audit.view": "the audit screen (tests/pages/test_audit_admin.py); the trail itself is read-only",
    "user.accept_invite": "the invited person proves who they are with the one-time token, not a role "
                          "(tests/services/test_users.py)",
}
# Actions about the actor's own account or the install, not about a team's page: an outsider is just a MEMBER.
NOT_ABOUT_A_PAGE = {"backup.export", "page.create", "template.manage", "channel.manage", "user.create",
                    "user.create_owner", "user.invite", "user.update", "user.delete", "team.manage", "apikey.create",
                    "apikey.revoke", "account.update", "settings.update"}


def test_every_action_is_in_the_matrix():
    assert set(SERVICE_CALLS) | set(CHECKED_ELSEWHERE) == set(PERMISSIONS)
    assert not set(SERVICE_CALLS) & set(CHECKED_ELSEWHERE)


def expected(action: str, who: str) -> bool:
    role = ROLES.get(who, Role.MEMBER)
    in_scope = who != OUTSIDER or action in NOT_ABOUT_A_PAGE
    return allowed(role, action) and in_scope


@pytest.mark.parametrize("action", sorted(SERVICE_CALLS))
async def test_each_role_is_allowed_or_refused_exactly_as_the_table_says(world: World, action: str):
    outcomes = {}
    for who, actor in world.actors.items():
        try:
            await SERVICE_CALLS[action](actor, world)
            outcomes[who] = True
        except (Forbidden, NotFound):
            outcomes[who] = False
        except Invalid as exc:
            # creating on another team's page: the page field names a page this actor cannot know of
            if who != OUTSIDER or not set(exc.errors) & {"page", "page_id", "pages", "group_id", "component_id"}:
                raise
            outcomes[who] = False

    assert outcomes == {who: expected(action, who) for who in world.actors}, \
        f"{action} needs {PERMISSIONS[action].name}"


# --- through HTTP, with an API key per role -----------------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None
    make: Callable[[World], Awaitable[int]] | None = None  # a fresh target, its id replaces {id} in the path


def _in_a_day(hours: int = 0) -> str:
    return (datetime.now(UTC) + timedelta(days=1, hours=hours)).isoformat()


HTTP_CALLS: dict[str, Call] = {
    "page.create": Call("POST", "/api/v1/pages", {"title": "New", "slug": "{unique}"}),
    "component.create": Call("POST", "/api/v1/components", {"name": "New", "pages": ["acme"]}),
    "component.update": Call("PATCH", "/api/v1/components/{id}", {"name": "Renamed"}, _component),
    "component.set_status": Call("PATCH", "/api/v1/components/{id}", {"status": "DEGRADED"}, _component),
    "component.delete": Call("DELETE", "/api/v1/components/{id}", None, _component),
    "incident.create": Call("POST", "/api/v1/incidents", {"name": "Down", "impact": "MAJOR", "body": "Down.",
                                                          "page": "acme"}),
    "incident.update": Call("POST", "/api/v1/incidents/{id}/updates", {"status": "IDENTIFIED", "body": "Found."},
                            _incident),
    "incident.delete": Call("DELETE", "/api/v1/incidents/{id}", None, _incident),
    "template.manage": Call("POST", "/api/v1/incident-templates", {"name": "{unique}", "title": "Down"}),
    "maintenance.create": Call("POST", "/api/v1/maintenance", {"name": "Upgrade", "page": "acme",
                                                               "starts_at": _in_a_day(), "ends_at": _in_a_day(1)}),
    "maintenance.update": Call("POST", "/api/v1/maintenance/{id}/updates", {"body": "Soon."}, _maintenance),
    "maintenance.cancel": Call("DELETE", "/api/v1/maintenance/{id}", None, _maintenance),
    "monitor.update": Call("PATCH", "/api/v1/monitors/{id}", {"name": "Renamed"}, _monitor),
    "monitor.delete": Call("DELETE", "/api/v1/monitors/{id}", None, _monitor),
}


@pytest.fixture
async def keys(world: World) -> dict[str, str]:
    return {who: (await apikeys.create_api_key(SYSTEM, email=actor.label, name="matrix"))[1]
            for who, actor in world.actors.items()}


@pytest.mark.parametrize("action", sorted(HTTP_CALLS))
async def test_each_api_key_is_allowed_or_refused_exactly_as_the_table_says(world: World, keys, action: str):
    app = FastAPI()
    problems.install(app)
    management.include(app)
    call = HTTP_CALLS[action]
    answers = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as http:
        for who, key in keys.items():
            path = call.path.replace("{id}", str(await call.make(world))) if call.make else call.path
            body = {k: unique("new") if v == "{unique}" else v for k, v in (call.body or {}).items()}
            response = await http.request(call.method, path, json=body if call.body is not None else None,
                                          headers={"Authorization": f"Bearer {key}"})
            answers[who] = response.status_code

    for who, status in answers.items():
        if expected(action, who):
            assert status < 300, f"{who} should be allowed to {action}, got {status}"
        elif who == OUTSIDER and allowed(Role.MEMBER, action):
            # refused by the team: other teams' things stay unknown (404, or 422 naming the unknown page)
            assert status in (404, 422), f"{who} should not find what {action} aims at, got {status}"
        else:
            assert status == 403, f"{who} should be refused {action}, got {status}"


async def test_a_request_without_a_key_is_refused_everywhere(world: World):
    app = FastAPI()
    problems.install(app)
    management.include(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as http:
        for call in HTTP_CALLS.values():
            path = call.path.replace("{id}", "1")
            response = await http.request(call.method, path, json=call.body)
            assert response.status_code == 401, f"{call.method} {path}: {response.status_code}"

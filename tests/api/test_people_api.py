"""/api/v1/users, /api/v1/teams, /api/v1/pages/{page}/team and /api/v1/api-keys: invitations and accounts, roles,
teams and their members, keys shown once; pagination; nothing secret in any answer."""

from __future__ import annotations

import httpx

from app.auth import Actor
from app.services import apikeys, users
from tests.api.management_client import PROBLEM, Api, create_acme, field_errors

SYSTEM = Actor.system("test")
SECRETS = ("password_hash", "key_hash", "invite_hash", "totp_secret", "recovery_codes")


async def _send(api: Api, method: str, path: str, body: dict | None = None,
                headers: dict[str, str] | None = None) -> httpx.Response:
    return await api.http.request(method, path, json=body, headers=headers if headers is not None else api.as_admin())


def _no_secrets(response: httpx.Response) -> None:
    for name in SECRETS:
        assert name not in response.text, name


async def test_someone_is_invited_and_gets_a_one_time_link(api: Api):
    invited = await api.post("/api/v1/users", {"email": "Ada@Example.com", "role": "MEMBER", "name": "Ada"})
    assert invited.status_code == 201, invited.text
    body = invited.json()
    assert invited.headers["location"] == f"/api/v1/users/{body['id']}"
    assert (body["email"], body["role"], body["status"], body["name"]) == ("ada@example.com", "MEMBER", "invited",
                                                                          "Ada")
    token = body["invitation"]["token"]
    assert body["invitation"]["url"].endswith(f"/invite/{token}") and body["invitation"]["expires_at"]
    _no_secrets(invited)
    assert (await users.invitation(token)).email == "ada@example.com"
    shown = await api.get(f"/api/v1/users/{body['id']}")
    assert shown.json()["status"] == "invited" and "invitation" not in shown.json() and token not in shown.text
    _no_secrets(shown)


async def test_accounts_are_created_changed_deactivated_and_deleted(api: Api):
    created = await api.post("/api/v1/users", {"email": "bob@example.com", "password": "correct horse battery",
                                               "role": "READ_ONLY"})
    assert created.status_code == 201, created.text
    bob = created.json()
    assert (bob["status"], bob["role"], bob["invitation"]) == ("active", "READ_ONLY", None)
    _no_secrets(created)
    changed = await api.patch(f"/api/v1/users/{bob['id']}", {"role": "MEMBER"})
    assert changed.status_code == 200 and changed.json()["role"] == "MEMBER"
    assert (await api.patch(f"/api/v1/users/{bob['id']}", {"active": False})).json()["status"] == "deactivated"
    assert (await api.patch(f"/api/v1/users/{bob['id']}", {"active": True})).json()["status"] == "active"
    listed = await api.get("/api/v1/users")
    assert [u["email"] for u in listed.json()] == ["bob@example.com", "owner@example.com"]
    _no_secrets(listed)
    assert (await _send(api, "DELETE", f"/api/v1/users/{bob['id']}")).status_code == 204
    assert (await api.get(f"/api/v1/users/{bob['id']}")).status_code == 404


async def test_bad_user_input_gets_field_errors_and_the_last_owner_stays(api: Api):
    assert set(field_errors(await api.post("/api/v1/users", {"email": "nope"}))) == {"email"}
    assert set(field_errors(await api.post("/api/v1/users", {"email": "x@example.com", "role": "KING"}))) == {"role"}
    assert set(field_errors(await api.post("/api/v1/users", {"email": "x@example.com", "password": "short"}))) == \
        {"password"}
    assert set(field_errors(await api.post("/api/v1/users", {"email": "x@example.com", "admin": True}))) == {"admin"}
    assert set(field_errors(await api.post("/api/v1/users", {"email": "owner@example.com"}))) == {"email"}
    owner_id = (await api.get("/api/v1/users")).json()[0]["id"]
    assert set(field_errors(await api.patch(f"/api/v1/users/{owner_id}", {"active": "maybe"}))) == {"active"}
    kept = await api.patch(f"/api/v1/users/{owner_id}", {"role": "ADMIN"})
    assert kept.status_code == 409 and kept.headers["content-type"] == PROBLEM
    for method, path in (("GET", "/api/v1/users/999"), ("PATCH", "/api/v1/users/999"), ("DELETE", "/api/v1/users/x")):
        assert (await _send(api, method, path, {"role": "MEMBER"})).status_code == 404, path


async def test_read_only_keys_cannot_manage_people(api: Api):
    reader = api.as_reader()
    bob = await users.create_user(SYSTEM, email="bob@example.com", password="correct horse")
    team = (await api.post("/api/v1/teams", {"name": "Ops"})).json()
    for method, path, body in (("GET", "/api/v1/users", None),
                               ("POST", "/api/v1/users", {"email": "x@example.com"}),
                               ("PATCH", f"/api/v1/users/{bob.id}", {"role": "ADMIN"}),
                               ("DELETE", f"/api/v1/users/{bob.id}", None),
                               ("GET", "/api/v1/teams", None),
                               ("POST", "/api/v1/teams", {"name": "x"}),
                               ("PATCH", f"/api/v1/teams/{team['id']}", {"name": "x"}),
                               ("DELETE", f"/api/v1/teams/{team['id']}", None),
                               ("PUT", f"/api/v1/teams/{team['id']}/members/{bob.id}", None),
                               ("POST", "/api/v1/api-keys", {"name": "x"})):
        response = await _send(api, method, path, body, reader)
        assert response.status_code == 403, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM


async def test_teams_take_members_and_look_after_pages(api: Api):
    page = await create_acme(api)
    bob = await users.create_user(SYSTEM, email="bob@example.com", password="correct horse")
    created = await api.post("/api/v1/teams", {"name": "Ops"})
    assert created.status_code == 201, created.text
    team = created.json()
    assert created.headers["location"] == f"/api/v1/teams/{team['id']}"
    added = await _send(api, "PUT", f"/api/v1/teams/{team['id']}/members/{bob.id}")
    assert added.status_code == 200 and added.json()["members"] == [{"id": str(bob.id), "email": "bob@example.com"}]
    assigned = await _send(api, "PUT", "/api/v1/pages/acme/team", {"team_id": team["id"]})
    assert assigned.json() == {"page_id": page["id"], "team_id": team["id"]}
    assert (await api.get(f"/api/v1/teams/{team['id']}")).json()["pages"] == [{"id": page["id"],
                                                                               "title": "Acme Cloud"}]
    assert (await api.get(f"/api/v1/users/{bob.id}")).json()["teams"] == ["Ops"]
    assert (await api.patch(f"/api/v1/teams/{team['id']}", {"name": "SRE"})).json()["name"] == "SRE"
    assert (await _send(api, "DELETE", f"/api/v1/teams/{team['id']}/members/{bob.id}")).status_code == 204
    assert (await api.get(f"/api/v1/teams/{team['id']}")).json()["members"] == []
    cleared = await _send(api, "PUT", "/api/v1/pages/acme/team", {"team_id": None})
    assert cleared.json()["team_id"] is None
    assert (await _send(api, "DELETE", f"/api/v1/teams/{team['id']}")).status_code == 204
    assert (await api.get(f"/api/v1/teams/{team['id']}")).status_code == 404


async def test_bad_team_input_and_unknown_ids(api: Api):
    await create_acme(api)
    team = (await api.post("/api/v1/teams", {"name": "Ops"})).json()
    assert field_errors(await api.post("/api/v1/teams", {"name": "Ops"})) == {
        "name": "There is already a team called 'Ops'."}
    assert set(field_errors(await api.post("/api/v1/teams", {"name": ""}))) == {"name"}
    assert field_errors(await _send(api, "PUT", "/api/v1/pages/acme/team", {"team_id": 999})) == {
        "team_id": "No team with id 999."}
    assert set(field_errors(await _send(api, "PUT", "/api/v1/pages/acme/team", {}))) == {"team_id"}
    assert (await _send(api, "PUT", "/api/v1/pages/nope/team", {"team_id": None})).status_code == 404
    assert (await _send(api, "PUT", f"/api/v1/teams/{team['id']}/members/999")).status_code == 404
    assert (await _send(api, "PUT", "/api/v1/teams/999/members/1")).status_code == 404
    assert (await api.patch("/api/v1/teams/999", {"name": "x"})).status_code == 404
    assert (await _send(api, "DELETE", "/api/v1/teams/abc")).status_code == 404


async def test_users_and_teams_are_paginated(api: Api):
    for n in range(4):
        await users.create_user(SYSTEM, email=f"user{n}@example.com", password="correct horse")
    seen, path, pages_seen = [], "/api/v1/users?limit=2", 0
    while path:
        response = await api.get(path)
        assert response.status_code == 200, response.text
        seen += [u["email"] for u in response.json()]
        pages_seen += 1
        link = response.headers.get("link")
        if link:
            assert link.endswith('>; rel="next"') and response.headers["x-next-cursor"] in link
            path = link[1:link.index(">")].removeprefix("http://test")
        else:
            assert "x-next-cursor" not in response.headers
            path = ""
    assert pages_seen == 3
    assert seen == ["owner@example.com", "user0@example.com", "user1@example.com", "user2@example.com",
                    "user3@example.com"]
    assert field_errors(await api.get("/api/v1/users?cursor=garbage!")) == {"cursor": field_errors(
        await api.get("/api/v1/users?cursor=e30"))["cursor"]}
    assert set(field_errors(await api.get("/api/v1/users?limit=0"))) == {"limit"}
    assert set(field_errors(await api.get("/api/v1/users?limit=201"))) == {"limit"}
    for name in ("A", "B", "C"):
        await api.post("/api/v1/teams", {"name": name})
    first = await api.get("/api/v1/teams?limit=2")
    assert [t["name"] for t in first.json()] == ["A", "B"]
    rest = await api.get(f"/api/v1/teams?limit=2&cursor={first.headers['x-next-cursor']}")
    assert [t["name"] for t in rest.json()] == ["C"] and "link" not in rest.headers


async def test_api_keys_are_created_once_listed_and_revoked(api: Api):
    created = await api.post("/api/v1/api-keys", {"name": "ci", "role": "MEMBER", "expires_days": 30})
    assert created.status_code == 201, created.text
    key = created.json()
    assert created.headers["location"] == f"/api/v1/api-keys/{key['id']}"
    assert key["key"].startswith(key["prefix"]) and key["role"] == "MEMBER" and key["usable"]
    assert key["expires_at"] is not None
    _no_secrets(created)
    listed = await api.get("/api/v1/api-keys")
    assert [k["name"] for k in listed.json()] == ["ci", "dashboard", "deploy bot"]
    assert key["key"] not in listed.text and all("key" not in k for k in listed.json())
    _no_secrets(listed)
    shown = await api.get(f"/api/v1/api-keys/{key['id']}")
    assert shown.json()["name"] == "ci" and "key" not in shown.json()
    # the new key works, and is gone once revoked
    new_headers = {"Authorization": f"Bearer {key['key']}"}
    assert (await api.get("/api/v1/pages", new_headers)).status_code == 200
    assert (await _send(api, "DELETE", f"/api/v1/api-keys/{key['id']}")).status_code == 204
    assert (await api.get("/api/v1/pages", new_headers)).status_code == 401
    assert (await api.get(f"/api/v1/api-keys/{key['id']}")).json()["usable"] is False
    assert (await _send(api, "DELETE", f"/api/v1/api-keys/{key['id']}")).status_code == 409
    assert (await _send(api, "DELETE", "/api/v1/api-keys/999")).status_code == 404
    paged = await api.get("/api/v1/api-keys?limit=2")
    assert [k["name"] for k in paged.json()] == ["ci", "dashboard"] and 'rel="next"' in paged.headers["link"]


async def test_api_key_input_roles_and_other_accounts(api: Api):
    assert set(field_errors(await api.post("/api/v1/api-keys", {"name": "x", "expires_days": 0}))) == \
        {"expires_days"}
    assert set(field_errors(await api.post("/api/v1/api-keys", {"name": "x", "role": "GOD"}))) == {"role"}
    assert set(field_errors(await api.post("/api/v1/api-keys", {"name": "x", "owner": 1}))) == {"owner"}
    bob = await users.create_user(SYSTEM, email="bob@example.com", password="correct horse", role="ADMIN")
    _, bob_key = await apikeys.create_api_key(SYSTEM, email=bob.email, name="bob's", role="MEMBER")
    as_bob = {"Authorization": f"Bearer {bob_key}"}
    # a MEMBER-limited key of an admin cannot mint a stronger key, and without a role gets its own
    assert set(field_errors(await api.post("/api/v1/api-keys", {"name": "up", "role": "ADMIN"}, as_bob))) == {"role"}
    minted = await api.post("/api/v1/api-keys", {"name": "same"}, as_bob)
    assert minted.status_code == 201 and minted.json()["role"] == "MEMBER"
    # an admin sees another account's keys; a member key cannot, nor revoke the owner's
    assert [k["name"] for k in (await api.get(f"/api/v1/api-keys?user={bob.id}")).json()] == ["same", "bob's"]
    assert (await api.get("/api/v1/api-keys?user=1", as_bob)).status_code == 403
    owner_key = (await api.get("/api/v1/api-keys")).json()[0]
    assert (await api.get(f"/api/v1/api-keys/{owner_key['id']}", as_bob)).status_code == 404
    assert (await _send(api, "DELETE", f"/api/v1/api-keys/{owner_key['id']}", None, as_bob)).status_code == 403
    assert (await api.get("/api/v1/api-keys?user=999")).status_code == 404
    # a read-only key may list and revoke its own account's keys
    assert (await api.get("/api/v1/api-keys", api.as_reader())).status_code == 200

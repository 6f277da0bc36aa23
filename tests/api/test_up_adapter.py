"""The UP-compatible adapter (app/api/up.py): UP's README curl examples, run in order against Beacon, then the
routes the README lists, authentication, account isolation and bad input."""

from __future__ import annotations

import json
import shlex
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app import config
from app.api import up
from app.auth import Actor
from app.services import apikeys, pages, users
from tests.conftest import settle

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "up"
README_HOST = "http://localhost:5010"
README_KEY = "01707128300216989000"

# The curl examples of UP's README, verbatim and in order, each with the answer the README shows.
README_EXAMPLES: list[tuple[str, Any]] = [
    ('curl -H "Auth: secret" -X PUT "http://localhost:5010/accounts/" -d @priv/account.json -v',
     [{"id": "maxim-0012", "spec": "put", "type": "accounts"}]),
    ('curl -H "Auth: secret" -X GET "http://localhost:5010/accounts/" ; echo',
     [{"result": [{"id": "maxim-0012", "key": "01707128300216989000", "name": "Maksym Sokhatskyi", "sites": []}],
       "spec": "lst", "type": "accounts"}]),
    ('curl -H "Auth: 01707128300216989000" -X GET "http://localhost:5010/sites/maxim-0012" ; echo',
     [{"result": [], "spec": "get", "type": "sites"}]),
    ('curl -H "Auth: 01707128300216989000" -X GET "http://localhost:5010/subscriptions/maxim-0012" ; echo',
     [{"result": [], "spec": "get", "type": "subscriptions"}]),
]


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


async def curl(http: httpx.AsyncClient, command: str, key: str | None) -> httpx.Response:
    """Run one README curl line as the HTTP call curl makes: its method, URL (base → the adapter), headers and
    ``-d @file`` body (curl strips the file's line breaks and sends it form-encoded)."""
    words = shlex.split(command.split(";")[0])
    assert words[0] == "curl"
    method, url, headers, body = "GET", "", {}, None
    i = 1
    while i < len(words):
        word = words[i]
        if word == "-H":
            name, _, value = words[i + 1].partition(":")
            value = value.strip()
            headers[name] = key if key is not None and value == README_KEY else value
            i += 2
        elif word == "-X":
            method = words[i + 1]
            i += 2
        elif word == "-d":
            path = words[i + 1].removeprefix("@")
            body = b"".join((FIXTURES / Path(path).name).read_bytes().splitlines())
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            method = method if "-X" in words else "POST"
            i += 2
        elif word == "-v":
            i += 1
        else:
            url = word
            i += 1
    assert url.startswith(README_HOST)
    return await http.request(method, "/up" + url.removeprefix(README_HOST), headers=headers, content=body)


def contains(expected: Any, actual: Any, path: str = "") -> None:
    """Every field the README shows is in the answer with the same value (the account key excepted: Beacon makes
    its own and shows it once)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r}"
        for name, value in expected.items():
            assert name in actual, f"{path}.{name} missing in {actual!r}"
            if name != "key":
                contains(value, actual[name], f"{path}.{name}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), f"{path}: {actual!r}"
        for n, (e, a) in enumerate(zip(expected, actual, strict=True)):
            contains(e, a, f"{path}[{n}]")
    else:
        assert expected == actual, f"{path}: {expected!r} != {actual!r}"


def _app() -> FastAPI:
    app = FastAPI()
    app.include_router(up.router)
    return app


@pytest.fixture
async def http(beacon_sqlite) -> AsyncIterator[httpx.AsyncClient]:
    config.use(replace(beacon_sqlite, security_admin_key="secret", subscriber_private_urls=True))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_app()), base_url="http://test") as client:
        yield client


async def new_account(http: httpx.AsyncClient, account_id: str, name: str = "Someone") -> str:
    answer = await http.put("/up/accounts/", headers={"Auth": "secret"},
                            content=json.dumps({"id": account_id, "name": name}))
    assert answer.status_code == 200, answer.text
    return answer.json()[0]["key"]


async def put(http: httpx.AsyncClient, path: str, key: str, body: dict[str, Any], status: int = 200) -> Any:
    answer = await http.put(f"/up/{path}", headers={"Auth": key}, content=json.dumps(body))
    assert answer.status_code == status, answer.text
    return answer.json()


async def get(http: httpx.AsyncClient, path: str, key: str, status: int = 200) -> Any:
    answer = await http.get(f"/up/{path}", headers={"Auth": key})
    assert answer.status_code == status, answer.text
    return answer.json()


async def test_the_readme_curl_examples_work_in_order(http: httpx.AsyncClient) -> None:
    key = None
    for command, shown in README_EXAMPLES:
        answer = await curl(http, command, key)
        assert answer.status_code == 200, (command, answer.text)
        assert answer.headers["content-type"].startswith("application/json")
        contains(shown, answer.json())
        if key is None:  # the PUT that created the account: its key, shown this once
            key = answer.json()[0]["key"]
            assert key and key != "secret"
    listed = (await curl(http, README_EXAMPLES[1][0], key)).json()[0]["result"][0]
    assert listed["key"] is None and key.startswith(listed["key_prefix"])


async def test_an_account_is_a_team_with_a_member_user_and_its_key(http: httpx.AsyncClient) -> None:
    key = await new_account(http, "Maxim-0012", "Maksym Sokhatskyi")
    user = await users.User.get(email="up-maxim-0012@accounts.invalid")
    assert user.name == "Maksym Sokhatskyi" and user.role == up.Role.MEMBER
    team = await up.Team.get(name="up:maxim-0012").prefetch_related("members")
    assert [m.id for m in team.members] == [user.id]
    actor = await apikeys.actor_for_api_key(key)
    assert actor is not None and actor.user_id == user.id
    # the same key works with the Bearer header, and reads its own account (not others')
    own = await http.get("/up/accounts/maxim-0012", headers={"Authorization": f"Bearer {key}"})
    assert own.status_code == 200 and own.json()[0]["result"][0]["id"] == "maxim-0012"
    await new_account(http, "other")
    assert (await get(http, "accounts/other", key, 404))[0]["error"] == "Not found"
    assert len((await get(http, "accounts", key))[0]["result"]) == 1
    assert len((await get(http, "accounts", "secret"))[0]["result"]) == 2
    # creating accounts is the admin key's alone; an existing id is a conflict
    assert (await put(http, "accounts/", key, {"id": "third"}, 403))[0]["error"] == "Authorization"
    clash = await put(http, "accounts/", "secret", {"id": "maxim-0012", "name": "again"}, 409)
    assert clash[0]["error"] == "Already exists"


async def test_every_type_through_put_and_get(http: httpx.AsyncClient) -> None:
    key = await new_account(http, "maxim-0012")
    created = await put(http, "sites/maxim-0012", key, fixture("site.json"))
    assert created[0]["spec"] == "put" and created[0]["type"] == "sites" and created[0]["id"] == "maxim-status"
    site = created[0]["result"]
    assert site["name"] == "Maksym's services" and site["status"] == "UP"
    page = await pages.find_page("maxim-status")
    assert page.team_id == (await up.Team.get(name="up:maxim-0012")).id  # type: ignore[attr-defined]
    renamed = await put(http, "sites/maxim-status", key, {"name": "Maksym's cloud"})
    assert renamed[0]["result"]["name"] == "Maksym's cloud"
    assert [s["id"] for s in (await get(http, "sites/maxim-0012", key))[0]["result"]] == ["maxim-status"]
    assert (await get(http, "accounts/maxim-0012", "secret"))[0]["result"][0]["sites"] == ["maxim-status"]

    component = (await put(http, "components/maxim-0012", key, fixture("component.json")))[0]
    cid = component["id"]
    assert cid.isdigit() and component["result"]["sites"] == ["maxim-status"]
    assert component["result"]["status"] == "OPERATIONAL"
    degraded = await put(http, f"components/{cid}", key, {"status": "DEGRADEDPERFORMANCE"})
    assert degraded[0]["result"]["status"] == "DEGRADEDPERFORMANCE"
    await put(http, f"components/{cid}", key, {"status": "OPERATIONAL"})

    incident = (await put(http, "incidents/maxim-0012", key,
                          {**fixture("incident.json"), "components": {cid: "PARTIALOUTAGE"}}))[0]
    iid = incident["id"]
    assert incident["result"]["status"] == "INVESTIGATING" and incident["result"]["site"] == "maxim-status"
    await settle()
    assert (await get(http, "sites/maxim-status", key))[0]["result"][0]["status"] == "HASISSUES"
    assert (await get(http, f"components/{cid}", key))[0]["result"][0]["status"] == "PARTIALOUTAGE"
    resolved = (await put(http, f"incidents/{iid}", key, {"status": "RESOLVED", "body": "Fixed."}))[0]["result"]
    assert resolved["status"] == "RESOLVED" and len(resolved["incident_updates"]) == 2
    await settle()
    assert (await get(http, "sites/maxim-status", key))[0]["result"][0]["status"] == "UP"

    now = datetime.now(UTC)
    window = {**fixture("maintenance.json"), "starts_at": (now + timedelta(hours=1)).isoformat(),
              "ends_at": (now + timedelta(hours=2)).isoformat(), "components": [cid]}
    scheduled = (await put(http, "maintenance/maxim-0012", key, window))[0]
    assert scheduled["result"]["status"] == "NOTSTARTEDYET" and scheduled["result"]["duration"] == "60"
    started = await put(http, f"maintenance/{scheduled['id']}", key, {"status": "INPROGRESS"})
    assert started[0]["result"]["status"] == "INPROGRESS"
    await settle()
    assert (await get(http, "sites/maxim-status", key))[0]["result"][0]["status"] == "UNDER MAINTENANCE"
    done = await put(http, f"maintenance/{scheduled['id']}", key, {"status": "COMPLETED", "body": "Done."})
    assert done[0]["result"]["status"] == "COMPLETED"
    assert len((await get(http, "maintenance", key))[0]["result"]) == 1

    metric = (await put(http, "metrics/maxim-0012", key, fixture("metric.json")))[0]
    assert metric["result"]["last"]["value"] in (120, 135) and metric["result"]["suffix"] == "ms"
    more = await put(http, f"metrics/{metric['id']}", key, {"value": 99.5})
    assert more[0]["result"]["name"] == "Response time"

    subscription = (await put(http, "subscriptions/maxim-0012", key, fixture("subscription.json")))[0]
    assert subscription["result"]["endpoint"] == "http://localhost:5010/callback-3"
    listed = (await get(http, "subscriptions/maxim-0012", key))[0]
    assert listed["spec"] == "get" and [s["id"] for s in listed["result"]] == [subscription["id"]]
    # UP's singular spellings answer too, with the type as asked
    assert (await get(http, "incident", key))[0] | {"result": None} == {"result": None, "spec": "lst",
                                                                         "type": "incident"}


async def test_an_account_key_sees_only_its_own_account(http: httpx.AsyncClient) -> None:
    a = await new_account(http, "alpha")
    b = await new_account(http, "beta")
    await put(http, "sites/alpha", a, {"id": "alpha-status", "name": "Alpha"})
    cid = (await put(http, "components/alpha", a, {"name": "API"}))[0]["id"]
    iid = (await put(http, "incidents/alpha", a, {"name": "Down"}))[0]["id"]
    assert (await get(http, "sites/alpha-status", b, 404))[0] == {
        "error": "Not found", "text": "No site 'alpha-status'.", "type": "sites"}
    await get(http, "sites/alpha", b, 404)
    assert (await get(http, "sites", b))[0]["result"] == []
    await get(http, f"components/{cid}", b, 404)
    await get(http, f"incidents/{iid}", b, 404)
    await put(http, f"components/{cid}", b, {"status": "MAJOROUTAGE"}, 404)
    await put(http, f"incidents/{iid}", b, {"status": "RESOLVED"}, 404)
    await put(http, "sites/alpha-status", b, {"name": "Mine now"}, 422)  # the slug is taken: not b's to change
    assert (await put(http, "components/beta", b, {"name": "x", "site": "alpha-status"}, 422))[0]["errors"] == {
        "site": "No site 'alpha-status' in this account."}
    # nor through Beacon's own services: the account user is a MEMBER of its team only
    actor = await apikeys.actor_for_api_key(b)
    assert [p.slug for p in await pages.list_pages(actor)] == []
    assert (await get(http, "sites/alpha-status", a))[0]["result"][0]["name"] == "Alpha"


async def test_missing_or_wrong_keys_answer_401(http: httpx.AsyncClient) -> None:
    no_key = await http.get("/up/sites")
    assert no_key.status_code == 401 and no_key.json()[0]["error"] == "Authorization"
    wrong = await http.get("/up/accounts/", headers={"Auth": "not-the-secret"})
    assert wrong.status_code == 401 and "not valid" in wrong.json()[0]["text"]
    assert (await http.put("/up/accounts/", headers={"Auth": "nope"}, content=b"{}")).status_code == 401
    # the admin key manages accounts only; a Beacon key that is no UP account's is refused
    assert (await http.get("/up/sites", headers={"Auth": "secret"})).status_code == 403
    owner = await users.create_first_owner(email="owner@example.com", password="correct horse")
    _, owners_key = await apikeys.create_api_key(Actor.system(), email=owner.email, name="deploy")
    refused = await http.get("/up/sites", headers={"Auth": owners_key})
    assert refused.status_code == 403 and "UP account" in refused.json()[0]["text"]


async def test_the_admin_key_is_off_when_the_setting_is_unset(http: httpx.AsyncClient) -> None:
    config.use(replace(config.current(), security_admin_key=None))
    answer = await http.put("/up/accounts/", headers={"Auth": "secret"}, content=json.dumps(fixture("account.json")))
    assert answer.status_code == 401
    assert (await http.get("/up/accounts/", headers={"Auth": "secret"})).status_code == 401
    assert not await up.Team.filter(name="up:maxim-0012").exists()


async def test_bad_bodies_answer_4xx_with_a_message(http: httpx.AsyncClient) -> None:
    broken = await http.put("/up/accounts/", headers={"Auth": "secret"}, content=b'{"id": "x",')
    assert broken.status_code == 400 and broken.json()[0]["text"].startswith("The body is not valid JSON")
    assert broken.json()[0]["type"] == "accounts"
    for body in (b"", b"[1, 2]", b'"text"'):
        answer = await http.put("/up/accounts/", headers={"Auth": "secret"}, content=body)
        assert answer.status_code == 400 and answer.json()[0]["error"] == "Format", body
    bad_id = await put(http, "accounts/", "secret", {"id": "Not OK!"}, 422)
    assert "id" in bad_id[0]["errors"]
    assert (await put(http, "accounts/", "secret", {"id": "x", "name": ["a"]}, 422))[0]["errors"] == {
        "name": "Give this as text."}
    key = await new_account(http, "gamma")
    assert "site" in (await put(http, "components/gamma", key, {"name": "API"}, 422))[0]["errors"]
    assert "id" in (await put(http, "sites/gamma", key, {"id": "Bad Slug"}, 422))[0]["errors"]
    await put(http, "sites/gamma", key, {"id": "gamma-status", "name": "Gamma"})
    assert "name" in (await put(http, "components/gamma", key, {"name": ""}, 422))[0]["errors"]
    assert "status" in (await put(http, "components/gamma", key, {"name": "A", "status": "ON FIRE"}, 422))[0]["errors"]
    window = await put(http, "maintenance/gamma", key, {"name": "M", "starts_at": "soon"}, 422)
    assert {"starts_at", "ends_at"} <= set(window[0]["errors"])
    assert (await get(http, "widgets", key, 404))[0]["error"] == "Method"
    wrong_type = await http.put("/up/sites/gamma", headers={"Auth": key}, content=b"not json")
    assert wrong_type.status_code == 400

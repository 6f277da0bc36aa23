"""/api/v1/pages/{page} (change, delete, structure, move, place and remove components) and /api/v1/groups: the happy
paths, roles, team scope (another team's page answers 404) and field errors."""

from __future__ import annotations

import httpx
import pytest

from app.auth import Actor
from app.services import apikeys, pages, users
from storage.models import StatusPage, Team
from tests.api.management_client import PROBLEM, Api, create_acme, create_component, field_errors

SYSTEM = Actor.system("test")


async def _delete(api: Api, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return await api.http.delete(path, headers=headers if headers is not None else api.as_admin())


async def _put(api: Api, path: str, body: dict | None = None, headers: dict[str, str] | None = None
               ) -> httpx.Response:
    return await api.http.put(path, json=body, headers=headers if headers is not None else api.as_admin())


def _tree(structure_json: dict) -> list:
    def walk(items: list[dict]) -> list:
        return [(i["kind"], i["name"], walk(i["items"])) if i["kind"] == "group" else (i["kind"], i["name"])
                for i in items]

    return walk(structure_json["items"])


async def test_a_page_is_changed_by_id_or_slug_and_deleted(api: Api):
    page = await create_acme(api)
    changed = await api.patch("/api/v1/pages/acme", {"title": "Acme", "theme": "dark", "uptime_days": 30,
                                                      "custom_domain": "status.acme.test", "active": False})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["id"], body["title"], body["theme"], body["uptime_days"], body["active"]) == \
        (page["id"], "Acme", "dark", 30, False)
    assert body["custom_domain"] == "status.acme.test" and body["url"] == "https://status.acme.test/"
    renamed = await api.patch(f"/api/v1/pages/{page['id']}", {"slug": "acme-cloud", "custom_domain": None})
    assert renamed.json()["slug"] == "acme-cloud" and renamed.json()["custom_domain"] is None
    activated = await api.post("/api/v1/pages/acme-cloud/activate", {})
    assert activated.status_code == 200 and activated.json()["active"] is True
    assert (await api.get("/api/v1/pages/acme-cloud/settings")).json()["theme"] == "dark"
    assert (await _delete(api, "/api/v1/pages/acme-cloud")).status_code == 204
    gone = await api.get(f"/api/v1/pages/{page['id']}")
    assert gone.status_code == 404 and gone.headers["content-type"] == PROBLEM


async def test_bad_page_changes_get_field_errors_and_unknown_pages_404(api: Api):
    await create_acme(api)
    await api.post("/api/v1/pages", {"title": "Other", "slug": "other"})
    errors = field_errors(await api.patch("/api/v1/pages/acme", {"slug": "Not A Slug", "theme": "neon",
                                                                 "uptime_days": 45, "time_zone": "Mars/Base"}))
    assert set(errors) == {"slug", "theme", "uptime_days", "time_zone"}
    assert field_errors(await api.patch("/api/v1/pages/acme", {"slug": "other"}))["slug"] == \
        "The slug 'other' is already used by another page."
    assert set(field_errors(await api.patch("/api/v1/pages/acme", {"logo_file": "x.png"}))) == {"logo_file"}
    assert set(field_errors(await api.patch("/api/v1/pages/acme", {"public": "perhaps"}))) == {"public"}
    assert (await api.patch("/api/v1/pages/nope", {"title": "x"})).status_code == 404
    assert (await _delete(api, "/api/v1/pages/999")).status_code == 404
    assert (await api.get("/api/v1/pages/nope/structure")).status_code == 404


async def test_read_only_keys_cannot_change_pages_or_structure(api: Api):
    await create_acme(api)
    component = await create_component(api)
    group = (await api.post("/api/v1/groups", {"page": "acme", "name": "Core"})).json()
    reader = api.as_reader()
    assert (await api.patch("/api/v1/pages/acme", {"title": "x"}, reader)).status_code == 403
    assert (await _delete(api, "/api/v1/pages/acme", reader)).status_code == 403
    assert (await api.post("/api/v1/groups", {"page": "acme", "name": "x"}, reader)).status_code == 403
    assert (await api.patch(f"/api/v1/groups/{group['id']}", {"name": "x"}, reader)).status_code == 403
    assert (await _delete(api, f"/api/v1/groups/{group['id']}", reader)).status_code == 403
    move = {"kind": "component", "id": component["id"], "parent_group_id": group["id"], "position": 0}
    assert (await api.post("/api/v1/pages/acme/move", move, reader)).status_code == 403
    assert (await _delete(api, f"/api/v1/pages/acme/components/{component['id']}", reader)).status_code == 403
    refused = await _put(api, f"/api/v1/pages/acme/components/{component['id']}", None, reader)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    # reading is fine
    assert (await api.get("/api/v1/pages/acme/structure", reader)).status_code == 200


async def test_groups_are_created_nested_renamed_moved_and_deleted(api: Api):
    await create_acme(api)
    api_c = await create_component(api, name="API")
    web = await create_component(api, name="Website")
    created = await api.post("/api/v1/groups", {"page": "acme", "name": "Core"})
    assert created.status_code == 201, created.text
    core = created.json()
    assert created.headers["location"] == f"/api/v1/groups/{core['id']}"
    assert (core["name"], core["parent_id"], core["position"]) == ("Core", None, 2)
    inner = (await api.post("/api/v1/groups", {"page": "acme", "name": "Databases", "parent_id": core["id"]})).json()
    assert inner["parent_id"] == core["id"] and inner["position"] == 0
    assert (await api.get(f"/api/v1/groups/{inner['id']}")).json() == inner

    moved = await api.post("/api/v1/pages/acme/move", {"kind": "component", "id": web["id"],
                                                       "parent_group_id": inner["id"], "position": 0})
    assert moved.status_code == 200, moved.text
    assert _tree(moved.json()) == [("component", "API"), ("group", "Core", [("group", "Databases", [
        ("component", "Website")])])]
    moved = await api.post("/api/v1/pages/acme/move", {"kind": "group", "id": core["id"], "parent_group_id": None,
                                                       "position": 0})
    assert _tree(moved.json()) == [("group", "Core", [("group", "Databases", [("component", "Website")])]),
                                   ("component", "API")]
    structure_json = (await api.get("/api/v1/pages/acme/structure")).json()
    assert structure_json == moved.json()
    assert [i["position"] for i in structure_json["items"]] == [0, 1]
    assert structure_json["items"][1]["id"] == api_c["id"] and structure_json["items"][1]["status"] == "OPERATIONAL"

    renamed = await api.patch(f"/api/v1/groups/{inner['id']}", {"name": "Data"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Data"
    assert (await _delete(api, f"/api/v1/groups/{core['id']}")).status_code == 204
    assert _tree((await api.get("/api/v1/pages/acme/structure")).json()) == [
        ("group", "Data", [("component", "Website")]), ("component", "API")]
    assert (await api.get(f"/api/v1/groups/{core['id']}")).status_code == 404


async def test_bad_group_and_move_input_gets_field_errors(api: Api):
    await create_acme(api)
    other = (await api.post("/api/v1/pages", {"title": "Other", "slug": "other"})).json()
    component = await create_component(api)
    group = (await api.post("/api/v1/groups", {"page": "acme", "name": "Core"})).json()
    foreign = (await api.post("/api/v1/groups", {"page": other["id"], "name": "Theirs"})).json()
    assert field_errors(await api.post("/api/v1/groups", {"page": "nope", "name": "x"})) == {
        "page": "No status page 'nope'."}
    assert set(field_errors(await api.post("/api/v1/groups", {"page": "acme", "name": " "}))) == {"name"}
    assert set(field_errors(await api.post("/api/v1/groups", {"page": "acme", "name": "x",
                                                              "parent_id": foreign["id"]}))) == {"parent_id"}
    assert set(field_errors(await api.post("/api/v1/groups", {"page": "acme", "name": "x", "colour": 1}))) == \
        {"colour"}
    assert set(field_errors(await api.patch(f"/api/v1/groups/{group['id']}", {"name": ""}))) == {"name"}
    assert set(field_errors(await api.post("/api/v1/pages/acme/move", {
        "kind": "widget", "id": component["id"], "parent_group_id": None, "position": -1}))) == {"kind", "position"}
    assert field_errors(await api.post("/api/v1/pages/acme/move", {
        "kind": "group", "id": group["id"], "parent_group_id": group["id"], "position": 0})) == {
        "parent_group_id": "A group cannot be moved into itself or into one of its own groups."}
    assert set(field_errors(await api.post("/api/v1/pages/acme/move", {
        "kind": "group", "id": foreign["id"], "parent_group_id": None, "position": 0}))) == {"id"}
    assert set(field_errors(await api.post("/api/v1/pages/acme/move", {
        "kind": "component", "id": component["id"], "parent_group_id": foreign["id"], "position": 0}))) == \
        {"parent_group_id"}
    assert (await api.patch("/api/v1/groups/999", {"name": "x"})).status_code == 404
    assert (await api.patch("/api/v1/groups/abc", {"name": "x"})).status_code == 404
    assert (await _delete(api, "/api/v1/groups/999")).status_code == 404


async def test_a_component_is_placed_on_and_removed_from_a_page(api: Api):
    await create_acme(api)
    other = (await api.post("/api/v1/pages", {"title": "Other", "slug": "other"})).json()
    component = await create_component(api)
    group = (await api.post("/api/v1/groups", {"page": "other", "name": "Core"})).json()
    placed = await _put(api, f"/api/v1/pages/other/components/{component['id']}", {"group_id": group["id"]})
    assert placed.status_code == 201, placed.text
    assert placed.headers["location"] == f"/api/v1/pages/{other['id']}/components/{component['id']}"
    assert placed.json() == {"page_id": other["id"], "component_id": component["id"], "group_id": group["id"],
                             "position": 0}
    assert (await api.get(placed.headers["location"])).json() == placed.json()
    again = await _put(api, f"/api/v1/pages/other/components/{component['id']}")
    assert field_errors(again) == {"component_id": "'API' is already on this page."}
    assert sorted((await api.get(f"/api/v1/components/{component['id']}")).json()["pages"]) == \
        sorted([other["id"], (await api.get("/api/v1/pages/acme")).json()["id"]])
    assert (await _delete(api, f"/api/v1/pages/other/components/{component['id']}")).status_code == 204
    assert _tree((await api.get("/api/v1/pages/other/structure")).json()) == [("group", "Core", [])]
    assert (await _delete(api, f"/api/v1/pages/other/components/{component['id']}")).status_code == 404
    assert (await _put(api, "/api/v1/pages/other/components/999")).status_code == 404
    assert (await _put(api, f"/api/v1/pages/nope/components/{component['id']}")).status_code == 404
    assert set(field_errors(await _put(api, f"/api/v1/pages/acme/components/{component['id']}",
                                       {"group_id": "x"}))) == {"group_id"}


@pytest.fixture
async def scoped(api: Api) -> dict:
    """Two team pages; a MEMBER key of team A's member. Returns ids and the member's headers."""
    a = await pages.create_page(SYSTEM, title="Alpha", slug="alpha")
    b = await pages.create_page(SYSTEM, title="Bravo", slug="bravo")
    team_a, team_b = await Team.create(name="A"), await Team.create(name="B")
    await StatusPage.filter(id=a.id).update(team_id=team_a.id)
    await StatusPage.filter(id=b.id).update(team_id=team_b.id)
    member = await users.create_user(SYSTEM, email="member@example.com", password="correct horse", role="MEMBER")
    await team_a.members.add(member)
    _, key = await apikeys.create_api_key(SYSTEM, email=member.email)
    b_component = await create_component(api, name="Bravo API", pages=["bravo"])
    a_component = await create_component(api, name="Alpha API", pages=["alpha"])
    b_group = (await api.post("/api/v1/groups", {"page": "bravo", "name": "Bravo core"})).json()
    return {"a": a.id, "b": b.id, "b_component": b_component["id"], "a_component": a_component["id"],
            "b_group": b_group["id"], "member": {"Authorization": f"Bearer {key}"}}


async def test_another_teams_page_groups_and_components_answer_404(api: Api, scoped: dict):
    s, member = scoped, scoped["member"]
    for path in ("/api/v1/pages/bravo/structure", f"/api/v1/pages/{s['b']}/structure",
                 f"/api/v1/groups/{s['b_group']}"):
        response = await api.get(path, member)
        assert response.status_code == 404 and response.headers["content-type"] == PROBLEM, path
    assert (await api.patch(f"/api/v1/groups/{s['b_group']}", {"name": "Mine"}, member)).status_code == 404
    assert (await _delete(api, f"/api/v1/groups/{s['b_group']}", member)).status_code == 404
    move = {"kind": "group", "id": s["b_group"], "parent_group_id": None, "position": 0}
    assert (await api.post("/api/v1/pages/bravo/move", move, member)).status_code == 404
    assert (await _put(api, f"/api/v1/pages/bravo/components/{s['a_component']}", None, member)).status_code == 404
    assert (await _put(api, f"/api/v1/pages/alpha/components/{s['b_component']}", None, member)).status_code == 404
    assert (await _delete(api, f"/api/v1/pages/bravo/components/{s['b_component']}", member)).status_code == 404
    assert field_errors(await api.post("/api/v1/groups", {"page": "bravo", "name": "x"}, member)) == {
        "page": "No status page 'bravo'."}
    # their own page works, and page settings stay an admin's
    made = await api.post("/api/v1/groups", {"page": "alpha", "name": "Alpha core"}, member)
    assert made.status_code == 201, made.text
    assert (await api.get("/api/v1/pages/alpha/structure", member)).status_code == 200
    assert (await api.patch("/api/v1/pages/alpha", {"title": "x"}, member)).status_code == 403
    assert (await api.get(f"/api/v1/groups/{s['b_group']}")).json()["name"] == "Bravo core"

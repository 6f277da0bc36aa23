"""Team scope through /api/v1, on SQLite and PostgreSQL: an API key acts with its user's teams. Lists hold only the
pages, components, incidents and maintenance in scope; another team's ids answer 404, exactly as unknown ids do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from app.api import management, problems
from app.auth import Actor
from app.services import apikeys, components, incidents, maintenance, pages, users
from storage.models import StatusPage, Team

SYSTEM = Actor.system("test")
PROBLEM = "application/problem+json"


@dataclass
class Setup:
    http: httpx.AsyncClient
    ids: dict[str, int]
    keys: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def get(self, who: str, path: str) -> httpx.Response:
        return await self.http.get(path, headers=self.as_(who))

    async def send(self, who: str, method: str, path: str, body: dict | None = None) -> httpx.Response:
        return await self.http.request(method, path, json=body, headers=self.as_(who))


@pytest.fixture
async def setup(beacon) -> AsyncIterator[Setup]:
    a = await pages.create_page(SYSTEM, title="Alpha", slug="alpha", public=False)
    b = await pages.create_page(SYSTEM, title="Bravo", slug="bravo", public=False)
    shared = await pages.create_page(SYSTEM, title="Everyone", slug="everyone")
    team_a, team_b = await Team.create(name="Alpha team"), await Team.create(name="Bravo team")
    await StatusPage.filter(id=a.id).update(team_id=team_a.id)
    await StatusPage.filter(id=b.id).update(team_id=team_b.id)
    a_api = await components.create_component(SYSTEM, name="Alpha API", pages=[a.id])
    b_api = await components.create_component(SYSTEM, name="Bravo API", pages=[b.id])
    dns = await components.create_component(SYSTEM, name="DNS", pages=[a.id, b.id])
    web = await components.create_component(SYSTEM, name="Website", pages=[shared.id])
    a_incident = await incidents.create_incident(SYSTEM, page=a.id, name="Alpha slow", body="Looking.")
    b_incident = await incidents.create_incident(SYSTEM, page=b.id, name="Bravo down", body="Looking.")
    start = datetime.now(UTC) + timedelta(days=1)
    b_window = await maintenance.schedule_maintenance(SYSTEM, page=b.id, name="Bravo upgrade", starts_at=start,
                                                      ends_at=start + timedelta(hours=1))
    keys = {}
    for who, role, team in (("member", "MEMBER", team_a), ("reader", "READ_ONLY", team_a), ("admin", "ADMIN", None)):
        user = await users.create_user(SYSTEM, email=f"{who}@example.com", password="correct horse", role=role)
        if team is not None:
            await team.members.add(user)
        _, keys[who] = await apikeys.create_api_key(SYSTEM, email=user.email, role=role)
    ids = {"a": a.id, "b": b.id, "shared": shared.id, "a_api": a_api.id, "b_api": b_api.id, "dns": dns.id,
           "web": web.id, "a_incident": a_incident.id, "b_incident": b_incident.id, "b_window": b_window.id}
    app = FastAPI()
    problems.install(app)
    management.include(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as http:
        yield Setup(http, ids, keys)


def _ids(response: httpx.Response) -> list[int]:
    assert response.status_code == 200, response.text
    return [int(row["id"]) for row in response.json()]


async def _not_found(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == detail


async def test_lists_hold_only_what_the_keys_teams_may_see(setup):
    s, i = setup, setup.ids
    for who in ("member", "reader"):
        assert _ids(await s.get(who, "/api/v1/pages")) == [i["a"], i["shared"]]
        assert _ids(await s.get(who, "/api/v1/components")) == [i["a_api"], i["dns"], i["web"]]
        assert _ids(await s.get(who, "/api/v1/incidents")) == [i["a_incident"]]
        assert _ids(await s.get(who, "/api/v1/maintenance")) == []
    assert _ids(await s.get("admin", "/api/v1/pages")) == [i["a"], i["b"], i["shared"]]
    assert _ids(await s.get("admin", "/api/v1/incidents")) == [i["b_incident"], i["a_incident"]]
    assert _ids(await s.get("admin", "/api/v1/maintenance")) == [i["b_window"]]


async def test_a_component_on_two_teams_pages_shows_only_the_placements_in_scope(setup):
    s, i = setup, setup.ids
    dns = (await s.get("member", f"/api/v1/components/{i['dns']}")).json()
    assert dns["pages"] == [str(i["a"])]
    dns = (await s.get("admin", f"/api/v1/components/{i['dns']}")).json()
    assert dns["pages"] == [str(i["a"]), str(i["b"])]


async def test_another_teams_ids_answer_404_like_unknown_ones(setup):
    s, i = setup, setup.ids
    await _not_found(await s.get("member", "/api/v1/pages/bravo"), "No status page 'bravo'.")
    await _not_found(await s.get("member", f"/api/v1/pages/{i['b']}"), f"No status page '{i['b']}'.")
    await _not_found(await s.get("member", "/api/v1/components?page=bravo"), "No status page 'bravo'.")
    await _not_found(await s.get("member", "/api/v1/incidents?page=bravo"), "No status page 'bravo'.")
    await _not_found(await s.get("member", f"/api/v1/components/{i['b_api']}"), f"No component with id {i['b_api']}.")
    await _not_found(await s.send("member", "PATCH", f"/api/v1/components/{i['b_api']}", {"status": "DEGRADED"}),
                     f"No component with id {i['b_api']}.")
    await _not_found(await s.get("member", f"/api/v1/incidents/{i['b_incident']}"),
                     f"No incident with id {i['b_incident']}.")
    await _not_found(await s.send("member", "POST", f"/api/v1/incidents/{i['b_incident']}/updates",
                                  {"status": "RESOLVED", "body": "Not yours."}),
                     f"No incident with id {i['b_incident']}.")
    await _not_found(await s.send("member", "POST", f"/api/v1/incidents/{i['b_incident']}/resolve"),
                     f"No incident with id {i['b_incident']}.")
    await _not_found(await s.get("member", f"/api/v1/maintenance/{i['b_window']}"),
                     f"No maintenance with id {i['b_window']}.")
    await _not_found(await s.send("member", "DELETE", f"/api/v1/maintenance/{i['b_window']}"),
                     f"No maintenance with id {i['b_window']}.")
    opened = await s.send("member", "POST", "/api/v1/incidents", {"name": "Fake", "body": "x", "page": "bravo"})
    assert opened.status_code == 422 and opened.json()["errors"]["page"] == "No status page 'bravo'."
    created = await s.send("member", "POST", "/api/v1/components", {"name": "Sneaky", "pages": ["bravo"]})
    assert created.status_code == 422 and created.json()["errors"]["pages"] == "No status page 'bravo'."
    # nothing of B's changed
    assert (await s.get("admin", f"/api/v1/incidents/{i['b_incident']}")).json()["status"] == "INVESTIGATING"
    assert (await s.get("admin", f"/api/v1/maintenance/{i['b_window']}")).status_code == 200


async def test_a_member_key_works_on_its_teams_page_and_a_reader_key_only_reads(setup):
    s, i = setup, setup.ids
    changed = await s.send("member", "PATCH", f"/api/v1/components/{i['a_api']}", {"status": "DEGRADED"})
    assert changed.status_code == 200 and changed.json()["status"] == "DEGRADED"
    opened = await s.send("member", "POST", "/api/v1/incidents",
                          {"name": "Alpha errors", "body": "Looking.", "page": "alpha",
                           "components": {str(i["a_api"]): "MAJOR_OUTAGE"}})
    assert opened.status_code == 201, opened.text
    resolved = await s.send("member", "POST", f"/api/v1/incidents/{opened.json()['id']}/resolve")
    assert resolved.status_code == 201 and resolved.json()["status"] == "RESOLVED"
    assert (await s.get("reader", f"/api/v1/incidents/{i['a_incident']}")).status_code == 200
    refused = await s.send("reader", "PATCH", f"/api/v1/components/{i['a_api']}", {"status": "OPERATIONAL"})
    assert refused.status_code == 403
    # the admin key reaches B's page
    done = await s.send("admin", "POST", f"/api/v1/incidents/{i['b_incident']}/resolve")
    assert done.status_code == 201


async def test_templates_do_not_show_or_take_another_teams_components(setup):
    s, i = setup, setup.ids
    made = await s.send("admin", "POST", "/api/v1/incident-templates",
                        {"name": "Both down", "title": "Down", "components": {str(i["a_api"]): "MAJOR_OUTAGE",
                                                                               str(i["b_api"]): "MAJOR_OUTAGE"}})
    assert made.status_code == 201, made.text
    listed = (await s.get("member", "/api/v1/incident-templates")).json()
    assert [t["components"] for t in listed] == [{str(i["a_api"]): "MAJOR_OUTAGE"}]
    refused = await s.send("member", "POST", "/api/v1/incident-templates",
                           {"name": "Sneaky", "title": "x", "components": {str(i["b_api"]): "MAJOR_OUTAGE"}})
    assert refused.status_code == 422
    assert refused.json()["errors"]["components"] == f"No component with id {i['b_api']}."
    # editing the shared template keeps the other team's component it already named
    kept = await s.send("member", "PUT", f"/api/v1/incident-templates/{made.json()['id']}",
                        {"name": "Both down", "title": "Down again",
                         "components": {str(i["a_api"]): "DEGRADED", str(i["b_api"]): "MAJOR_OUTAGE"}})
    assert kept.status_code == 200, kept.text
    assert (await s.get("admin", "/api/v1/incident-templates")).json()[0]["components"] == {
        str(i["a_api"]): "DEGRADED", str(i["b_api"]): "MAJOR_OUTAGE"}

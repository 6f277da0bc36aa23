"""/api/v1/monitors and the push URL, against a real HTTP server on 127.0.0.1 (tests/monitors/http_servers.py)."""

from __future__ import annotations

import pytest

from tests.api.management_client import PROBLEM, Api, create_acme, create_component
from tests.monitors.http_servers import serve


@pytest.fixture
def site():
    with serve() as url:
        yield url


async def new_http_monitor(api: Api, url: str, **extra) -> dict:
    body = {"name": "Website", "kind": "http", "interval": 60, "timeout": 5, "config": {"url": url}, **extra}
    response = await api.post("/api/v1/monitors", body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/api/v1/monitors/{response.json()['id']}"
    return response.json()


async def test_a_monitor_is_created_checked_and_reports_uptime(api: Api, site: str):
    await create_acme(api)
    component = await create_component(api, name="Website", pages=["acme"])
    monitor = await new_http_monitor(api, f"{site}/ok", component_id=int(component["id"]))
    assert (monitor["state"], monitor["uptime"]["24h"], monitor["kind"]) == ("pending", None, "http")
    result = await api.post(f"/api/v1/monitors/{monitor['id']}/check", {})
    assert result.status_code == 200, result.text
    assert result.json()["outcome"] == "up" and "200" in result.json()["message"]
    again = (await api.get(f"/api/v1/monitors/{monitor['id']}")).json()
    assert (again["state"], again["uptime"]["24h"], again["uptime"]["90d"]) == ("up", 100.0, 100.0)
    assert again["last_latency_ms"] is not None and again["last_check_at"]
    results = (await api.get(f"/api/v1/monitors/{monitor['id']}/results?range=7d")).json()
    assert sum(p["up"] for p in results["points"]) == 1
    assert results["events"][0]["new_state"] == "up" and results["heartbeats"][0]["status"] == "up"
    assert (await api.get(f"/api/v1/monitors/{monitor['id']}/results?range=1y")).status_code == 422


async def test_a_failing_target_takes_the_component_to_major_outage(api: Api, site: str):
    await create_acme(api)
    component = await create_component(api, name="Website", pages=["acme"])
    monitor = await new_http_monitor(api, f"{site}/status/503", component_id=int(component["id"]))
    result = (await api.post(f"/api/v1/monitors/{monitor['id']}/check", {})).json()
    assert result["outcome"] == "down" and "503" in result["message"]
    summary = (await api.http.get("/status/acme/api/v2/summary.json")).json()
    assert summary["components"][0]["status"] == "major_outage"


async def test_bad_settings_come_back_as_field_errors(api: Api):
    response = await api.post("/api/v1/monitors", {"name": "x", "kind": "http", "interval": 2,
                                                    "config": {"url": "ftp://example"}})
    assert response.status_code == 422 and response.headers["content-type"].startswith(PROBLEM)
    errors = response.json()["errors"]
    assert set(errors) >= {"interval_seconds", "config.url"}
    unknown = await api.post("/api/v1/monitors", {"name": "x", "kind": "gopher"})
    assert unknown.status_code == 422 and "kind" in unknown.json()["errors"]


async def test_test_now_runs_the_check_without_saving(api: Api, site: str):
    ok = await api.post("/api/v1/monitors/test", {"kind": "keyword",
                                                   "config": {"url": f"{site}/ok", "keyword": "All systems OK"}})
    assert ok.status_code == 200 and ok.json()["outcome"] == "up", ok.text
    missing = await api.post("/api/v1/monitors/test", {"kind": "keyword",
                                                        "config": {"url": f"{site}/ok", "keyword": "Meltdown"}})
    assert missing.json()["outcome"] == "down" and "Meltdown" in missing.json()["message"]
    assert (await api.get("/api/v1/monitors")).json() == []


async def test_read_only_keys_see_monitors_but_cannot_change_them(api: Api, site: str):
    monitor = await new_http_monitor(api, f"{site}/ok")
    assert (await api.get("/api/v1/monitors", api.as_reader())).json()[0]["id"] == monitor["id"]
    for call in (api.post("/api/v1/monitors", {"name": "x", "kind": "manual"}, api.as_reader()),
                 api.post(f"/api/v1/monitors/{monitor['id']}/check", {}, api.as_reader()),
                 api.post("/api/v1/monitors/pause", {"ids": [int(monitor["id"])]}, api.as_reader()),
                 api.http.delete(f"/api/v1/monitors/{monitor['id']}", headers=api.as_reader())):
        assert (await call).status_code == 403
    assert (await api.get("/api/v1/monitors", {})).status_code == 401


async def test_secrets_never_come_back_and_survive_an_edit(api: Api, site: str):
    monitor = await new_http_monitor(api, f"{site}/auth/basic", config={
        "url": f"{site}/auth/basic", "auth": "basic", "username": "ada", "password": "correct horse"})
    assert monitor["config"]["password"] != "correct horse"
    edited = await api.patch(f"/api/v1/monitors/{monitor['id']}", {"name": "Login", "config": monitor["config"]})
    assert edited.status_code == 200, edited.text
    result = (await api.post(f"/api/v1/monitors/{monitor['id']}/check", {})).json()
    assert result["outcome"] == "up", result  # the stored password was kept


async def test_bulk_pause_and_resume_and_delete(api: Api, site: str):
    a = await new_http_monitor(api, f"{site}/ok")
    b = await new_http_monitor(api, f"{site}/ok", name="Second")
    paused = await api.post("/api/v1/monitors/pause", {"ids": [int(a["id"]), int(b["id"])]})
    assert paused.json() == {"changed": 2}
    assert {m["state"] for m in (await api.get("/api/v1/monitors")).json()} == {"paused"}
    refused = await api.post(f"/api/v1/monitors/{a['id']}/check", {})
    assert refused.status_code == 422 and "paused" in refused.json()["errors"]
    assert (await api.post("/api/v1/monitors/resume", {"ids": [int(a["id"])]})).json() == {"changed": 1}
    assert (await api.http.delete(f"/api/v1/monitors/{b['id']}", headers=api.as_admin())).status_code == 204
    assert (await api.get(f"/api/v1/monitors/{b['id']}")).status_code == 404
    assert (await api.post("/api/v1/monitors/pause", {"ids": [int(b["id"])]})).status_code == 404


async def test_a_push_monitor_is_fed_by_its_url(api: Api):
    response = await api.post("/api/v1/monitors", {"name": "Nightly backup", "kind": "push", "interval": 3600})
    monitor = response.json()
    path = monitor["push_url"].split("://", 1)[1].split("/", 1)[1]
    ok = await api.http.get(f"/{path}?status=up&msg=backup%20done&ping=812")
    assert ok.status_code == 200 and ok.json() == {"ok": True}
    again = (await api.get(f"/api/v1/monitors/{monitor['id']}")).json()
    assert (again["state"], again["last_message"], again["last_latency_ms"]) == ("up", "backup done", 812)
    failed = await api.http.post(f"/{path}?status=down&msg=disk%20full")
    assert failed.status_code == 200
    assert (await api.get(f"/api/v1/monitors/{monitor['id']}")).json()["state"] == "down"
    assert (await api.http.get(f"/{path}?status=sideways")).status_code == 422
    assert (await api.http.get(f"/{path}?ping=fast")).status_code == 422
    assert (await api.http.get("/api/push/no-such-token")).status_code == 404


async def test_the_kinds_are_listed_with_their_settings(api: Api):
    kinds = {k["name"]: k for k in (await api.get("/api/v1/monitor-kinds")).json()}
    assert len(kinds) >= 29  # every kind but "script", which is off unless the operator turns it on
    assert "script" not in kinds
    http_fields = {f["name"]: f for f in kinds["http"]["fields"]}
    assert http_fields["url"]["required"] and http_fields["method"]["choices"]
    assert kinds["dns"]["library"] and kinds["postgresql"]["summary"]

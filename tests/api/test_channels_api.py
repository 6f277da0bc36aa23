"""/api/v1/channels and /api/v1/deliveries: create, list, change, test, delete; deliveries and retry; roles."""

from __future__ import annotations

import pytest

from app.notify.outbox import Outbox
from tests.api.management_client import PROBLEM, Api, create_acme, create_component
from tests.monitors.http_servers import serve


@pytest.fixture
def site():
    with serve() as url:
        yield url


async def test_a_channel_is_created_tested_changed_and_deleted(api: Api, site: str):
    created = await api.post("/api/v1/channels", {"name": "Ops", "kind": "webhook", "events": ["incident.created"],
                                                   "config": {"url": f"{site}/echo", "secret": "s3cret"}})
    assert created.status_code == 201, created.text
    channel = created.json()
    assert created.headers["location"] == f"/api/v1/channels/{channel['id']}"
    assert channel["config"]["secret"] != "s3cret" and channel["enabled"]
    test = await api.post(f"/api/v1/channels/{channel['id']}/test", {})
    assert test.json() == {"accepted": True, "error": None}
    changed = await api.patch(f"/api/v1/channels/{channel['id']}", {"enabled": False, "config": channel["config"]})
    assert changed.status_code == 200 and changed.json()["enabled"] is False
    assert [c["name"] for c in (await api.get("/api/v1/channels")).json()] == ["Ops"]
    assert (await api.http.delete(f"/api/v1/channels/{channel['id']}", headers=api.as_admin())).status_code == 204
    assert (await api.get(f"/api/v1/channels/{channel['id']}")).status_code == 404


async def test_bad_channels_get_field_errors(api: Api):
    response = await api.post("/api/v1/channels", {"name": "x", "kind": "webhook", "events": ["nope"],
                                                    "config": {"url": "gopher://x"}})
    assert response.status_code == 422 and response.headers["content-type"].startswith(PROBLEM)
    assert set(response.json()["errors"]) == {"events", "config.url"}


async def test_deliveries_are_listed_and_a_failed_one_is_retried(api: Api, site: str):
    await create_acme(api)
    component = await create_component(api, name="API", pages=["acme"])
    channel = (await api.post("/api/v1/channels", {"name": "Ops", "kind": "webhook", "events": ["incident.created"],
                                                    "config": {"url": f"{site}/status/503"}})).json()
    await api.post("/api/v1/incidents", {"name": "Down", "impact": "MAJOR", "body": "Looking.", "page": "acme",
                                         "components": {component["id"]: "MAJOR_OUTAGE"}})
    from tests.conftest import settle

    await settle()
    box = Outbox()
    await box.dispatch()
    await box.deliver_due()
    await box.settle()
    [failed] = (await api.get("/api/v1/deliveries?status=failed")).json()
    assert (failed["channel_id"], failed["attempts"]) == (channel["id"], 1)
    assert failed["last_error"] == "HTTP 503: status 503"
    await api.patch(f"/api/v1/channels/{channel['id']}", {"config": {"url": f"{site}/echo"}})
    retried = await api.post(f"/api/v1/deliveries/{failed['id']}/retry", {})
    assert retried.json()["status"] == "pending"
    await box.deliver_due()
    await box.settle()
    assert (await api.get("/api/v1/deliveries?status=sent")).json()[0]["id"] == failed["id"]
    assert (await api.post(f"/api/v1/deliveries/{failed['id']}/retry", {})).status_code == 422


async def test_read_only_keys_cannot_see_or_change_channels(api: Api):
    assert (await api.get("/api/v1/channels", api.as_reader())).status_code == 403
    refused = await api.post("/api/v1/channels", {"name": "x", "kind": "webhook", "events": ["incident.created"],
                                                   "config": {"url": "http://127.0.0.1:9/"}}, api.as_reader())
    assert refused.status_code == 403

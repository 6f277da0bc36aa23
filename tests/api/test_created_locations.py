"""Every create in the management API answers 201 with a Location that leads to what was created (a GET there
answers 200 with the same id)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.config import Settings
from tests.api.management_client import Api


async def created(api: Api, path: str, body: dict) -> dict:
    response = await api.post(path, body)
    assert response.status_code == 201, (path, response.text)
    location = response.headers.get("location")
    assert location, f"{path} answered 201 without a Location"
    fetched = await api.get(location)
    assert fetched.status_code == 200, (location, fetched.text)
    return response.json()


async def test_each_create_leads_to_what_it_made(api: Api, settings: Settings):
    page = await created(api, "/api/v1/pages", {"title": "Acme", "slug": "acme"})
    component = await created(api, "/api/v1/components", {"name": "API", "pages": ["acme"]})
    await created(api, "/api/v1/groups", {"page": "acme", "name": "Europe"})
    incident = await created(api, "/api/v1/incidents", {"name": "Down", "impact": "MAJOR", "body": "Looking.",
                                                        "page": "acme", "components": {component["id"]: "DEGRADED"}})
    await created(api, f"/api/v1/incidents/{incident['id']}/updates", {"status": "IDENTIFIED", "body": "Found."})
    await created(api, f"/api/v1/incidents/{incident['id']}/resolve", {"body": "Fixed."})
    await created(api, "/api/v1/incident-templates", {"name": "DB", "title": "Database slow"})
    start = datetime.now(UTC) + timedelta(days=1)
    window = await created(api, "/api/v1/maintenance", {"name": "Upgrade", "page": "acme",
                                                        "starts_at": start.isoformat(),
                                                        "ends_at": (start + timedelta(hours=1)).isoformat()})
    await created(api, f"/api/v1/maintenance/{window['id']}/updates", {"body": "On track."})
    await created(api, "/api/v1/metrics", {"page": "acme", "name": "Latency", "suffix": "ms"})
    await created(api, "/api/v1/monitors", {"name": "Manual", "kind": "manual", "interval": 60, "timeout": 10,
                                            "retries": 0, "component_id": component["id"],
                                            "config": {"status": "up"}})
    await created(api, "/api/v1/channels", {"name": "Ops", "kind": "webhook", "events": ["incident.created"],
                                            "config": {"url": "https://hooks.example.com/x"}})
    await created(api, "/api/v1/subscribers", {"page": "acme", "kind": "webhook",
                                               "address": "https://hooks.example.com/sub"})
    await created(api, "/api/v1/teams", {"name": "Payments"})
    await created(api, "/api/v1/users", {"email": "sam@example.com", "role": "MEMBER"})
    await created(api, "/api/v1/api-keys", {"name": "ci"})
    assert page["slug"] == "acme"

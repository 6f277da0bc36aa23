"""Incidents and maintenance through the management API, as an on-call script would drive them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.models import Component, Incident, Maintenance
from tests.api.management_client import PROBLEM, Api, create_acme, create_component, field_errors
from tests.conftest import settle


async def _incident(api: Api, component_id: str, **body) -> dict:
    response = await api.post("/api/v1/incidents", {
        "name": "API errors", "impact": "MAJOR", "status": "INVESTIGATING", "body": "Looking into it.",
        "page": "acme", "components": {component_id: "MAJOR_OUTAGE"}, **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_an_incident_opened_updated_and_resolved_drives_the_component_and_public_api(api: Api):
    await create_acme(api)
    component = await create_component(api)

    created = await _incident(api, component["id"])
    await settle()
    summary = (await api.http.get("/status/acme/api/v2/summary.json")).json()
    assert summary["status"]["indicator"] == "critical"
    assert [i["name"] for i in summary["incidents"]] == ["API errors"]
    assert summary["components"][0]["status"] == "major_outage"

    updated = await api.post(f"/api/v1/incidents/{created['id']}/updates", {
        "status": "monitoring", "body": "A fix is out.", "components": {component["id"]: "degraded_performance"}})
    resolved = await api.post(f"/api/v1/incidents/{created['id']}/resolve", {})
    await settle()

    assert created["status"] == "INVESTIGATING" and created["components"] == {component["id"]: "MAJOR_OUTAGE"}
    assert created["url"].endswith(f"/status/acme/incidents/{created['id']}")
    assert updated.status_code == 201
    assert updated.json()["updates"][0]["affected_components"] == {
        component["id"]: {"old": "MAJOR_OUTAGE", "new": "DEGRADED"}}
    assert resolved.json()["status"] == "RESOLVED"
    assert [u["status"] for u in resolved.json()["updates"]] == ["RESOLVED", "MONITORING", "INVESTIGATING"]
    assert (await Component.get(id=int(component["id"]))).status.value == "OPERATIONAL"
    summary = (await api.http.get("/status/acme/api/v2/summary.json")).json()
    assert summary["status"]["indicator"] == "none" and summary["incidents"] == []
    listed = (await api.http.get("/status/acme/api/v2/incidents.json")).json()["incidents"]
    assert [(i["name"], i["status"]) for i in listed] == [("API errors", "resolved")]
    assert [u["status"] for u in listed[0]["incident_updates"]] == ["resolved", "monitoring", "investigating"]


async def test_bad_incident_input_answers_422_with_field_errors_and_writes_nothing(api: Api):
    await create_acme(api)
    await create_component(api)

    response = await api.post("/api/v1/incidents", {
        "name": "", "impact": "HUGE", "status": "INVESTIGATING", "body": " ", "page": "acme",
        "components": {"424242": "MAJOR_OUTAGE"}})

    errors = field_errors(response)
    assert set(errors) == {"name", "impact", "body", "components"}
    assert "424242" in errors["components"]
    assert await Incident.all().count() == 0


async def test_an_empty_update_and_an_unknown_incident_are_refused(api: Api):
    await create_acme(api)
    component = await create_component(api)
    created = await _incident(api, component["id"])

    empty = await api.post(f"/api/v1/incidents/{created['id']}/updates", {"status": "IDENTIFIED", "body": ""})
    unknown = await api.post("/api/v1/incidents/99999/updates", {"status": "IDENTIFIED", "body": "x"})
    malformed = await api.get("/api/v1/incidents/abc")

    assert "message" in field_errors(empty)["body"]
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    assert malformed.status_code == 404


async def test_a_read_only_key_may_read_incidents_but_not_open_them(api: Api):
    await create_acme(api)
    component = await create_component(api)
    await _incident(api, component["id"])

    refused = await api.post("/api/v1/incidents", {"name": "x", "body": "x", "page": "acme"},
                             headers=api.as_reader())
    listed = await api.get("/api/v1/incidents", headers=api.as_reader())

    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert [i["name"] for i in listed.json()] == ["API errors"]


async def test_pinning_and_the_postmortem_through_the_api(api: Api):
    await create_acme(api)
    component = await create_component(api)
    created = await _incident(api, component["id"])

    early = await api.http.put(f"/api/v1/incidents/{created['id']}/postmortem", json={"body": "Cause."},
                               headers=api.as_admin())
    pinned = await api.patch(f"/api/v1/incidents/{created['id']}", {"pinned": True})
    await api.post(f"/api/v1/incidents/{created['id']}/resolve", {"body": "Fixed."})
    published = await api.http.put(f"/api/v1/incidents/{created['id']}/postmortem",
                                   json={"body": "A full disk."}, headers=api.as_admin())

    assert "Resolve the incident" in field_errors(early)["postmortem"]
    assert pinned.json()["pinned"] is True
    assert published.status_code == 200
    assert published.json()["postmortem_body"] == "A full disk."
    assert published.json()["postmortem_published_at"] is not None
    await settle()
    listed = (await api.http.get("/status/acme/api/v2/incidents.json")).json()["incidents"]
    assert [i["status"] for i in listed] == ["postmortem"]  # as Statuspage shows a published write-up


async def test_templates_are_created_listed_replaced_and_deleted(api: Api):
    await create_acme(api)
    component = await create_component(api)

    created = await api.post("/api/v1/incident-templates", {
        "name": "API down", "title": "API unavailable", "body": "Investigating.", "impact": "MAJOR",
        "components": {component["id"]: "MAJOR_OUTAGE"}})
    clash = await api.post("/api/v1/incident-templates", {"name": "API down", "title": "x"})
    replaced = await api.http.put(f"/api/v1/incident-templates/{created.json()['id']}", json={
        "name": "API down", "title": "API is down", "impact": "PARTIAL"}, headers=api.as_admin())
    deleted = await api.http.delete(f"/api/v1/incident-templates/{created.json()['id']}", headers=api.as_admin())
    listed = await api.get("/api/v1/incident-templates")

    assert created.status_code == 201 and created.json()["components"] == {component["id"]: "MAJOR_OUTAGE"}
    assert "already exists" in field_errors(clash)["name"]
    assert replaced.json()["title"] == "API is down" and replaced.json()["components"] == {}
    assert deleted.status_code == 204 and listed.json() == []


async def test_maintenance_is_scheduled_started_extended_and_completed(api: Api):
    await create_acme(api)
    component = await create_component(api)
    start = datetime.now(UTC) + timedelta(hours=1)

    created = await api.post("/api/v1/maintenance", {
        "name": "Database upgrade", "body": "Upgrading.", "page": "acme", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(), "components": [component["id"]]})
    await settle()
    upcoming = (await api.http.get("/status/acme/api/v2/scheduled-maintenances/upcoming.json")).json()
    mid = created.json()["id"]
    started = await api.post(f"/api/v1/maintenance/{mid}/start", {"body": "Starting early."})
    extended = await api.post(f"/api/v1/maintenance/{mid}/extend", {
        "ends_at": (start + timedelta(hours=4)).isoformat(), "body": "Taking longer."})
    await settle()
    active = (await api.http.get("/status/acme/api/v2/scheduled-maintenances/active.json")).json()
    completed = await api.post(f"/api/v1/maintenance/{mid}/complete", {"body": "Done."})

    assert created.status_code == 201, created.text
    assert created.json()["state"] == "SCHEDULED" and created.json()["components"] == [component["id"]]
    assert [m["name"] for m in upcoming["scheduled_maintenances"]] == ["Database upgrade"]
    assert started.json()["state"] == "IN_PROGRESS"
    assert extended.json()["ends_at"] == (start + timedelta(hours=4)).isoformat()
    assert [m["status"] for m in active["scheduled_maintenances"]] == ["in_progress"]
    assert completed.json()["state"] == "COMPLETED"
    assert [u["body"] for u in completed.json()["updates"]] == ["Done.", "Taking longer.", "Starting early."]
    assert (await Component.get(id=int(component["id"]))).status.value == "OPERATIONAL"


async def test_maintenance_that_ends_before_it_starts_or_in_the_past_is_refused(api: Api):
    await create_acme(api)
    component = await create_component(api)
    start = datetime.now(UTC) + timedelta(hours=1)

    backwards = await api.post("/api/v1/maintenance", {
        "name": "Upgrade", "page": "acme", "starts_at": start.isoformat(),
        "ends_at": (start - timedelta(minutes=30)).isoformat(), "components": [component["id"]]})
    past = await api.post("/api/v1/maintenance", {
        "name": "Upgrade", "page": "acme", "starts_at": "2020-01-01T02:00:00Z", "ends_at": "2020-01-01T03:00:00Z",
        "components": [component["id"]]})
    backfilled = await api.post("/api/v1/maintenance", {
        "name": "Upgrade", "page": "acme", "starts_at": "2020-01-01T02:00:00Z", "ends_at": "2020-01-01T03:00:00Z",
        "components": [component["id"]], "backfill": True})

    assert "after the start" in field_errors(backwards)["ends_at"]
    assert "backfilled" in field_errors(past)["ends_at"]
    assert backfilled.status_code == 201 and backfilled.json()["state"] == "COMPLETED"
    assert await Maintenance.all().count() == 1


async def test_a_recurring_maintenance_through_the_api_gets_its_first_occurrence(api: Api):
    await create_acme(api)
    component = await create_component(api)

    created = await api.post("/api/v1/maintenance", {
        "name": "Weekly patching", "page": "acme", "components": [component["id"]],
        "recurrence": {"kind": "weekly", "days": [1, 3], "time": "02:00", "duration_minutes": 60}})
    bad = await api.post("/api/v1/maintenance", {
        "name": "Broken", "page": "acme", "recurrence": {"kind": "cron", "expression": "0 25 * * *",
                                                         "duration_minutes": 60}})
    cancelled = await api.http.delete(f"/api/v1/maintenance/{created.json()['id']}?end_series=true",
                                      headers=api.as_admin())

    body = created.json()
    assert created.status_code == 201, created.text
    starts = datetime.fromisoformat(body["starts_at"])
    assert starts.weekday() in (1, 3) and starts > datetime.now(UTC)
    assert datetime.fromisoformat(body["ends_at"]) - starts == timedelta(hours=1)
    assert body["recurrence"]["days"] == [1, 3] and body["series_id"] == body["id"]
    assert "25" in field_errors(bad)["recurrence"]
    assert cancelled.status_code == 204 and await Maintenance.all().count() == 0


async def test_the_openapi_schema_documents_incidents_and_maintenance(api: Api):
    paths = (await api.http.get("/api/v1/openapi.json")).json()["paths"]

    for path in ("/api/v1/incidents", "/api/v1/incidents/{incident_id}/updates", "/api/v1/maintenance",
                 "/api/v1/maintenance/{maintenance_id}/extend", "/api/v1/incident-templates"):
        assert path in paths

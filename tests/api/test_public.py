"""The public, cookie-free routes: status page HTML, Statuspage-compatible JSON, health check.

The routes are tested on a FastAPI app built here from the routers (PITFALLS.md: re-running main.py's
``ui.run_with`` in tests fails); the runtime is started by the ``beacon_sqlite`` fixture.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.auth import Actor
from app.runtime import state
from app.services import components, incidents, maintenance, pages, users
from tests.conftest import settle

SYSTEM = Actor.system("test")

PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_KEYS = {"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
                  "start_date", "group_id", "page_id", "group", "only_show_if_degraded"}


async def _page(slug: str = "acme", **options):
    page = await pages.create_page(SYSTEM, title=slug.title(), slug=slug, **options)
    await settle()
    return page


async def _acme_with_components():
    """Page 'acme': a top-level API and a 'Storage' group holding 'Buckets'."""
    page = await pages.create_page(SYSTEM, title="Acme Cloud", slug="acme")
    api = await components.create_component(SYSTEM, name="API", pages=[page.id])
    group = await components.create_group(SYSTEM, page_id=page.id, name="Storage")
    buckets = await components.create_component(SYSTEM, name="Buckets", pages=[page.id], group_id=group.id)
    await settle()
    return page, api, group, buckets


def _has_offset(timestamp: str) -> bool:
    return datetime.fromisoformat(timestamp).utcoffset() is not None


async def test_summary_json_has_the_statuspage_shape(client: httpx.AsyncClient):
    page, api, group, buckets = await _acme_with_components()

    response = await client.get("/status/acme/api/v2/summary.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"page", "status", "components", "incidents", "scheduled_maintenances"}
    assert set(body["page"]) == PAGE_KEYS
    assert body["page"]["id"] == str(page.id)
    assert body["page"]["name"] == "Acme Cloud"
    assert body["page"]["url"].endswith("/status/acme")
    assert _has_offset(body["page"]["updated_at"])
    assert body["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert body["incidents"] == [] and body["scheduled_maintenances"] == []
    rows = {row["name"]: row for row in body["components"]}
    assert set(rows) == {"API", "Storage", "Buckets"}
    for row in body["components"]:
        assert COMPONENT_KEYS <= set(row)
        assert row["page_id"] == str(page.id)
        assert _has_offset(row["created_at"]) and _has_offset(row["updated_at"])
    assert rows["API"]["status"] == "operational"
    assert rows["API"]["id"] == str(api.id) and rows["API"]["group"] is False and rows["API"]["group_id"] is None
    assert rows["Buckets"]["group_id"] == str(group.id)
    assert rows["Storage"]["group"] is True
    assert rows["Storage"]["components"] == [str(buckets.id)]


INCIDENT_KEYS = {"id", "name", "status", "impact", "created_at", "updated_at", "monitoring_at", "resolved_at",
                 "started_at", "shortlink", "page_id", "incident_updates", "components"}
UPDATE_KEYS = {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
               "affected_components"}


async def test_incidents_and_maintenance_carry_every_field_of_the_contract(client: httpx.AsyncClient):
    """CONTRACT.md "Statuspage-compatible JSON", field by field: incidents with their updates and components, and
    maintenances with ``scheduled_for`` and ``scheduled_until`` besides."""
    page, api, _, _ = await _acme_with_components()
    incident = await incidents.create_incident(SYSTEM, page=page.id, name="API down", impact="MAJOR", body="Looking.",
                                               components={api.id: "MAJOR_OUTAGE"})
    await incidents.post_update(SYSTEM, incident.id, status="MONITORING", body="Fix deployed.")
    start = datetime.now(UTC) + timedelta(days=1)
    await maintenance.schedule_maintenance(SYSTEM, page=page.id, name="Upgrade", starts_at=start,
                                           ends_at=start + timedelta(hours=1), components=[api.id])
    await settle()
    body = (await client.get("/status/acme/api/v2/summary.json")).json()
    [listed] = body["incidents"]
    assert set(listed) >= INCIDENT_KEYS
    assert (listed["id"], listed["name"], listed["status"], listed["impact"]) == (
        str(incident.id), "API down", "monitoring", "critical")
    assert listed["page_id"] == str(page.id) and listed["shortlink"].endswith(f"/status/acme/incidents/{incident.id}")
    assert listed["resolved_at"] is None and _has_offset(listed["monitoring_at"])
    assert all(_has_offset(listed[k]) for k in ("created_at", "updated_at", "started_at"))
    assert [c["id"] for c in listed["components"]] == [str(api.id)]
    assert [u["status"] for u in listed["incident_updates"]] == ["monitoring", "investigating"]
    for update in listed["incident_updates"]:
        assert set(update) >= UPDATE_KEYS and update["incident_id"] == str(incident.id)
        assert all(_has_offset(update[k]) for k in ("created_at", "updated_at", "display_at"))
    [planned] = body["scheduled_maintenances"]
    assert set(planned) >= INCIDENT_KEYS | {"scheduled_for", "scheduled_until"}
    assert planned["status"] == "scheduled" and planned["name"] == "Upgrade"
    assert datetime.fromisoformat(planned["scheduled_until"]) - datetime.fromisoformat(planned["scheduled_for"]) \
        == timedelta(hours=1)


async def test_summary_json_shows_a_status_change_once_settled(client: httpx.AsyncClient):
    _, api, _, _ = await _acme_with_components()

    await components.set_status(SYSTEM, api.id, "MAJOR_OUTAGE")
    await settle()
    body = (await client.get("/status/acme/api/v2/summary.json")).json()

    assert body["status"] == {"indicator": "critical", "description": "Major System Outage"}
    assert {row["name"]: row["status"] for row in body["components"]}["API"] == "major_outage"


async def test_status_and_components_documents_are_served_too(client: httpx.AsyncClient):
    await _acme_with_components()

    status = await client.get("/status/acme/api/v2/status.json")
    listed = await client.get("/status/acme/api/v2/components.json")

    assert set(status.json()) == {"page", "status"}
    assert [row["name"] for row in listed.json()["components"]] == ["API", "Buckets", "Storage"]


async def test_root_api_serves_the_default_page(client: httpx.AsyncClient):
    first = await _page("first")
    await _page("second")

    body = (await client.get("/api/v2/summary.json")).json()

    assert body["page"]["id"] == str(first.id)


async def test_root_api_serves_the_page_bound_to_the_request_host(client: httpx.AsyncClient):
    await _page("first")
    second = await _page("second")
    await pages.update_page(SYSTEM, second.id, custom_domain="status.example.com")
    await settle()

    body = (await client.get("/api/v2/summary.json", headers={"host": "status.example.com"})).json()

    assert body["page"]["id"] == str(second.id)
    assert body["page"]["url"] == "https://status.example.com/"


async def test_status_page_html_shows_components_and_the_banner(client: httpx.AsyncClient):
    _, api, _, _ = await _acme_with_components()
    await components.set_status(SYSTEM, api.id, "PARTIAL_OUTAGE")
    await settle()

    response = await client.get("/status/acme")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "Partial System Outage" in response.text
    for name in ("API", "Storage", "Buckets"):
        assert name in response.text


@pytest.mark.parametrize("options", [{"public": False}, {"active": False}], ids=["private", "draft"])
async def test_hidden_pages_answer_404_like_unknown_ones(client: httpx.AsyncClient, options: dict):
    await _page("hidden", **options)
    await pages.update_page(SYSTEM, (await pages.find_page("hidden")).id, custom_domain="hidden.example.com")
    await settle()

    answers = [
        await client.get("/status/hidden"),
        await client.get("/status/hidden/api/v2/summary.json"),
        await client.get("/status/hidden/api/v2/components.json"),
        await client.get("/status/hidden/live"),
        await client.get("/api/v2/summary.json", headers={"host": "hidden.example.com"}),
    ]
    unknown = [await client.get("/status/nope"), await client.get("/status/nope/api/v2/summary.json")]

    assert [r.status_code for r in answers] == [404] * len(answers)
    assert [r.status_code for r in unknown] == [404, 404]
    assert answers[0].text == unknown[0].text  # nothing tells a hidden page from a missing one
    assert "Hidden" not in answers[0].text and "hidden" not in answers[1].text


async def test_unknown_json_document_is_404(client: httpx.AsyncClient):
    await _page("acme")

    response = await client.get("/status/acme/api/v2/secrets.json")

    assert response.status_code == 404


async def test_public_answers_carry_no_cookie_and_may_be_cached(client: httpx.AsyncClient):
    await _page("acme")

    answers = [await client.get(path) for path in (
        "/status/acme", "/status/acme/api/v2/summary.json", "/api/v2/status.json")]

    for response in answers:
        assert response.status_code == 200
        assert "set-cookie" not in response.headers
        assert "max-age" in response.headers["cache-control"]


async def test_healthz_reports_ok_while_the_database_answers(client: httpx.AsyncClient):
    response = await client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["status"] == "ok" and response.json()["checks"]["database"] == "ok"
    assert "set-cookie" not in response.headers


async def test_root_leads_to_setup_until_an_owner_exists(client: httpx.AsyncClient):
    await _page("acme")

    response = await client.get("/")

    assert response.status_code in (302, 303, 307)
    assert response.headers["location"] == "/setup"


async def test_root_serves_the_default_page_once_an_owner_exists(client: httpx.AsyncClient):
    await _acme_with_components()
    assert state.has_owner is False

    await users.create_first_owner(email="owner@example.com", password="correct horse")
    await settle()
    response = await client.get("/")

    assert state.has_owner is True
    assert response.status_code == 200
    assert "Acme Cloud" in response.text and "Buckets" in response.text
    assert "set-cookie" not in response.headers


async def test_an_unchanged_page_revalidates_with_304_and_a_change_gives_a_new_etag(client: httpx.AsyncClient):
    page = await pages.create_page(SYSTEM, title="Acme", slug="acme")
    component = await components.create_component(SYSTEM, name="API", pages=[page.id])
    await settle()
    for path in ("/status/acme", "/status/acme/api/v2/summary.json"):
        first = await client.get(path)
        etag = first.headers["etag"]

        again = await client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""

    await components.set_status(SYSTEM, component.id, "MAJOR_OUTAGE")
    await settle()
    changed = await client.get("/status/acme", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert "Major System Outage" in changed.text


async def test_browsers_get_the_page_gzipped_and_its_etag_revalidates(client: httpx.AsyncClient):
    await _acme_with_components()

    plain = await client.get("/status/acme", headers={"Accept-Encoding": "identity"})
    zipped = await client.get("/status/acme", headers={"Accept-Encoding": "gzip, deflate, br"})
    again = await client.get("/status/acme",
                             headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["etag"]})

    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == plain.text  # httpx decodes it: the same page
    assert int(zipped.headers["content-length"]) < len(plain.content) / 3
    assert zipped.headers["etag"] != plain.headers["etag"]
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert again.status_code == 304


async def test_caddy_may_get_certificates_only_for_the_custom_domains_of_pages(client: httpx.AsyncClient):
    page = await _page("acme")
    await pages.update_page(SYSTEM, page.id, custom_domain="status.acme.com")
    await settle()
    for name, expected in (("status.acme.com", 200), ("STATUS.acme.com.", 200), ("evil.example.com", 404), ("", 404)):
        answer = await client.get("/_beacon/tls-allowed", params={"domain": name})
        assert answer.status_code == expected, name

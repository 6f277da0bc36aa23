"""Feeds and badges over HTTP, on an app built from the public routers (PITFALLS.md: main.py's ``ui.run_with``
must not run again in tests), with the runtime started on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import feedparser
import httpx
import icalendar
import pytest

from app.auth import Actor
from app.services import components, incidents, maintenance, pages
from app.snapshot import store
from tests.conftest import settle

SYSTEM = Actor.system("test")


@pytest.fixture
def http(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client  # tests/conftest.py: the public routes, feeds and badges included


async def _acme():
    """Page 'acme' with a component 'API', an open incident and an upcoming maintenance window."""
    page = await pages.create_page(SYSTEM, title="Acme Cloud", slug="acme")
    api = await components.create_component(SYSTEM, name="API", pages=[page.id])
    await incidents.create_incident(SYSTEM, page=page.id, name="API errors", impact="MINOR",
                                    status="INVESTIGATING", body="We are **looking** into it.",
                                    components={api.id: "DEGRADED"})
    start = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    window = await maintenance.schedule_maintenance(SYSTEM, page=page.id, name="Database upgrade",
                                                    body="Routine, a few minutes.", starts_at=start,
                                                    ends_at=start + timedelta(hours=2), components=[api.id])
    await settle()
    return page, api, window, start


# --- feeds ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "media_type"), [
    ("/status/acme/feed.rss", "application/rss+xml; charset=utf-8"),
    ("/status/acme/feed.atom", "application/atom+xml; charset=utf-8"),
])
async def test_feeds_list_incidents_and_maintenance(http: httpx.AsyncClient, path, media_type):
    page, _, window, _ = await _acme()

    response = await http.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "Acme Cloud status"
    titles = [e.title for e in parsed.entries]
    assert set(titles) == {"API errors", "Database upgrade"}
    maintenance_entry = next(e for e in parsed.entries if e.title == "Database upgrade")
    assert maintenance_entry.link.endswith(f"/status/acme/maintenance/{window.id}")
    assert maintenance_entry.link.startswith("http")
    incident_entry = next(e for e in parsed.entries if e.title == "API errors")
    content = incident_entry.content[0].value if "content" in incident_entry else incident_entry.description
    assert "<strong>looking</strong>" in content and "Investigating" in content


async def test_the_calendar_has_the_window(http: httpx.AsyncClient):
    _, _, window, start = await _acme()

    response = await http.get("/status/acme/maintenance.ics")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    events = icalendar.Calendar.from_ical(response.content).walk("VEVENT")
    assert len(events) == 1
    # the host is the one of the public address (BEACON_BASE_URL), not the request's
    assert str(events[0]["UID"]) == f"maintenance-{window.id}@{urlsplit(store.base_url).hostname}"
    assert events[0]["DTSTART"].dt == start
    assert events[0]["DTEND"].dt == start + timedelta(hours=2)
    assert str(events[0]["SUMMARY"]) == "Database upgrade"


async def test_a_feed_is_rendered_once_per_version_and_revalidates(http: httpx.AsyncClient):
    page, api, _, _ = await _acme()

    first = await http.get("/status/acme/feed.atom")
    again = await http.get("/status/acme/feed.atom", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["etag"] == first.headers["etag"]

    await incidents.create_incident(SYSTEM, page=page.id, name="Second problem", impact="MINOR",
                                    status="INVESTIGATING", body="Another one.")
    await settle()
    changed = await http.get("/status/acme/feed.atom", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    assert "Second problem" in changed.text


async def test_a_large_feed_is_gzipped_on_request(http: httpx.AsyncClient):
    await _acme()

    response = await http.get("/status/acme/feed.rss", headers={"Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert response.headers.get("content-encoding") == "gzip"
    assert not feedparser.parse(response.content).bozo  # httpx has decoded it


# --- badges ---------------------------------------------------------------------------------------------------------

async def test_page_and_component_status_badges(http: httpx.AsyncClient):
    _, api, _, _ = await _acme()

    page_badge = await http.get("/badge/acme/status.svg")
    component_badge = await http.get(f"/badge/acme/{api.id}/status.svg")

    for response in (page_badge, component_badge):
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/svg+xml"
        assert response.headers["cache-control"] == "public, max-age=60"
        assert response.headers["etag"]
    assert 'aria-label="status: degraded"' in page_badge.text
    assert 'aria-label="API: degraded"' in component_badge.text


async def test_a_badge_follows_a_status_change(http: httpx.AsyncClient):
    _, api, _, _ = await _acme()
    before = await http.get(f"/badge/acme/{api.id}/status.svg")

    await components.set_status(SYSTEM, api.id, "MAJOR_OUTAGE")
    await settle()
    after = await http.get(f"/badge/acme/{api.id}/status.svg", headers={"If-None-Match": before.headers["etag"]})

    assert after.status_code == 200
    assert "major outage" in after.text


async def test_badge_options(http: httpx.AsyncClient):
    _, api, _, _ = await _acme()

    response = await http.get(f"/badge/acme/{api.id}/status.svg",
                              params={"label": "Our API", "style": "for-the-badge", "color": "#123456",
                                      "label_color": "blue"})

    assert response.status_code == 200
    assert "OUR API" in response.text and 'fill="#123456"' in response.text and 'fill="#007ec6"' in response.text
    again = await http.get(str(response.request.url), headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


async def test_uptime_and_response_badges_read_the_daily_rollups(http: httpx.AsyncClient):
    from storage.rollups import DailyRow, write_daily

    page, api, _, _ = await _acme()
    today = datetime.now(UTC).date()
    await write_daily([
        DailyRow(component_id=api.id, day=today, observed_seconds=10_000, down_seconds=100, avg_latency_ms=321.0),
        DailyRow(component_id=api.id, day=today - timedelta(days=10), observed_seconds=10_000, down_seconds=5_000,
                 avg_latency_ms=100.0),
    ])
    await store.rebuild(page.id)

    week = await http.get(f"/badge/acme/{api.id}/uptime.svg", params={"days": "7"})
    window = await http.get(f"/badge/acme/{api.id}/uptime.svg")
    latency = await http.get(f"/badge/acme/{api.id}/response.svg")

    assert week.status_code == window.status_code == latency.status_code == 200
    assert 'aria-label="uptime 7d: 99%"' in week.text
    assert 'aria-label="uptime 90d: 74.5%"' in window.text
    assert 'aria-label="response time: 321 ms"' in latency.text


async def test_an_uptime_badge_without_data_says_so(http: httpx.AsyncClient):
    _, api, _, _ = await _acme()

    response = await http.get(f"/badge/acme/{api.id}/uptime.svg", params={"days": "30"})

    assert response.status_code == 200
    assert 'aria-label="uptime 30d: no data"' in response.text


@pytest.mark.parametrize("query", [
    {"style": "plastic"}, {"color": "purple"}, {"color": "#12"}, {"label_color": "javascript:"},
    {"days": "0"}, {"days": "366"}, {"days": "abc"}, {"days": "-1"}, {"days": "91"}, {"label": "x" * 101},
])
async def test_bad_badge_options_answer_400(http: httpx.AsyncClient, query):
    _, api, _, _ = await _acme()

    response = await http.get(f"/badge/acme/{api.id}/uptime.svg", params=query)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text


async def test_bad_options_on_the_page_badge_answer_400(http: httpx.AsyncClient):
    await _acme()

    assert (await http.get("/badge/acme/status.svg", params={"color": "nope"})).status_code == 400


# --- what is not there, or not public -------------------------------------------------------------------------------

ROUTES = ["/status/{slug}/feed.rss", "/status/{slug}/feed.atom", "/status/{slug}/maintenance.ics",
          "/badge/{slug}/status.svg", "/badge/{slug}/{cid}/status.svg", "/badge/{slug}/{cid}/uptime.svg?days=7",
          "/badge/{slug}/{cid}/response.svg"]


@pytest.mark.parametrize("route", ROUTES)
async def test_a_private_page_answers_404_everywhere(http: httpx.AsyncClient, route):
    page, api, _, _ = await _acme()
    assert (await http.get(route.format(slug="acme", cid=api.id))).status_code == 200

    await pages.update_page(SYSTEM, page.id, public=False)
    await settle()

    hidden = await http.get(route.format(slug="acme", cid=api.id), cookies={"session": "x"})
    missing = await http.get(route.format(slug="nothing-here", cid=api.id))
    assert hidden.status_code == missing.status_code == 404


@pytest.mark.parametrize("cid", ["999999", "abc", "0", "99999999999"])
@pytest.mark.parametrize("badge", ["status", "uptime", "response"])
async def test_a_component_not_on_the_page_answers_404(http: httpx.AsyncClient, cid, badge):
    await _acme()

    response = await http.get(f"/badge/acme/{cid}/{badge}.svg")

    assert response.status_code == 404


async def test_a_component_of_another_page_answers_404(http: httpx.AsyncClient):
    await _acme()
    other = await pages.create_page(SYSTEM, title="Other", slug="other")
    elsewhere = await components.create_component(SYSTEM, name="Elsewhere", pages=[other.id])
    await settle()

    assert (await http.get(f"/badge/acme/{elsewhere.id}/status.svg")).status_code == 404
    assert (await http.get(f"/badge/other/{elsewhere.id}/status.svg")).status_code == 200

"""What a visitor sees on an incident's page, a maintenance's page and the history, and the status page's notices
that lead there. Tested on a FastAPI app built from the public routers (PITFALLS.md).

Incidents and maintenance are written straight into their tables with explicit times (their services are not the
point here), pages and components through the services; the snapshots are then reloaded, because only services
publish the events that rebuild them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app import history
from app.api import public
from app.auth import Actor
from app.enums import IncidentImpact, IncidentStatus, MaintenanceState
from app.services import components, pages
from app.snapshot import store
from storage.models import (
    Incident,
    IncidentComponent,
    IncidentUpdate,
    Maintenance,
    MaintenanceComponent,
    MaintenanceUpdate,
)
from tests.conftest import settle
from tests.test_snapshot_public import Element, parse

SYSTEM = Actor.system("test")
NOW = datetime.now(UTC)
# Winter in Berlin: UTC+01:00. Long before any snapshot's window, so these are read from the database.
JAN_10 = datetime(2021, 1, 10, 13, 0, tzinfo=UTC)


# --- arranging -----------------------------------------------------------------------------------------------
@dataclass
class Acme:
    page_id: int
    other_page_id: int
    ids: dict[str, int] = field(default_factory=dict)


async def acme(time_zone: str = "Europe/Berlin") -> Acme:
    """Page 'acme' (in ``time_zone``) with 'API' and 'Website'; page 'other' with its own 'Billing'."""
    page = await pages.create_page(SYSTEM, title="Acme Cloud", slug="acme")
    await pages.update_page(SYSTEM, page.id, time_zone=time_zone)
    other = await pages.create_page(SYSTEM, title="Other", slug="other")
    made = Acme(page.id, other.id)
    for name in ("API", "Website"):
        made.ids[name] = (await components.create_component(SYSTEM, name=name, pages=[page.id])).id
    made.ids["Billing"] = (await components.create_component(SYSTEM, name="Billing", pages=[other.id])).id
    await settle()
    return made


Change = dict[int, tuple[str, str]]  # component id: (old status, new status)


async def incident(page_id: int, name: str, *, started_at: datetime, impact: IncidentImpact = IncidentImpact.MINOR,
                   status: IncidentStatus = IncidentStatus.RESOLVED, resolved_at: datetime | None = None,
                   component_ids: tuple[int, ...] = (),
                   updates: list[tuple[IncidentStatus, str, datetime, Change]] = (), **fields: Any) -> Incident:
    if status == IncidentStatus.RESOLVED and resolved_at is None:
        resolved_at = started_at + timedelta(hours=1)
    row = await Incident.create(page_id=page_id, name=name, impact=impact, status=status, started_at=started_at,
                                resolved_at=resolved_at, **fields)
    for component_id in component_ids:
        await IncidentComponent.create(incident_id=row.id, component_id=component_id, status="MAJOR_OUTAGE")
    for update_status, body, at, changes in updates:
        await IncidentUpdate.create(incident_id=row.id, status=update_status, body=body, display_at=at,
                                    affected_components={str(c): {"old": old, "new": new}
                                                         for c, (old, new) in changes.items()})
    return row


async def maintenance(page_id: int, name: str, *, start: datetime, end: datetime,
                      state: MaintenanceState = MaintenanceState.COMPLETED, body: str = "",
                      component_ids: tuple[int, ...] = (), updates: list[tuple[MaintenanceState, str, datetime]] = (),
                      **fields: Any) -> Maintenance:
    row = await Maintenance.create(page_id=page_id, name=name, body=body, state=state, scheduled_for=start,
                                   scheduled_until=end, **fields)
    for component_id in component_ids:
        await MaintenanceComponent.create(maintenance_id=row.id, component_id=component_id)
    for update_state, text, at in updates:
        await MaintenanceUpdate.create(maintenance_id=row.id, state=update_state, body=text, display_at=at)
    return row


async def reload() -> None:
    """Let the snapshots see rows written behind the services' back."""
    await store.load_all()


async def get(client: httpx.AsyncClient, path: str, status: int = 200) -> Element:
    response = await client.get(path)
    assert response.status_code == status, response.text[:300]
    return parse(response.text)


def texts(elements: list[Element]) -> list[str]:
    return [e.text for e in elements]


# --- the incident page ---------------------------------------------------------------------------------------
async def test_incident_page_shows_every_update_newest_first_in_the_page_time_zone_with_its_changes(client):
    a = await acme()
    api, billing = a.ids["API"], a.ids["Billing"]
    row = await incident(
        a.page_id, "API errors", impact=IncidentImpact.MAJOR, started_at=JAN_10,
        resolved_at=JAN_10 + timedelta(hours=2), component_ids=(api, billing),
        updates=[(IncidentStatus.INVESTIGATING, "We see **elevated** error rates.", JAN_10,
                  {api: ("OPERATIONAL", "MAJOR_OUTAGE"), billing: ("OPERATIONAL", "MAJOR_OUTAGE")}),
                 (IncidentStatus.IDENTIFIED, "A bad deploy.\n\n- rolled back\n- watching",
                  JAN_10 + timedelta(minutes=30), {}),
                 (IncidentStatus.RESOLVED, "All good again.", JAN_10 + timedelta(hours=2),
                  {api: ("MAJOR_OUTAGE", "OPERATIONAL")})])
    await reload()

    doc = await get(client, f"/status/acme/incidents/{row.id}")
    article = doc.one("article", data_incident_id=str(row.id))
    updates = article.all("li", "update")

    assert doc.one("title").text == "API errors · Acme Cloud status"
    assert article.one("h2").text == "API errors"
    assert article.one("span", "tag").text == "Major outage"
    assert article.one("span", "detail-status").text == "Resolved"
    assert article.one("p", "detail-affects").text == "Affects: API"  # Billing is on another page
    assert texts([u.one("h4") for u in updates]) == ["Resolved", "Identified", "Investigating"]
    assert texts([u.one("p", "update-time") for u in updates]) == [
        "10 Jan 2021, 16:00 UTC+01:00", "10 Jan 2021, 14:30 UTC+01:00", "10 Jan 2021, 14:00 UTC+01:00"]
    assert updates[0].one("ul", "update-changes").text == "API: Major outage → Operational"
    assert updates[2].one("ul", "update-changes").text == "API: Operational → Major outage"
    assert updates[1].all("ul", "update-changes") == []
    assert updates[2].one("strong").text == "elevated"
    assert texts(updates[1].one("div", "update-body").all("li")) == ["rolled back", "watching"]
    assert "Started 10 Jan 2021, 14:00 UTC+01:00 · Resolved 10 Jan 2021, 16:00 UTC+01:00" in article.text
    assert doc.one("nav", "crumbs").one("a", href="/status/acme").text == "← Current status"
    assert doc.one("nav", "crumbs").one("a", href="/status/acme/history").text == "Incident history"


async def test_incident_page_keeps_the_status_page_frame(client):
    a = await acme()
    await pages.update_page(SYSTEM, a.page_id, description="Everything Acme runs", footer_text="Acme Inc.",
                            header_color="#0f172a")
    await settle()
    row = await incident(a.page_id, "Slow", started_at=NOW - timedelta(hours=2))
    await reload()

    response = await client.get(f"/status/acme/incidents/{row.id}")
    doc = parse(response.text)

    assert doc.one("header").one("a", "home").attrs["href"] == "/status/acme"
    assert doc.one("header").one("h1").text == "Acme Cloud"
    assert "Everything Acme runs" in doc.one("header").text
    assert "Acme Inc." in doc.one("footer").text
    assert "--header-bg: #0f172a" in response.text
    assert "set-cookie" not in response.headers and "max-age" in response.headers["cache-control"]


async def test_a_recent_incident_is_served_from_the_snapshot_and_an_old_one_from_the_database(client):
    a = await acme()
    recent = await incident(a.page_id, "Recent", status=IncidentStatus.INVESTIGATING, started_at=NOW)
    old = await incident(a.page_id, "Years ago", started_at=JAN_10)
    await reload()
    snapshot = store.by_slug("acme")
    assert [i.name for i in snapshot.incidents] == ["Recent"]  # the old one is only in the database

    for row in (recent, old):
        doc = await get(client, f"/status/acme/incidents/{row.id}")
        assert doc.one("h2", "detail-title").text == row.name


async def test_names_and_bodies_cannot_inject_markup_or_script(client):
    a = await acme()
    payload = '<script>alert(1)</script><img src=x onerror=alert(1)>'
    row = await incident(
        a.page_id, payload, started_at=JAN_10,
        updates=[(IncidentStatus.INVESTIGATING,
                  f'{payload} [click](javascript:alert(1)) <a href="javascript:alert(2)">raw</a> '
                  '[ok](https://example.com)', JAN_10, {})],
        postmortem_body=f"{payload} [x](javascript:alert(3))", postmortem_published_at=JAN_10 + timedelta(days=1))
    await reload()

    response = await client.get(f"/status/acme/incidents/{row.id}")
    doc = parse(response.text)
    elements = doc.all()

    assert "<script" not in response.text.lower() and "<img" not in response.text.lower()
    assert not [e for e in elements if any(name.startswith("on") for name in e.attrs)]
    assert not [e for e in elements if e.tag == "a" and "javascript" in e.attrs.get("href", "").lower()]
    assert doc.one("h2", "detail-title").text == payload  # shown as the text it is
    assert doc.one(None, "update-body").text.startswith(payload)
    [safe_link] = [e for e in doc.one("li", "update").all("a")]
    assert safe_link.attrs["href"] == "https://example.com" and "nofollow" in safe_link.attrs["rel"]


async def test_the_postmortem_shows_only_once_published(client, monkeypatch):
    a = await acme()
    row = await incident(a.page_id, "Database failover", started_at=JAN_10,
                         postmortem_body="The **primary** lost its disk.")
    await reload()

    draft = await get(client, f"/status/acme/incidents/{row.id}")
    assert draft.all("section", "postmortem") == [] and "primary" not in draft.text

    await Incident.filter(id=row.id).update(postmortem_published_at=JAN_10 + timedelta(days=2))
    # an incident outside the snapshot is read from the database, and its page kept for a while: time passes
    later = public.subpages.clock() + public.SUBPAGE_TTL_SECONDS + 1
    monkeypatch.setattr(public.subpages, "clock", lambda: later)
    published = (await get(client, f"/status/acme/incidents/{row.id}")).one("section", "postmortem")

    assert published.one("h3").text == "Postmortem"
    assert published.one("strong").text == "primary"
    assert published.one("p", "update-time").text == "Published 12 Jan 2021, 14:00 UTC+01:00"


async def test_a_backfilled_incident_says_so(client):
    a = await acme()
    row = await incident(a.page_id, "Recorded later", started_at=JAN_10, backfilled=True)
    plain = await incident(a.page_id, "Recorded live", started_at=JAN_10)
    await reload()

    backfilled = await get(client, f"/status/acme/incidents/{row.id}")
    live = await get(client, f"/status/acme/incidents/{plain.id}")

    assert "backfilled" in backfilled.one("p", "detail-note").text
    assert live.all("p", "detail-note") == []


@pytest.mark.parametrize("incident_id", ["999999", "abc", "1.5", "-1", "0", "99999999999", "2147483648", "%20"])
async def test_unknown_and_malformed_incident_ids_are_404(client, incident_id):
    a = await acme()
    await incident(a.page_id, "Real", started_at=JAN_10)
    await reload()

    response = await client.get(f"/status/acme/incidents/{incident_id}")

    assert response.status_code == 404
    assert "Page not found" in response.text


async def test_another_pages_incident_is_404_on_this_page(client):
    a = await acme()
    theirs = await incident(a.other_page_id, "Billing down", started_at=NOW, status=IncidentStatus.INVESTIGATING)
    old_theirs = await incident(a.other_page_id, "Old billing trouble", started_at=JAN_10)
    await reload()

    assert (await client.get(f"/status/other/incidents/{theirs.id}")).status_code == 200
    for row in (theirs, old_theirs):
        response = await client.get(f"/status/acme/incidents/{row.id}")
        assert response.status_code == 404 and "Billing" not in response.text


@pytest.mark.parametrize("hidden", [{"public": False}, {"active": False}], ids=["private", "draft"])
async def test_a_hidden_pages_incidents_maintenance_and_history_are_404_like_a_missing_page(client, hidden):
    a = await acme()
    row = await incident(a.page_id, "Secret trouble", started_at=NOW, status=IncidentStatus.INVESTIGATING)
    window = await maintenance(a.page_id, "Secret window", start=NOW - timedelta(days=1),
                               end=NOW - timedelta(hours=23))
    await pages.update_page(SYSTEM, a.page_id, **hidden)
    await settle()
    await reload()
    missing = await client.get("/status/nothing/incidents/1")

    for path in (f"/status/acme/incidents/{row.id}", f"/status/acme/maintenance/{window.id}",
                 "/status/acme/history"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.text == missing.text and "Secret" not in response.text
        with_session = await client.get(path, cookies={"session": "x"})
        assert with_session.status_code == 307 and with_session.headers["location"] == "/admin/preview/acme"


async def test_a_new_update_shows_on_the_incident_page_as_soon_as_the_snapshot_has_it(client):
    a = await acme()
    row = await incident(a.page_id, "Ongoing", status=IncidentStatus.INVESTIGATING, started_at=NOW,
                         updates=[(IncidentStatus.INVESTIGATING, "Looking.", NOW, {})])
    await reload()
    before = await get(client, f"/status/acme/incidents/{row.id}")

    await IncidentUpdate.create(incident_id=row.id, status=IncidentStatus.IDENTIFIED, body="Found it.",
                                display_at=NOW + timedelta(minutes=5))
    await reload()
    after = await get(client, f"/status/acme/incidents/{row.id}")

    assert texts(before.all("h4", "update-status")) == ["Investigating"]
    assert texts(after.all("h4", "update-status")) == ["Identified", "Investigating"]


async def test_an_incident_page_is_rendered_once_per_snapshot_and_revalidates(client, monkeypatch):
    a = await acme()
    row = await incident(a.page_id, "Cached", started_at=JAN_10)
    await reload()
    renders = 0
    original = public.html.incident_page

    def counted(*args: Any) -> str:
        nonlocal renders
        renders += 1
        return original(*args)

    monkeypatch.setattr(public.html, "incident_page", counted)
    path = f"/status/acme/incidents/{row.id}"

    answers = await asyncio.gather(*(client.get(path) for _ in range(10)))
    again = await client.get(path, headers={"If-None-Match": answers[0].headers["etag"]})

    assert renders == 1
    assert {r.status_code for r in answers} == {200}
    assert again.status_code == 304


async def test_the_render_cache_keeps_a_bounded_number_of_pages():
    cache = public.RenderCache(size=3, ttl=60)
    made: list[int] = []

    async def render(n: int) -> public.Rendered:
        made.append(n)
        return public._prepare(str(n).encode())

    for n in range(10):  # a crawler walking ids
        await cache.get(n, lambda n=n: render(n))
    await cache.get(9, lambda: render(99))

    assert len(cache) == 3
    assert made == list(range(10))  # 9 was still there


async def test_a_crawler_asking_for_thousands_of_ids_does_not_grow_the_cache_without_limit(client, monkeypatch):
    await acme()
    monkeypatch.setattr(public, "subpages", public.RenderCache(size=20, ttl=60))

    for n in range(1, 200):
        await client.get(f"/status/acme/incidents/{n + 1000}")
        await client.get(f"/status/acme/history?page={n}")

    assert len(public.subpages) == 20


# --- the maintenance page -------------------------------------------------------------------------------------
async def test_maintenance_page_shows_its_window_state_description_and_updates_in_the_page_time_zone(client):
    a = await acme()
    start = datetime(2021, 3, 2, 1, 0, tzinfo=UTC)
    row = await maintenance(a.page_id, "Database upgrade", start=start, end=start + timedelta(hours=2),
                            body="Writes **pause** for a minute.", component_ids=(a.ids["Website"],),
                            started_at=start + timedelta(minutes=2), completed_at=start + timedelta(minutes=95),
                            updates=[(MaintenanceState.IN_PROGRESS, "Started *now*.", start + timedelta(minutes=2)),
                                     (MaintenanceState.COMPLETED, "Done.", start + timedelta(minutes=95))])
    await reload()

    doc = await get(client, f"/status/acme/maintenance/{row.id}")
    article = doc.one("article", data_maintenance_id=str(row.id))
    updates = article.all("li", "update")

    assert article.one("h2").text == "Database upgrade"
    assert article.one("span", "tag").text == "Maintenance"
    assert article.one("span", "detail-status").text == "Completed"
    assert "Scheduled 2 Mar 2021, 02:00 – 04:00 UTC+01:00" in article.text
    assert "Started 2 Mar 2021, 02:02 UTC+01:00 · Completed 2 Mar 2021, 03:35 UTC+01:00" in article.text
    assert article.one("p", "detail-affects").text == "Affects: Website"
    assert article.one(None, "detail-body").one("strong").text == "pause"
    assert texts([u.one("h4") for u in updates]) == ["Completed", "In progress"]
    assert updates[1].one("em").text == "now"
    assert texts([u.one("p", "update-time") for u in updates]) == ["2 Mar 2021, 03:35 UTC+01:00",
                                                                    "2 Mar 2021, 02:02 UTC+01:00"]


@pytest.mark.parametrize("which", ["unknown", "other page", "malformed"])
async def test_maintenance_page_is_404_for_unknown_other_pages_and_malformed_ids(client, which):
    a = await acme()
    theirs = await maintenance(a.other_page_id, "Their window", start=JAN_10, end=JAN_10 + timedelta(hours=1))
    await reload()
    maintenance_id = {"unknown": "424242", "other page": str(theirs.id), "malformed": "x1"}[which]

    response = await client.get(f"/status/acme/maintenance/{maintenance_id}")

    assert response.status_code == 404 and "Their window" not in response.text


# --- the status page's notices ----------------------------------------------------------------------------------
async def test_status_page_notices_render_markdown_and_maintenance_links_to_its_page(client):
    a = await acme()
    row = await incident(a.page_id, "API errors", status=IncidentStatus.IDENTIFIED,
                         started_at=NOW - timedelta(hours=1),
                         updates=[(IncidentStatus.IDENTIFIED, "Rolled back the **bad** deploy.", NOW, {})])
    active = await maintenance(a.page_id, "Rotation", state=MaintenanceState.IN_PROGRESS,
                               start=NOW - timedelta(minutes=5), end=NOW + timedelta(hours=1), body="Described.",
                               updates=[(MaintenanceState.IN_PROGRESS, "Halfway, see [log](https://example.com).",
                                         NOW)])
    upcoming = await maintenance(a.page_id, "Upgrade", state=MaintenanceState.SCHEDULED,
                                 start=NOW + timedelta(days=2), end=NOW + timedelta(days=2, hours=1),
                                 body="Writes *pause*.")
    await reload()

    doc = await get(client, "/status/acme")
    incident_notice = doc.one("article", data_incident_id=str(row.id))
    active_notice = doc.one("article", data_maintenance_id=str(active.id))
    upcoming_notice = doc.one("article", data_maintenance_id=str(upcoming.id))

    assert incident_notice.one("strong").text == "bad"
    assert "**" not in incident_notice.text
    assert active_notice.one("h3").one("a").attrs["href"] == f"/status/acme/maintenance/{active.id}"
    assert active_notice.one(None, "notice-body").text == "Halfway, see log ."  # the latest update, not the description
    assert active_notice.one(None, "notice-body").one("a").attrs["href"] == "https://example.com"
    assert upcoming_notice.one("h3").one("a").attrs["href"] == f"/status/acme/maintenance/{upcoming.id}"
    assert upcoming_notice.one("em").text == "pause"


async def test_statuspage_json_lists_a_maintenances_updates_and_links_to_its_page(client):
    a = await acme()
    row = await maintenance(a.page_id, "Rotation", state=MaintenanceState.IN_PROGRESS,
                            start=NOW - timedelta(minutes=5), end=NOW + timedelta(hours=1), body="Certificates.",
                            updates=[(MaintenanceState.IN_PROGRESS, "Started.", NOW - timedelta(minutes=5)),
                                     (MaintenanceState.IN_PROGRESS, "Halfway.", NOW)])
    await reload()

    [listed] = (await client.get("/status/acme/api/v2/scheduled-maintenances/active.json")).json()[
        "scheduled_maintenances"]

    assert listed["shortlink"] == f"http://127.0.0.1:8080/status/acme/maintenance/{row.id}"
    assert [(u["status"], u["body"]) for u in listed["incident_updates"]] == [
        ("in_progress", "Halfway."), ("in_progress", "Started."), ("scheduled", "Certificates.")]


# --- the history ------------------------------------------------------------------------------------------------
async def sixty_incidents(a: Acme) -> list[Incident]:
    """60 resolved incidents, one every 5 days back from 1 Dec 2021 (about ten months); every third affects
    Website, the others API."""
    first = datetime(2021, 12, 1, 12, 0, tzinfo=UTC)
    rows = []
    for n in range(60):
        component = a.ids["Website"] if n % 3 == 0 else a.ids["API"]
        rows.append(await incident(a.page_id, f"Incident {n:02d}", started_at=first - timedelta(days=5 * n),
                                   component_ids=(component,),
                                   updates=[(IncidentStatus.RESOLVED, f"Fixed **number {n}**.",
                                             first - timedelta(days=5 * n) + timedelta(hours=1), {})]))
    return rows


def entry_names(doc: Element) -> list[str]:
    return texts([e.one("h4") for e in doc.all("li", "history-entry")])


async def test_sixty_incidents_make_three_pages_grouped_by_month_newest_first(client):
    a = await acme()
    await sixty_incidents(a)
    await reload()

    first = await get(client, "/status/acme/history")
    second = await get(client, "/status/acme/history?page=2")
    third = await get(client, "/status/acme/history?page=3")

    assert entry_names(first) == [f"Incident {n:02d}" for n in range(25)]
    assert entry_names(second) == [f"Incident {n:02d}" for n in range(25, 50)]
    assert entry_names(third) == [f"Incident {n:02d}" for n in range(50, 60)]
    assert texts(first.all("h3", "month-title"))[:3] == ["December 2021", "November 2021", "October 2021"]
    assert first.all("a", "pager-newer") == [] and first.one("a", "pager-older").attrs["href"] == \
        "/status/acme/history?page=2"
    assert second.one("a", "pager-newer").attrs["href"] == "/status/acme/history"
    assert second.one("a", "pager-older").attrs["href"] == "/status/acme/history?page=3"
    assert third.all("a", "pager-older") == [] and third.one("span", "pager-position").text == "Page 3 of 3"
    entry = first.all("li", "history-entry")[0]
    assert entry.one("a").attrs["href"].startswith("/status/acme/incidents/")
    assert entry.one("p", "history-preview").text == "Fixed number 0."  # plain text, no markup
    assert entry.one("p", "notice-time").text == "1 Dec 2021, 13:00 – 14:00 UTC+01:00"
    assert entry.one("span", "tag").text == "Minor issue"


async def test_history_files_entries_under_the_month_of_the_page_time_zone(client):
    a = await acme("Europe/Berlin")
    await incident(a.page_id, "Halloween night", started_at=datetime(2021, 10, 31, 23, 30, tzinfo=UTC))
    await incident(a.page_id, "October", started_at=datetime(2021, 10, 30, 10, 0, tzinfo=UTC))
    await reload()

    doc = await get(client, "/status/acme/history")
    months = doc.all("section", "month")

    assert [(m.one("h3").text, entry_names(m)) for m in months] == [
        ("November 2021", ["Halloween night"]), ("October 2021", ["October"])]


async def test_history_lists_open_incidents_and_maintenance_that_has_begun_but_not_upcoming_windows(client):
    a = await acme()
    await incident(a.page_id, "Still open", status=IncidentStatus.MONITORING, started_at=NOW - timedelta(hours=1))
    done = await maintenance(a.page_id, "Past window", start=JAN_10, end=JAN_10 + timedelta(hours=2),
                             body="Swapping *disks*.")
    await maintenance(a.page_id, "Next week", state=MaintenanceState.SCHEDULED, start=NOW + timedelta(days=7),
                      end=NOW + timedelta(days=7, hours=1))
    await reload()

    doc = await get(client, "/status/acme/history")
    window = doc.one("li", "history-entry", data_maintenance_id=str(done.id))

    assert entry_names(doc) == ["Still open", "Past window"]
    assert "ongoing" in doc.all("li", "history-entry")[0].text
    assert window.one("a").attrs["href"] == f"/status/acme/maintenance/{done.id}"
    assert window.one("span", "tag").text == "Maintenance"
    assert window.one("p", "history-preview").text == "Swapping disks."
    assert "10 Jan 2021, 14:00 – 16:00 UTC+01:00" in window.one("p", "notice-time").text


async def test_history_filters_by_component_and_keeps_the_filter_through_pages(client):
    a = await acme()
    await sixty_incidents(a)
    await maintenance(a.page_id, "Website window", start=JAN_10, end=JAN_10 + timedelta(hours=1),
                      component_ids=(a.ids["Website"],))
    await maintenance(a.page_id, "API window", start=JAN_10, end=JAN_10 + timedelta(hours=1),
                      component_ids=(a.ids["API"],))
    await reload()
    api = a.ids["API"]

    first = await get(client, f"/status/acme/history?component={api}")
    second = await get(client, first.one("a", "pager-older").attrs["href"])

    api_incidents = [f"Incident {n:02d}" for n in range(60) if n % 3]  # 40 of them, and one window
    assert len(entry_names(first)) == 25
    assert entry_names(first) + entry_names(second) == [*api_incidents, "API window"]
    assert first.one("a", "pager-older").attrs["href"] == f"/status/acme/history?page=2&component={api}"
    assert second.one("a", "pager-newer").attrs["href"] == f"/status/acme/history?component={api}"
    assert second.all("a", "pager-older") == []
    select = first.one("select", name="component")
    assert [o.text for o in select.all("option")] == ["All components", "API", "Website"]
    assert [o.text for o in select.all("option") if "selected" in o.attrs] == ["API"]
    assert first.one("form", "history-filter").attrs["method"] == "get"


@pytest.mark.parametrize("component", ["424242", "abc", "-3", "99999999999999", "%00"])
async def test_an_unknown_component_gives_an_empty_history_with_a_message(client, component):
    a = await acme()
    await incident(a.page_id, "Something", started_at=JAN_10, component_ids=(a.ids["API"],))
    await reload()

    response = await client.get(f"/status/acme/history?component={component}")
    doc = parse(response.text)

    assert response.status_code == 200
    assert entry_names(doc) == []
    assert "There is no such component on this page." in doc.one("p", "history-empty").text


async def test_a_component_of_another_page_is_unknown_here(client):
    a = await acme()
    await incident(a.page_id, "Something", started_at=JAN_10, component_ids=(a.ids["API"],))
    await reload()

    doc = await get(client, f"/status/acme/history?component={a.ids['Billing']}")

    assert entry_names(doc) == [] and "no such component" in doc.one("p", "history-empty").text


async def test_a_page_number_past_the_end_says_there_is_nothing_there(client):
    a = await acme()
    await sixty_incidents(a)
    await reload()

    for number in ("4", "1000", "99999999999999999999999"):
        doc = await get(client, f"/status/acme/history?page={number}")
        assert entry_names(doc) == []
        assert "There is nothing on page" in doc.one("p", "history-empty").text
        assert "the history has 3 pages" in doc.one("p", "history-empty").text
        assert doc.one("a", "pager-newer").attrs["href"] == "/status/acme/history?page=3"


@pytest.mark.parametrize("query", ["page=abc", "page=-1", "page=0", "page=1.5", "page=", "page=%00", "page=١",
                                   "page=2&page=x", "component=", "component=1&component=", "page=1e3",
                                   "component=" + "9" * 5000, "page=" + "9" * 5000])
async def test_odd_history_parameters_never_break_the_page(client, query):
    a = await acme()
    await incident(a.page_id, "Only one", started_at=JAN_10)
    await reload()

    response = await client.get(f"/status/acme/history?{query}")

    assert response.status_code == 200
    assert "Incident history" in response.text


async def test_an_empty_history_says_so(client):
    await acme()

    doc = await get(client, "/status/acme/history")

    assert doc.one("p", "history-empty").text == "No incidents or maintenance so far."
    assert doc.all("nav", "pager") == []


# --- the database reads, on SQLite and PostgreSQL -----------------------------------------------------------------
async def test_history_reads_one_filtered_page_and_old_incidents_on_both_databases(beacon):
    a = await acme()
    rows = await sixty_incidents(a)
    await maintenance(a.page_id, "API window", start=JAN_10, end=JAN_10 + timedelta(hours=1),
                      component_ids=(a.ids["API"],))
    await reload()

    second = await history.load(a.page_id, 2, component_id=a.ids["API"])
    beyond = await history.load(a.page_id, 9)
    snapshot = store.by_slug("acme")
    oldest = await public._incident(snapshot, rows[-1].id)

    assert (second.pagination.total, second.pagination.pages) == (41, 2)
    assert [i.name for i in second.items][-2:] == ["Incident 59", "API window"]
    assert len(second.items) == 16
    assert beyond.pagination.beyond_end and beyond.items == ()
    assert oldest is not None and oldest.name == "Incident 59" and oldest.updates[0].body == "Fixed **number 59**."
    assert await public._incident(snapshot, public.MAX_ID) is None  # the largest id PostgreSQL takes

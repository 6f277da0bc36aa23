"""What a visitor sees of incidents, maintenance and uptime history: in the page's snapshot, on the status page
(HTML, which must hold everything without JavaScript) and in the Statuspage-compatible JSON.

Incidents, maintenance and uptime rollups are written straight into their tables with the models here: their
services (issue 4) and monitoring's rollups do not exist yet. Components and pages go through the services.
A snapshot is rebuilt by hand after such writes, because only services publish the events that rebuild it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from tortoise import connections

from app import html
from app import snapshot as snapshots
from app.auth import Actor
from app.demo import HISTORY_DAYS, demo_uptime, load_demo
from app.enums import ComponentStatus, IncidentImpact, IncidentStatus, MaintenanceState
from app.services import components, pages
from app.snapshot import PageSnapshot, seconds_until_rollover, store
from storage.models import (
    DailyUptime,
    Incident,
    IncidentComponent,
    IncidentUpdate,
    Maintenance,
    MaintenanceComponent,
)
from storage.rollups import DailyRow, write_daily
from tests.conftest import settle

SYSTEM = Actor.system("test")
DAY = 86_400
NOW = datetime.now(UTC)
TODAY = NOW.date()
FAR_FUTURE = datetime(2099, 1, 15, 2, 0, tzinfo=UTC)  # a Thursday in winter: Paris is UTC+01:00


# --- arranging -----------------------------------------------------------------------------------------------
@dataclass
class Acme:
    page_id: int
    ids: dict[str, int] = field(default_factory=dict)


async def acme(**settings: Any) -> Acme:
    """Page 'acme': top-level 'API' and 'Website', and a 'Storage' group holding 'Buckets'."""
    page = await pages.create_page(SYSTEM, title="Acme Cloud", slug="acme")
    if settings:
        await pages.update_page(SYSTEM, page.id, **settings)
    made = Acme(page.id)
    for name in ("API", "Website"):
        made.ids[name] = (await components.create_component(SYSTEM, name=name, pages=[page.id])).id
    group = await components.create_group(SYSTEM, page_id=page.id, name="Storage")
    made.ids["Storage"] = group.id
    made.ids["Buckets"] = (await components.create_component(SYSTEM, name="Buckets", pages=[page.id],
                                                             group_id=group.id)).id
    await settle()
    return made


async def incident(page_id: int, name: str, *, impact: IncidentImpact = IncidentImpact.MINOR,
                   status: IncidentStatus = IncidentStatus.INVESTIGATING, started_at: datetime | None = None,
                   resolved_at: datetime | None = None, pinned: bool = False, components_: dict[int, str] | None = None,
                   updates: list[tuple[IncidentStatus, str, datetime]] = ()) -> Incident:
    row = await Incident.create(page_id=page_id, name=name, impact=impact, status=status, pinned=pinned,
                                started_at=started_at or NOW - timedelta(hours=1), resolved_at=resolved_at)
    for component_id, held in (components_ or {}).items():
        await IncidentComponent.create(incident_id=row.id, component_id=component_id, status=held)
    for update_status, body, at in updates:
        await IncidentUpdate.create(incident_id=row.id, status=update_status, body=body, display_at=at,
                                    affected_components={str(cid): {"old": "OPERATIONAL", "new": held}
                                                         for cid, held in (components_ or {}).items()})
    return row


async def maintenance(page_id: int, name: str, *, state: MaintenanceState, start: datetime, end: datetime,
                      component_ids: tuple[int, ...] = (), body: str = "") -> Maintenance:
    row = await Maintenance.create(page_id=page_id, name=name, body=body, state=state, scheduled_for=start,
                                   scheduled_until=end)
    for component_id in component_ids:
        await MaintenanceComponent.create(maintenance_id=row.id, component_id=component_id)
    return row


def day_row(component_id: int, days_ago: int, **figures: Any) -> DailyRow:
    return DailyRow(component_id=component_id, day=TODAY - timedelta(days=days_ago),
                    observed_seconds=figures.pop("observed_seconds", DAY), **figures)


async def rebuilt(page_id: int) -> PageSnapshot:
    snapshot = await store.rebuild(page_id)
    assert snapshot is not None
    return snapshot


# --- reading HTML like a browser without JavaScript ------------------------------------------------------------
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    @property
    def text(self) -> str:
        return " ".join("".join(c if isinstance(c, str) else f" {c.text} " for c in self.children).split())

    def all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        found = []
        for child in self.children:
            if isinstance(child, str):
                continue
            if ((tag is None or child.tag == tag) and (cls is None or cls in child.classes)
                    and all(child.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())):
                found.append(child)
            found.extend(child.all(tag, cls, **attrs))
        return found

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.all(tag, cls, **attrs)
        assert len(found) == 1, f"expected one {tag}.{cls} {attrs}, found {len(found)}"
        return found[0]


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = Element("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _TreeBuilder()
    builder.feed(html)
    return builder.root


def component_row(doc: Element, component_id: int) -> Element:
    return doc.one("li", "component", data_component_id=str(component_id))


def bars(row: Element) -> list[Element]:
    return row.one("ol", "bars").all("li")


# --- fixtures --------------------------------------------------------------------------------------------------
async def page_html(client: httpx.AsyncClient) -> Element:
    response = await client.get("/status/acme")
    assert response.status_code == 200
    return parse(response.text)


# --- the snapshot, on SQLite and PostgreSQL ------------------------------------------------------------------
async def test_open_incidents_are_listed_pinned_first_then_newest_with_their_latest_update(beacon):
    a = await acme()
    await incident(a.page_id, "Older", started_at=NOW - timedelta(hours=5))
    await incident(a.page_id, "Pinned but oldest", pinned=True, started_at=NOW - timedelta(days=2))
    await incident(a.page_id, "Newest", started_at=NOW - timedelta(minutes=5), components_={a.ids["API"]: "DEGRADED"},
                   updates=[(IncidentStatus.INVESTIGATING, "Looking", NOW - timedelta(minutes=5)),
                            (IncidentStatus.IDENTIFIED, "Found it", NOW - timedelta(minutes=1))])
    await incident(a.page_id, "Over", status=IncidentStatus.RESOLVED, started_at=NOW - timedelta(hours=3),
                   resolved_at=NOW - timedelta(hours=2))

    s = await rebuilt(a.page_id)

    assert [i.name for i in s.open_incidents] == ["Pinned but oldest", "Newest", "Older"]
    newest = s.open_incidents[1]
    assert newest.latest_update.body == "Found it"
    assert newest.component_ids == (a.ids["API"],)
    assert newest.updates[-1].affected_components[0].new_status == ComponentStatus.DEGRADED
    assert "Over" in [i.name for i in s.recent_incidents]


async def test_incidents_older_than_the_uptime_window_and_history_are_left_out(beacon):
    a = await acme(uptime_days=30, incident_history_days=7)
    await incident(a.page_id, "Ancient", status=IncidentStatus.RESOLVED, started_at=NOW - timedelta(days=40),
                   resolved_at=NOW - timedelta(days=39))
    await incident(a.page_id, "Last month", status=IncidentStatus.RESOLVED, started_at=NOW - timedelta(days=20),
                   resolved_at=NOW - timedelta(days=20))
    await incident(a.page_id, "Still open after weeks", started_at=NOW - timedelta(days=60))

    s = await rebuilt(a.page_id)

    assert [i.name for i in s.incidents] == ["Last month", "Still open after weeks"]
    assert [i.name for i in s.recent_incidents] == ["Still open after weeks"]


async def test_an_open_major_incident_makes_the_page_critical_while_components_look_fine(beacon):
    a = await acme()
    await incident(a.page_id, "Everything is slow", impact=IncidentImpact.MAJOR)

    s = await rebuilt(a.page_id)

    assert all(c.status == ComponentStatus.OPERATIONAL for c in s.all_components)
    assert s.indicator.indicator == "critical"


async def test_maintenance_in_progress_is_the_page_status_only_while_nothing_is_broken(beacon):
    a = await acme()
    await maintenance(a.page_id, "Upgrade", state=MaintenanceState.IN_PROGRESS, start=NOW - timedelta(minutes=10),
                      end=NOW + timedelta(hours=1))
    assert (await rebuilt(a.page_id)).indicator.description == "Service Under Maintenance"

    await incident(a.page_id, "Some errors", impact=IncidentImpact.MINOR)

    assert (await rebuilt(a.page_id)).indicator.indicator == "minor"


async def test_maintenance_is_split_into_in_progress_and_upcoming_and_ended_windows_are_not_upcoming(beacon):
    a = await acme()
    await maintenance(a.page_id, "Later", state=MaintenanceState.SCHEDULED, start=NOW + timedelta(days=2),
                      end=NOW + timedelta(days=2, hours=2))
    await maintenance(a.page_id, "Sooner", state=MaintenanceState.SCHEDULED, start=NOW + timedelta(days=1),
                      end=NOW + timedelta(days=1, hours=2), component_ids=(a.ids["API"],))
    await maintenance(a.page_id, "Missed", state=MaintenanceState.SCHEDULED, start=NOW - timedelta(hours=3),
                      end=NOW - timedelta(hours=1))
    await maintenance(a.page_id, "Now", state=MaintenanceState.IN_PROGRESS, start=NOW - timedelta(hours=1),
                      end=NOW + timedelta(hours=1))
    await maintenance(a.page_id, "Done", state=MaintenanceState.COMPLETED, start=NOW - timedelta(days=1),
                      end=NOW - timedelta(hours=20))

    s = await rebuilt(a.page_id)

    assert [m.name for m in s.upcoming_maintenances] == ["Sooner", "Later"]
    assert [m.name for m in s.active_maintenances] == ["Now"]
    assert s.upcoming_maintenances[0].component_ids == (a.ids["API"],)
    assert {m.name for m in s.maintenances} == {"Later", "Sooner", "Missed", "Now", "Done"}


async def test_each_component_has_one_day_per_window_day_with_rollups_and_incidents(beacon):
    a = await acme(uptime_days=30)
    api = a.ids["API"]
    await write_daily([day_row(api, 2, down_seconds=864, worst_status=ComponentStatus.MAJOR_OUTAGE),
                       day_row(api, 1), day_row(api, 45)])  # 45 days ago: outside the window
    two_days_ago = datetime.combine(TODAY - timedelta(days=2), datetime.min.time(), UTC)
    await incident(a.page_id, "API errors", status=IncidentStatus.RESOLVED, components_={api: "MAJOR_OUTAGE"},
                   started_at=two_days_ago + timedelta(hours=9), resolved_at=two_days_ago + timedelta(hours=10))

    s = await rebuilt(a.page_id)
    days = {c.name: c.uptime for c in s.all_components}

    assert len(days["API"]) == 30 and days["API"][-1].day == TODAY
    assert days["API"][-3].percent == pytest.approx(99.0)
    assert days["API"][-3].incidents == ("API errors",)
    assert days["API"][-2].percent == 100
    assert not days["API"][-1].has_data and not days["API"][0].has_data
    assert not any(d.has_data for d in days["Website"])
    assert all(not d.incidents for d in days["Website"])


async def test_the_snapshot_reads_the_same_few_queries_for_three_components_or_thirty(beacon, monkeypatch):
    a = await acme()
    await incident(a.page_id, "Open", components_={a.ids["API"]: "DEGRADED"},
                   updates=[(IncidentStatus.INVESTIGATING, "x", NOW)])
    await maintenance(a.page_id, "Soon", state=MaintenanceState.SCHEDULED, start=NOW + timedelta(days=1),
                      end=NOW + timedelta(days=1, hours=1), component_ids=(a.ids["API"],))
    await write_daily([day_row(a.ids["API"], n) for n in range(10)])
    conn = connections.get("default")
    calls: list[str] = []
    this_test = asyncio.current_task()
    for name in ("execute_query", "execute_query_dict"):
        original = getattr(conn, name)

        def counted(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            if asyncio.current_task() is this_test:  # not the runtime's own background queries
                calls.append(str(args[0])[:40])
            return _original(*args, **kwargs)

        monkeypatch.setattr(conn, name, counted)

    snapshots.settled_cache.clear()  # cold: the settled days are read too
    await snapshots.load(a.page_id, "http://test")
    few = len(calls)
    for n in range(27):
        await components.create_component(SYSTEM, name=f"Extra {n}", pages=[a.page_id])
    await write_daily([day_row(a.ids["Website"], n) for n in range(30)])
    await settle()  # the rebuilds those changes caused
    calls.clear()
    snapshots.settled_cache.clear()
    await snapshots.load(a.page_id, "http://test")
    assert len(calls) == few <= 12
    calls.clear()
    await snapshots.load(a.page_id, "http://test")  # warm: days before yesterday come from memory
    assert len(calls) == few - 1


async def test_settled_days_are_kept_between_rebuilds_and_forgotten_when_history_is_written(beacon):
    a = await acme()
    api = a.ids["API"]
    await write_daily([day_row(api, n) for n in range(5, 10)])
    first = await snapshots.load(a.page_id, "http://test")
    assert sum(d.has_data for d in next(c for c in first.all_components if c.id == api).uptime) == 5
    await write_daily([day_row(api, n, down_seconds=600) for n in range(20, 22)])  # a backfill of old days
    second = await snapshots.load(a.page_id, "http://test")
    days = next(c for c in second.all_components if c.id == api).uptime
    assert sum(d.has_data for d in days) == 7 and sum(d.down_seconds for d in days) == 1200
    await write_daily([day_row(api, 0, down_seconds=60)])  # today, as monitoring writes it: read every time
    third = await snapshots.load(a.page_id, "http://test")
    assert next(c for c in third.all_components if c.id == api).uptime[-1].down_seconds == 60
    # the next UTC day: yesterday's day settles (read once, alone), the oldest leaves the window
    tomorrow = await snapshots.load(a.page_id, "http://test", now=datetime.now(UTC) + timedelta(days=1))
    moved = next(c for c in tomorrow.all_components if c.id == api).uptime
    assert moved[-2].down_seconds == 60 and sum(d.has_data for d in moved) == 8
    assert snapshots.settled_cache.spans[api][1] == (datetime.now(UTC) + timedelta(days=1)).date() - timedelta(days=1)


async def test_rollups_written_again_replace_the_days_figures(beacon):
    a = await acme()
    api = a.ids["API"]
    await write_daily([day_row(api, 0, observed_seconds=3_600)])

    await write_daily([day_row(api, 0, observed_seconds=7_200, down_seconds=60,
                                worst_status=ComponentStatus.MAJOR_OUTAGE)])

    rows = await DailyUptime.filter(component_id=api).values("observed_seconds", "down_seconds", "worst_status")
    assert rows == [{"observed_seconds": 7_200, "down_seconds": 60, "worst_status": ComponentStatus.MAJOR_OUTAGE}]


async def test_after_midnight_every_page_is_rebuilt_so_the_bars_move_on(beacon, monkeypatch):
    a = await acme()
    before = store.get(a.page_id).version
    await write_daily([day_row(a.ids["API"], 0)])  # monitoring wrote today's rollup, no event said so
    waits = iter([0.0])
    monkeypatch.setattr(snapshots, "seconds_until_rollover", lambda now: next(waits, 3_600.0))

    store.start_rollover()
    async with asyncio.timeout(5):
        while store.get(a.page_id).version == before:
            await asyncio.sleep(0.01)

    api = next(c for c in store.get(a.page_id).all_components if c.name == "API")
    assert api.uptime[-1].has_data


def test_the_rollover_waits_until_just_after_the_next_utc_midnight():
    delay = snapshots.ROLLOVER_DELAY_SECONDS
    assert seconds_until_rollover(datetime(2026, 11, 23, 23, 59, 0, tzinfo=UTC)) == 60 + delay
    paris_evening = datetime.fromisoformat("2026-11-23T23:30:00+01:00")  # 22:30 UTC
    assert seconds_until_rollover(paris_evening) == 90 * 60 + delay


def test_a_snapshot_is_assembled_from_plain_rows_without_a_database():
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    page = snapshots.PageInfo(id=1, slug="acme", title="Acme", description="", public=True, active=True,
                              custom_domain=None, time_zone="UTC", theme="auto", brand_color="#2563eb",
                              footer_text="", updated_at=at, uptime_days=30)
    api = {"id": 7, "name": "API", "description": "", "link": "", "status": "OPERATIONAL", "position": 0,
           "group_id": None, "only_show_if_degraded": False, "show_uptime": True, "created_at": at, "updated_at": at}
    incident_row = {"id": 3, "name": "Errors", "status": "MONITORING", "impact": "DEGRADED", "pinned": False,
                    "backfilled": False, "started_at": at - timedelta(days=1), "monitoring_at": None,
                    "resolved_at": None, "created_at": at, "updated_at": at}

    s = snapshots.assemble(page, "http://test/status/acme", [], [api], incidents=[incident_row],
                           incident_components=[{"incident_id": 3, "component_id": 7}],
                           daily_uptime=[{"component_id": 7, "day": date(2026, 11, 22), "observed_seconds": DAY,
                                          "down_seconds": 0, "degraded_seconds": 60, "maintenance_seconds": 0,
                                          "worst_status": "DEGRADED", "avg_latency_ms": None}], now=at)

    assert s.indicator.indicator == "minor"
    [component] = s.all_components
    assert [d.incidents for d in component.uptime[-2:]] == [("Errors",), ("Errors",)]  # open: up to today
    assert component.uptime[-2].bar_class == "degraded" and not component.uptime[-1].has_data


@pytest.mark.parametrize(("start", "end", "zone", "text"), [
    ("2026-11-26T01:00Z", "2026-11-26T03:00Z", "Europe/Paris", "26 Nov 2026, 02:00 – 04:00 UTC+01:00"),
    ("2026-11-26T22:00Z", "2026-11-27T02:00Z", "UTC", "26 Nov 2026, 22:00 – 27 Nov 2026, 02:00 UTC"),
    ("2026-11-26T14:00Z", "2026-11-26T15:30Z", "Asia/Kolkata", "26 Nov 2026, 19:30 – 21:00 UTC+05:30"),
    ("2026-11-26T14:00Z", "2026-11-26T15:00Z", "America/St_Johns", "26 Nov 2026, 10:30 – 11:30 UTC-03:30"),
    # the night the clocks go back: each end keeps its own offset
    ("2026-10-25T00:00Z", "2026-10-25T02:00Z", "Europe/Paris",
     "25 Oct 2026, 02:00 UTC+02:00 – 25 Oct 2026, 03:00 UTC+01:00"),
    ("2026-11-26T01:00Z", "2026-11-26T03:00Z", "Not/AZone", "26 Nov 2026, 01:00 – 03:00 UTC"),
])
def test_maintenance_windows_read_in_the_pages_time_zone_with_the_offset(start: str, end: str, zone: str,
                                                                          text: str):
    assert html.local_range(datetime.fromisoformat(start), datetime.fromisoformat(end), zone) == text


# --- the status page, as HTML ------------------------------------------------------------------------------------
async def test_active_incident_shows_at_the_top_with_impact_latest_update_local_time_and_link(client):
    a = await acme(time_zone="Europe/Paris")
    one_pm = datetime(2026, 1, 10, 13, 0, tzinfo=UTC)
    row = await incident(a.page_id, "API errors", impact=IncidentImpact.PARTIAL, started_at=one_pm,
                         components_={a.ids["API"]: "PARTIAL_OUTAGE"},
                         updates=[(IncidentStatus.INVESTIGATING, "Looking into it", one_pm),
                                  (IncidentStatus.IDENTIFIED, "A bad deploy <b>rolled back</b>",
                                   one_pm + timedelta(minutes=30))])
    await rebuilt(a.page_id)

    doc = await page_html(client)
    notice = doc.one("article", data_incident_id=str(row.id))

    assert notice.one("a").attrs["href"] == f"/status/acme/incidents/{row.id}"
    assert notice.one("a").text == "API errors"
    assert "Partial outage" in notice.text and "Identified" in notice.text
    assert notice.one("p", "notice-body").text == "A bad deploy <b>rolled back</b>"  # shown as text, not markup
    assert "Updated 10 Jan 2026, 14:30 UTC+01:00" in notice.text
    assert "Affects: API" in notice.text
    banner, incidents = doc.all("section")[:2]  # the banner first, the incident right after it
    assert banner.text == "Partial System Outage"
    assert incidents.one("article") is notice


async def test_resolved_incidents_leave_the_top_of_the_page(client):
    a = await acme()
    await incident(a.page_id, "Yesterday's trouble", status=IncidentStatus.RESOLVED,
                   started_at=NOW - timedelta(days=1), resolved_at=NOW - timedelta(hours=20))
    await rebuilt(a.page_id)

    doc = await page_html(client)

    assert doc.all("article") == []
    assert doc.one("section", "banner").text == "All Systems Operational"


async def test_maintenance_in_progress_and_upcoming_show_with_their_windows_in_the_page_time_zone(client):
    a = await acme(time_zone="Europe/Paris")
    await maintenance(a.page_id, "Database upgrade", state=MaintenanceState.SCHEDULED, start=FAR_FUTURE,
                      end=FAR_FUTURE + timedelta(hours=2), component_ids=(a.ids["Buckets"],),
                      body="Writes pause for a minute.")
    await maintenance(a.page_id, "Certificate rotation", state=MaintenanceState.IN_PROGRESS,
                      start=NOW - timedelta(minutes=5), end=NOW + timedelta(minutes=55))
    await rebuilt(a.page_id)

    doc = await page_html(client)
    upcoming = doc.one("section", "upcoming")
    active = doc.one("section", "notices", aria_labelledby="notices-title")

    assert "Certificate rotation" in active.text and "Maintenance in progress" in active.text
    assert "Database upgrade" in upcoming.text
    assert "15 Jan 2099, 03:00 – 05:00 UTC+01:00" in upcoming.text
    assert "Writes pause for a minute." in upcoming.text and "Affects: Buckets" in upcoming.text
    assert doc.one("section", "banner").text == "Service Under Maintenance"


async def test_uptime_bars_show_each_day_of_the_window_with_tooltips_and_the_total(client):
    a = await acme(uptime_days=30)
    api = a.ids["API"]
    await write_daily([day_row(api, d) for d in range(1, 20)]
                      + [day_row(api, 3, down_seconds=43, worst_status=ComponentStatus.MAJOR_OUTAGE)])
    await incident(a.page_id, "API errors", status=IncidentStatus.RESOLVED, components_={api: "MAJOR_OUTAGE"},
                   started_at=NOW - timedelta(days=3), resolved_at=NOW - timedelta(days=3) + timedelta(minutes=1))
    await rebuilt(a.page_id)

    row = component_row(await page_html(client), api)
    days = bars(row)
    three_days_ago = TODAY - timedelta(days=3)

    assert len(days) == 30
    assert days[-4].classes == {"major"}
    assert days[-4].attrs["aria-label"] == (f"{three_days_ago.day} {three_days_ago:%b %Y} · 99.95% uptime · "
                                            "down 1 min · 1 incident: API errors")
    assert days[-5].attrs["aria-label"].endswith("· 100% uptime")
    assert days[-1].classes == {"nodata"} and days[-1].attrs["aria-label"].endswith("· No data")
    assert days[0].classes == {"nodata"}
    assert row.one("span", "uptime-total").text == "99.99% uptime"


async def test_window_setting_decides_the_number_of_bars_and_a_phone_gets_the_last_30(client):
    a = await acme(uptime_days=90)
    await write_daily([day_row(a.ids["API"], 40, down_seconds=8_640, worst_status=ComponentStatus.MAJOR_OUTAGE),
                       day_row(a.ids["API"], 1)])
    await rebuilt(a.page_id)

    row = component_row(await page_html(client), a.ids["API"])
    total = row.one("span", "uptime-total")

    assert len(bars(row)) == 90
    assert "long" in row.one("ol", "bars").classes  # CSS shows the last 30 under 500 px
    assert total.one("span", "wide-only").text == "95% uptime"  # 90 days: the bad day counts
    assert total.one("span", "narrow-only").text == "100% uptime"  # the 30 days a phone shows


async def test_response_times_show_only_when_the_page_wants_them(client):
    a = await acme(uptime_days=30)
    await write_daily([day_row(a.ids["API"], 1, avg_latency_ms=120.4)])
    await rebuilt(a.page_id)
    assert "120 ms" in component_row(await page_html(client), a.ids["API"]).one("span", "uptime-total").text

    await pages.update_page(SYSTEM, a.page_id, show_response_times=False)
    await settle()

    assert "ms" not in component_row(await page_html(client), a.ids["API"]).one("span", "uptime-total").text


async def test_components_without_show_uptime_have_no_bars_and_hidden_ones_appear_when_broken(client):
    a = await acme()
    await components.update_component(SYSTEM, a.ids["API"], show_uptime=False)
    await components.update_component(SYSTEM, a.ids["Buckets"], only_show_if_degraded=True)
    await settle()

    doc = await page_html(client)
    assert component_row(doc, a.ids["API"]).all("ol", "bars") == []
    assert doc.all("li", "component", data_component_id=str(a.ids["Buckets"])) == []
    assert doc.all("li", "group") == []  # its only component is hidden: the group has nothing to show

    await components.set_status(SYSTEM, a.ids["Buckets"], "MAJOR_OUTAGE")
    await settle()

    assert component_row(await page_html(client), a.ids["Buckets"]).one("span", "pill").text == "Major outage"


async def test_groups_are_collapsed_when_all_is_well_and_open_when_something_is_wrong(client):
    a = await acme()
    doc = await page_html(client)
    assert "open" not in doc.one("li", "group").one("details").attrs

    await components.set_status(SYSTEM, a.ids["Buckets"], "DEGRADED")
    await settle()

    doc = await page_html(client)
    assert "open" in doc.one("li", "group").one("details").attrs
    # without JavaScript a collapsed group still holds its components: the browser shows them on a click
    assert component_row(doc, a.ids["Buckets"]).one("span", "pill").text == "Degraded performance"


async def test_the_page_links_to_the_incident_history(client):
    await acme()

    doc = await page_html(client)

    assert doc.one("a", href="/status/acme/history").text == "Incident history"


async def test_a_live_update_carries_the_new_incident(client):
    a = await acme()
    await rebuilt(a.page_id)
    await incident(a.page_id, "Fresh trouble", impact=IncidentImpact.MAJOR)
    s = await rebuilt(a.page_id)

    body = parse(html.status_body(s))
    assert "Fresh trouble" in body.one("article").text
    assert body.one("section", "banner").attrs["data-indicator"] == "critical"


# --- the Statuspage-compatible JSON ----------------------------------------------------------------------------
INCIDENT_KEYS = {"id", "name", "status", "impact", "created_at", "updated_at", "monitoring_at", "resolved_at",
                 "started_at", "shortlink", "page_id", "incident_updates", "components"}
UPDATE_KEYS = {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at", "affected_components"}


def _has_offset(value: str) -> bool:
    return datetime.fromisoformat(value).utcoffset() is not None


async def test_summary_lists_unresolved_incidents_and_current_maintenance_in_the_statuspage_shape(client):
    a = await acme()
    row = await incident(a.page_id, "API errors", impact=IncidentImpact.PARTIAL,
                         components_={a.ids["API"]: "PARTIAL_OUTAGE"},
                         updates=[(IncidentStatus.INVESTIGATING, "Looking", NOW - timedelta(minutes=2))])
    await incident(a.page_id, "Old", status=IncidentStatus.RESOLVED, started_at=NOW - timedelta(days=2),
                   resolved_at=NOW - timedelta(days=1))
    await maintenance(a.page_id, "Upgrade", state=MaintenanceState.SCHEDULED, start=FAR_FUTURE,
                      end=FAR_FUTURE + timedelta(hours=1), component_ids=(a.ids["Buckets"],), body="Short pause.")
    await maintenance(a.page_id, "Rotation", state=MaintenanceState.IN_PROGRESS, start=NOW - timedelta(minutes=1),
                      end=NOW + timedelta(hours=1))
    await rebuilt(a.page_id)

    body = (await client.get("/status/acme/api/v2/summary.json")).json()

    assert body["status"] == {"indicator": "major", "description": "Partial System Outage"}
    [listed] = body["incidents"]
    assert set(listed) == INCIDENT_KEYS
    assert listed["id"] == str(row.id) and listed["impact"] == "major" and listed["status"] == "investigating"
    assert listed["shortlink"] == f"http://127.0.0.1:8080/status/acme/incidents/{row.id}"
    assert [c["name"] for c in listed["components"]] == ["API"]
    [update] = listed["incident_updates"]
    assert set(update) == UPDATE_KEYS and update["body"] == "Looking" and _has_offset(update["display_at"])
    assert update["affected_components"] == [{"code": str(a.ids["API"]), "name": "API",
                                              "old_status": "operational", "new_status": "partial_outage"}]
    assert [m["name"] for m in body["scheduled_maintenances"]] == ["Rotation", "Upgrade"]
    upgrade = body["scheduled_maintenances"][1]
    assert INCIDENT_KEYS | {"scheduled_for", "scheduled_until"} <= set(upgrade)
    assert upgrade["status"] == "scheduled" and upgrade["impact"] == "maintenance"
    assert upgrade["scheduled_for"] == FAR_FUTURE.isoformat()
    assert upgrade["incident_updates"][0]["body"] == "Short pause."
    assert [c["name"] for c in upgrade["components"]] == ["Buckets"]


async def test_incident_documents_list_recent_and_unresolved_incidents(client):
    a = await acme()
    await incident(a.page_id, "Open", started_at=NOW - timedelta(hours=1))
    await incident(a.page_id, "Resolved", status=IncidentStatus.RESOLVED, started_at=NOW - timedelta(days=2),
                   resolved_at=NOW - timedelta(days=1))
    await rebuilt(a.page_id)

    everything = (await client.get("/status/acme/api/v2/incidents.json")).json()
    unresolved = (await client.get("/status/acme/api/v2/incidents/unresolved.json")).json()

    assert set(everything) == {"page", "incidents"}
    assert [i["name"] for i in everything["incidents"]] == ["Open", "Resolved"]
    assert [i["name"] for i in unresolved["incidents"]] == ["Open"]


async def test_maintenance_documents_list_all_upcoming_and_active_windows(client):
    a = await acme()
    await maintenance(a.page_id, "Upcoming", state=MaintenanceState.SCHEDULED, start=FAR_FUTURE,
                      end=FAR_FUTURE + timedelta(hours=1))
    await maintenance(a.page_id, "Active", state=MaintenanceState.IN_PROGRESS, start=NOW - timedelta(hours=1),
                      end=NOW + timedelta(hours=1))
    await maintenance(a.page_id, "Done", state=MaintenanceState.COMPLETED, start=NOW - timedelta(days=1),
                      end=NOW - timedelta(hours=23))
    await rebuilt(a.page_id)

    async def names(document: str) -> list[str]:
        response = await client.get(f"/status/acme/api/v2/{document}.json")
        assert response.status_code == 200 and set(response.json()) == {"page", "scheduled_maintenances"}
        return [m["name"] for m in response.json()["scheduled_maintenances"]]

    assert await names("scheduled-maintenances") == ["Upcoming", "Active", "Done"]
    assert await names("scheduled-maintenances/upcoming") == ["Upcoming"]
    assert await names("scheduled-maintenances/active") == ["Active"]


async def test_the_default_page_serves_the_new_documents_at_the_root_and_unknown_ones_are_404(client):
    await acme()

    assert (await client.get("/api/v2/incidents/unresolved.json")).json()["incidents"] == []
    assert (await client.get("/status/acme/api/v2/incidents/everything.json")).status_code == 404


# --- the demo ----------------------------------------------------------------------------------------------------
async def test_the_demo_has_90_days_of_history_for_every_component_and_loading_twice_adds_none(beacon_sqlite):
    page_id = await load_demo()
    await load_demo()
    await settle()

    s = await rebuilt(page_id)

    assert len(s.all_components) == 30
    assert await DailyUptime.all().count() == sum(sum(d.has_data for d in c.uptime) for c in s.all_components)
    with_full_history = [c for c in s.all_components if all(d.has_data for d in c.uptime)]
    assert len(with_full_history) >= 25 and all(len(c.uptime) == HISTORY_DAYS for c in s.all_components)
    percents = [c.uptime_percent for c in s.all_components]
    assert all(99.0 <= p <= 100 for p in percents) and sum(p == 100 for p in percents) < 30  # real, not perfect
    assert {d.bar_class for c in s.all_components for d in c.uptime} >= {"ok", "degraded", "major", "maintenance",
                                                                          "nodata"}


async def test_the_demo_has_an_open_incident_a_resolved_one_with_a_write_up_and_a_scheduled_maintenance(
        beacon_sqlite):
    from storage.models import Incident, Maintenance

    page_id = await load_demo()
    counts = (await Incident.all().count(), await Maintenance.all().count())
    await load_demo()
    await settle()
    s = await rebuilt(page_id)

    assert (await Incident.all().count(), await Maintenance.all().count()) == counts  # loading twice adds none
    [open_incident] = s.open_incidents
    assert len(open_incident.updates) == 2
    assert {c.name: c.status.value for c in s.all_components if c.status.value != "OPERATIONAL"} == {
        "Search API": "DEGRADED", "Dublin": "PARTIAL_OUTAGE"}
    with_write_up = [i for i in s.incidents if i.resolved and i.postmortem]
    assert [i.name for i in with_write_up] == ["Email delivery delayed"]
    assert len(with_write_up[0].updates) == 4
    assert [m.name for m in s.upcoming_maintenances] == ["Primary database upgrade"]


async def test_the_demo_history_is_monitoring_data_its_monitors_report_the_same_uptime(beacon_sqlite):
    from app.services import monitoring
    from storage.models import Component, Monitor

    page_id = await load_demo()
    await load_demo()
    s = await rebuilt(page_id)
    monitors = await Monitor.all()
    assert len(monitors) == 30 and {m.kind for m in monitors} == {"manual"}
    email = await Component.get(name="Email delivery")
    monitor = next(m for m in monitors if m.component_id == email.id)
    figures = (await monitoring.uptime([monitor.id]))[monitor.id]
    bars = next(c for c in s.all_components if c.id == email.id)
    # the 95-minute outage 12 days ago (and short blips) count in the 30 and 90 days, as in the public bars
    assert figures["30d"].down >= 95 and figures["90d"].down >= figures["30d"].down
    assert figures["90d"].uptime_percent == pytest.approx(bars.uptime_percent, abs=0.01)
    assert figures["24h"].checks > 0 and figures["7d"].checks > figures["24h"].checks
    assert len(await monitoring.chart(monitor.id, "24h")) > 0


def test_demo_history_is_the_same_on_every_run():
    ids = {"REST API": 1, "Dublin": 2}
    at = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    assert demo_uptime(ids, at) == demo_uptime(ids, at)
    assert {r.day for r in demo_uptime(ids, at)} == {date(2026, 11, 23) - timedelta(days=n) for n in range(90)}


async def test_a_status_change_is_applied_in_memory_exactly_as_a_full_rebuild_would_show_it(beacon):
    """The in-memory path for status changes (no database read) must agree with a rebuild from the database."""
    from app.auth import Actor
    from app.services import components as component_service
    from app.services import groups as group_service
    from app.services import pages as page_service
    from app.snapshot import load, store
    from tests.conftest import settle

    actor = Actor.system("test")
    page = await page_service.create_page(actor, title="Acme", slug="fastpath")
    outer = await group_service.create_group(actor, page_id=page.id, name="Regions")
    inner = await group_service.create_group(actor, page_id=page.id, name="Europe", parent_id=outer.id)
    dublin = await component_service.create_component(actor, name="Dublin", pages=[page.id], group_id=inner.id)
    await component_service.create_component(actor, name="API", pages=[page.id])
    await settle()
    before = store.by_slug("fastpath").version

    await component_service.set_status(actor, dublin.id, "MAJOR_OUTAGE")
    await settle()
    fast = store.by_slug("fastpath")
    rebuilt = await load(page.id, store.base_url)

    assert fast.version > before
    assert fast.indicator == rebuilt.indicator and fast.indicator.indicator == "critical"
    assert [(g.name, g.status) for g in fast.all_groups] == [(g.name, g.status) for g in rebuilt.all_groups]
    assert [(c.name, c.status, c.updated_at) for c in fast.all_components] == \
        [(c.name, c.status, c.updated_at) for c in rebuilt.all_components]

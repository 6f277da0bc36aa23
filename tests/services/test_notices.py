"""Scheduled notices (app/services/notices.py) on a real database: an uptime alert is written to the outbox once
per breach and again after a recovery; a report once per page and period, across ticks and restarts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.transactions import in_transaction

from app import events
from app.auth import Actor
from app.events import Event
from app.notify import digest
from app.services import channels, components, incidents, pages
from app.services.notices import Notices
from app.snapshot import store
from storage import timeseries as ts
from storage.models import Channel, Monitor, NoticeMark, OutboxEvent, StatusPage

OWNER = Actor.system("test")
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
async def acme(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    api = await components.create_component(OWNER, name="API", pages=[page.id])
    website = await components.create_component(OWNER, name="Website", pages=[page.id])  # no monitor
    monitor = await Monitor.create(name="API check", kind="manual", config={"status": "up"}, component_id=api.id)
    return page, api, website, monitor


async def add(monitor: Monitor, at: datetime, *, up: int = 0, down: int = 0) -> None:
    async with in_transaction() as conn:
        await ts.add_rollups(conn, "hour", {(monitor.id, ts.bucket_of(at.timestamp(), "hour")): ts.Agg(up=up,
                                                                                                      down=down)})


async def rows(name: str) -> list[OutboxEvent]:
    return await OutboxEvent.filter(name=name).order_by("id")


async def test_an_uptime_alert_is_written_once_per_breach_and_again_after_a_recovery(acme):
    page, api, website, monitor = acme
    await channels.create_channel(OWNER, name="Ops", kind="webhook", config={"url": HOOK}, events=["uptime.alert"],
                                  options={"uptime_window": "24h", "uptime_threshold": 99.9})
    # a looser rule on another channel: 95 % over 7 days is above its threshold
    await channels.create_channel(OWNER, name="Managers", kind="webhook", config={"url": HOOK},
                                  events=["uptime.alert"], options={"uptime_window": "7d", "uptime_threshold": 90})
    now = datetime.now(UTC)
    for hours in (1, 2, 3):
        await add(monitor, now - timedelta(hours=hours), up=95, down=5)  # 95 %
    notices = Notices()
    assert await notices.tick(now) == 1
    [row] = await rows(events.UPTIME_ALERT)
    assert row.data == {"component_id": api.id, "component_name": "API", "window": "24h", "threshold": 99.9,
                        "uptime": 95.0, "breached_at": now.isoformat(), "page_ids": [page.id]}
    assert row.page_ids == [page.id] and row.dispatched_at is None
    assert await NoticeMark.filter(key=f"uptime:{api.id}:24h:99.9").exists()
    assert not await NoticeMark.filter(key=f"uptime:{api.id}:7d:90").exists()
    event = Event(row.name, row.data, frozenset(row.page_ids), row.at)  # what the dispatcher will build from
    subject, _, _ = digest.email_parts(event, store.get(page.id), now=now)
    assert subject == "[Acme] Uptime alert: API at 95 % over 24 h (threshold 99.9 %)"

    # still below: nothing more, not after a restart either
    assert await notices.tick(now + timedelta(minutes=1)) == 0
    assert await Notices().tick(now + timedelta(minutes=2)) == 0
    assert len(await rows(events.UPTIME_ALERT)) == 1

    # back at or above the threshold re-arms without a notice ...
    await add(monitor, now, up=20_000)  # 20,285 of 20,300 = 99.93 %
    assert await notices.tick(now + timedelta(minutes=3)) == 0
    assert not await NoticeMark.filter(key=f"uptime:{api.id}:24h:99.9").exists()
    # ... so the next breach is announced again
    await add(monitor, now, down=100)  # 20,285 of 20,400 = 99.44 %
    assert await notices.tick(now + timedelta(minutes=4)) == 1
    alerts_ = await rows(events.UPTIME_ALERT)
    assert len(alerts_) == 2 and alerts_[1].data["uptime"] == pytest.approx(99.4363, abs=1e-3)
    assert {r.data["component_id"] for r in alerts_} == {api.id}  # the Website has no monitor: never alerted


async def test_no_channel_for_uptime_alerts_writes_nothing_and_no_data_never_alerts(acme):
    page, api, website, monitor = acme
    now = datetime.now(UTC)
    await add(monitor, now, down=10)
    assert await Notices().tick(now) == 0  # nobody listens
    await channels.create_channel(OWNER, name="Ops", kind="webhook", config={"url": HOOK}, events=["uptime.alert"],
                                  options={"uptime_threshold": 99.9})
    later = now + timedelta(days=3)  # the data is out of the 24 h window now
    assert await Notices().tick(later) == 0
    assert await OutboxEvent.filter(name=events.UPTIME_ALERT).count() == 0


async def test_a_daily_report_is_written_once_per_page_and_day_across_ticks_and_restarts(acme):
    page, api, website, monitor = acme
    other = await pages.create_page(OWNER, title="Internal", slug="internal")
    await StatusPage.filter(id=page.id).update(time_zone="Europe/Berlin")
    await channels.create_channel(OWNER, name="Daily", kind="webhook", config={"url": HOOK},
                                  events=["report.daily"])
    # a weekly report only for the other page
    await channels.create_channel(OWNER, name="Weekly", kind="webhook", config={"url": HOOK},
                                  events=["report.weekly"], page_ids=[other.id])
    now = datetime.now(UTC)
    await add(monitor, now, up=99, down=1)
    incident = await incidents.create_incident(OWNER, page=page.id, name="API <slow>", impact="MAJOR", body="Looking.",
                                               components={api.id: "MAJOR_OUTAGE"})

    notices = Notices()
    assert await notices.tick(now) == 3  # yesterday for both pages, last week for the other one
    assert await notices.tick(now) == 0
    assert await Notices().tick(now + timedelta(seconds=30)) == 0  # a restart sends nothing twice
    daily = await rows(events.REPORT_DAILY)
    assert sorted(r.data["page_id"] for r in daily) == sorted([page.id, other.id])
    assert all(r.page_ids == [r.data["page_id"]] for r in daily)
    [weekly] = await rows(events.REPORT_WEEKLY)
    assert weekly.data["page_id"] == other.id and weekly.data["period"] == "weekly"

    # the next day reports today: the incident and the API's uptime are in it
    tomorrow = now + timedelta(days=1)
    assert await Notices().tick(tomorrow) == 2
    assert await notices.tick(tomorrow) == 0
    daily = await rows(events.REPORT_DAILY)
    assert len(daily) == 4
    [report] = [r for r in daily[2:] if r.data["page_id"] == page.id]
    data = report.data
    assert data["period"] == "daily" and data["time_zone"] == "Europe/Berlin"
    start, end = datetime.fromisoformat(data["start"]), datetime.fromisoformat(data["end"])
    assert start <= now < end and start.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
    assert data["uptime"] == [{"component_id": api.id, "name": "API", "uptime": 99.0},
                              {"component_id": website.id, "name": "Website", "uptime": None}]
    assert [(i["id"], i["name"], i["impact"]) for i in data["incidents"]] == [(incident.id, "API <slow>", "MAJOR")]
    assert data["maintenances"] == []
    await store.settle()
    body = digest.webhook_payload(Event(report.name, data, frozenset(report.page_ids), report.at),
                                  store.get(page.id), now=tomorrow)
    assert body["report"]["incidents"][0]["impact"] == "critical"
    key = f"report:daily:{page.id}:{start.date().isoformat()}"
    assert await NoticeMark.filter(key=key).exists()


async def test_a_disabled_channel_gets_no_reports(acme):
    await channels.create_channel(OWNER, name="Daily", kind="webhook", config={"url": HOOK},
                                  events=["report.monthly"])
    await Channel.all().update(enabled=False)
    assert await Notices().tick(datetime.now(UTC)) == 0


async def test_the_loop_ticks_and_stops_on_its_signal(acme):
    await channels.create_channel(OWNER, name="Daily", kind="webhook", config={"url": HOOK},
                                  events=["report.daily"])
    notices = Notices(interval=0.05)
    notices.start()
    for _ in range(100):
        if await OutboxEvent.filter(name=events.REPORT_DAILY).exists():
            break
        await asyncio.sleep(0.02)
    await notices.stop()
    assert not notices.running
    assert await OutboxEvent.filter(name=events.REPORT_DAILY).count() == 1


async def test_an_alert_reaches_only_the_channels_of_its_rule_and_a_report_reaches_its_channel(acme, receiver):
    from app.notify.outbox import Outbox

    page, api, website, monitor = acme
    await channels.create_channel(OWNER, name="Strict", kind="webhook", config={"url": f"{receiver.url}/strict"},
                                  events=["uptime.alert", "report.daily"],
                                  options={"uptime_window": "24h", "uptime_threshold": 99.9})
    await channels.create_channel(OWNER, name="Loose", kind="webhook", config={"url": f"{receiver.url}/loose"},
                                  events=["uptime.alert"], options={"uptime_window": "24h", "uptime_threshold": 90})
    now = datetime.now(UTC)
    await add(monitor, now - timedelta(hours=1), up=95, down=5)
    await Notices().tick(now)
    box = Outbox()
    for _ in range(3):
        await box.dispatch()
        await box.deliver_due()
        await box.settle()
    by_path: dict[str, list[str]] = {}
    for request in receiver.accepted():
        by_path.setdefault(request["path"], []).append(request["headers"]["x-beacon-event"])
    assert sorted(by_path["/strict"]) == ["report.daily", "uptime.alert"]
    assert "/loose" not in by_path  # 95 % is above its 90 % threshold

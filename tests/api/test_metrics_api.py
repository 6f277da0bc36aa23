"""``GET /metrics`` (app/api/metrics.py) through HTTP, parsed with prometheus_client's own parser; and the
text writer (app/prometheus.py) on its own."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from tortoise.transactions import in_transaction

from app import config
from app import prometheus as prom
from app.api import metrics as metrics_api
from app.api import problems
from app.auth import Actor
from app.config import Settings
from app.enums import ComponentStatus
from app.services import components, monitoring, pages
from app.snapshot import store
from storage import timeseries as ts
from storage.models import Channel, Delivery, Monitor, OutboxEvent, Subscriber
from tests.conftest import settle

SYSTEM = Actor.system("test")
NOW = time.time()
ODD_NAME = 'Edge "EU"\\1\nnext'


@pytest.fixture
async def metrics_client(beacon: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The metrics router on an app of its own (PITFALLS.md), the runtime on SQLite and on PostgreSQL."""
    app = FastAPI()
    problems.install(app)
    app.include_router(metrics_api.router)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as http:
        yield http


async def scrape(client: httpx.AsyncClient, **headers: str) -> dict[str, list]:
    """{family name: [samples]} of the answer, asserting the response's form on the way."""
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    return {name: list(f.samples) for name, f in families.items()}


def values(samples: list, **labels: str) -> list[float]:
    return [s.value for s in samples if all(s.labels.get(k) == v for k, v in labels.items())]


def one(samples: list, **labels: str) -> float:
    found = values(samples, **labels)
    assert len(found) == 1, (labels, found)
    return found[0]


async def add_rollups(resolution: str, rows: dict[tuple[int, float], ts.Agg]) -> None:
    async with in_transaction() as conn:
        await ts.add_rollups(conn, resolution, {(mid, ts.bucket_of(at, resolution)): agg
                                                for (mid, at), agg in rows.items()})


# --- the endpoint -----------------------------------------------------------------------------------------------
async def test_component_status_is_a_state_set_per_page_and_names_are_escaped(metrics_client):
    public = await pages.create_page(SYSTEM, title="Acme", slug="acme")
    private = await pages.create_page(SYSTEM, title="Internal", slug="internal", public=False)
    edge = await components.create_component(SYSTEM, name=ODD_NAME.replace("\nnext", ""),
                                             pages=[public.id, private.id])
    db = await components.create_component(SYSTEM, name="DB", pages=[private.id])
    await components.set_status(SYSTEM, db.id, "PARTIAL_OUTAGE")
    await settle()

    got = await scrape(metrics_client)

    status = got["beacon_component_status"]
    edge_labels = {"component": 'Edge "EU"\\1', "component_id": str(edge.id)}
    for slug in ("acme", "internal"):  # private pages are included: the endpoint is for operators
        assert one(status, page=slug, status="OPERATIONAL", **edge_labels) == 1
        for other in set(ComponentStatus) - {ComponentStatus.OPERATIONAL}:
            assert one(status, page=slug, status=other.value, **edge_labels) == 0
        assert one(got["beacon_component_operational"], page=slug, **edge_labels) == 1
    assert one(status, page="internal", component="DB", status="PARTIAL_OUTAGE") == 1
    assert sum(values(status, page="internal", component="DB")) == 1
    assert one(got["beacon_component_operational"], page="internal", component="DB") == 0
    assert values(status, page="acme", component="DB") == []
    assert one(got["beacon_page_open_incidents"], page="acme") == 0
    assert one(got["beacon_up"]) == 1
    build = got["beacon_build_info"][0]
    assert build.value == 1 and build.labels["version"]
    postgres = config.current().database_url.startswith("postgres")
    assert build.labels["database"] == ("postgres" if postgres else "sqlite")


async def test_the_raw_body_escapes_quotes_backslashes_and_newlines(metrics_client):
    page = await pages.create_page(SYSTEM, title="Acme", slug="acme")
    await components.create_component(SYSTEM, name='Edge "EU"\\1', pages=[page.id])
    await Monitor.create(name=ODD_NAME, kind="manual", config={"status": "up"}, state="up", last_latency_ms=5)
    await settle()

    body = (await metrics_client.get("/metrics")).text

    assert 'component="Edge \\"EU\\"\\\\1"' in body
    assert 'monitor="Edge \\"EU\\"\\\\1\\nnext"' in body
    parsed = {f.name: f for f in text_string_to_metric_families(body)}
    assert parsed["beacon_monitor_up"].samples[0].labels["monitor"] == ODD_NAME


async def test_monitor_up_latency_state_and_uptime_ratios_follow_the_rollups(metrics_client):
    page = await pages.create_page(SYSTEM, title="Acme", slug="acme")
    api = await components.create_component(SYSTEM, name="API", pages=[page.id])
    up = await Monitor.create(name="API", kind="http", config={"url": "https://api.example"}, component_id=api.id,
                              state="up", last_latency_ms=123.5,
                              last_details={"status_code": 200, "cert_days_left": 41})
    expiry = datetime.fromtimestamp(NOW, UTC) + timedelta(days=10, hours=12)
    down = await Monitor.create(name="Cert", kind="tls-certificate", config={"host": "example.com"},
                                state="down", last_latency_ms=40.0,
                                last_details={"cert_days_left": 10, "expires": expiry.isoformat()})
    await Monitor.create(name="New", kind="manual", config={"status": "up"})
    await Monitor.create(name="Paused", kind="http", config={"url": "https://x.example"}, paused=True,
                         state="pending", last_latency_ms=9.0, last_details={"cert_days_left": 3})
    hour = 3600
    # 1d (hour rollups): 'up' has 90 good of 100 counted (maintenance not counted); 'down' 0 of 5
    await add_rollups("hour", {(up.id, NOW): ts.Agg(up=80, degraded=10, down=10, maintenance=7),
                               (up.id, NOW - 30 * hour): ts.Agg(down=50),  # outside the day
                               (down.id, NOW - hour): ts.Agg(down=5)})
    # 30d / 90d (day rollups): 'up' 300 of 400 within 30 days, 300 + 100 of 400 + 400 within 90
    await add_rollups("day", {(up.id, NOW): ts.Agg(up=300, down=100),
                              (up.id, NOW - 60 * 86400): ts.Agg(up=100, down=300),
                              (up.id, NOW - 120 * 86400): ts.Agg(down=1000)})  # outside every window
    await settle()

    got = await scrape(metrics_client)

    assert one(got["beacon_monitor_up"], monitor="API", monitor_id=str(up.id), kind="http",
               component_id=str(api.id)) == 1
    assert one(got["beacon_monitor_up"], monitor="Cert", component_id="") == 0
    assert values(got["beacon_monitor_up"], monitor="New") == []  # never checked: no series
    assert values(got["beacon_monitor_up"], monitor="Paused") == []
    assert one(got["beacon_monitor_paused"], monitor="Paused") == 1
    assert one(got["beacon_monitor_paused"], monitor="API") == 0
    assert one(got["beacon_monitor_state"], monitor="New", state="pending") == 1
    assert one(got["beacon_monitor_state"], monitor="Paused", state="paused") == 1
    assert one(got["beacon_monitor_state"], monitor="Paused", state="pending") == 0
    assert sum(values(got["beacon_monitor_state"], monitor="Cert")) == 1
    assert one(got["beacon_monitor_latency_seconds"], monitor="API") == pytest.approx(0.1235)
    assert values(got["beacon_monitor_latency_seconds"], monitor="Paused") == []
    assert values(got["beacon_monitor_latency_seconds"], monitor="New") == []

    ratio = got["beacon_monitor_uptime_ratio"]
    assert one(ratio, monitor="API", window="1d") == pytest.approx(0.9)
    assert one(ratio, monitor="API", window="30d") == pytest.approx(0.75)
    assert one(ratio, monitor="API", window="90d") == pytest.approx(0.5)
    assert one(ratio, monitor="Cert", window="1d") == 0
    assert values(ratio, monitor="Cert", window="30d") == []  # nothing counted: no series
    assert values(ratio, monitor="New") == []
    # the same figures as the monitor screens
    figures = await monitoring.uptime([up.id], ("24h", "30d", "90d"))
    for exported, window in metrics_api.UPTIME_WINDOWS.items():
        assert one(ratio, monitor="API", window=exported) == pytest.approx(figures[up.id][window].uptime_percent / 100)

    days = got["beacon_monitor_tls_certificate_days_left"]
    assert one(days, monitor="API") == 41  # https: the whole days the check counted
    assert one(days, monitor="Cert") == pytest.approx(10.5, abs=0.01)  # computed from the recorded expiry
    assert values(days, monitor="Paused") == []
    expires = got["beacon_monitor_tls_certificate_expiry_timestamp_seconds"]
    assert one(expires, monitor="Cert") == pytest.approx(expiry.timestamp())
    assert values(expires, monitor="API") == []


async def test_deliveries_are_counted_by_channel_and_state(metrics_client):
    page = await pages.create_page(SYSTEM, title="Acme", slug="acme")
    discord = await Channel.create(name="Ops Discord", kind="discord", config={}, events=["incident.created"])
    quiet = await Channel.create(name="Quiet", kind="webhook", config={}, events=[])
    subscriber = await Subscriber.create(page_id=page.id, kind="webhook", address="https://s.example/", nonce="n",
                                         confirmed_at=datetime.now(UTC))
    now = datetime.now(UTC)
    made = 0

    async def deliveries(count: int, status: str, **target) -> None:
        nonlocal made
        for _ in range(count):
            made += 1
            await Delivery.create(event="incident.created", page_id=page.id, payload={}, status=status,
                                  next_attempt_at=now, idempotency_key=f"k{made}", **target)

    await deliveries(3, "sent", channel=discord)
    await deliveries(2, "failed", channel=discord)
    await deliveries(1, "dead", channel=discord)
    await deliveries(4, "pending", subscriber=subscriber)
    await deliveries(1, "sent", subscriber=subscriber)
    await OutboxEvent.create(name="incident.created", data={}, at=now)
    await OutboxEvent.create(name="incident.updated", data={}, at=now, dispatched_at=now)

    got = await scrape(metrics_client)

    counts = got["beacon_deliveries"]
    by_state = {s.labels["state"]: s.value for s in counts if s.labels["channel"] == "Ops Discord"}
    assert by_state == {"pending": 0, "sent": 3, "failed": 2, "dead": 1}
    assert {s.labels["channel_id"] for s in counts if s.labels["channel"] == "Ops Discord"} == {str(discord.id)}
    assert {s.labels["state"]: s.value for s in counts if s.labels["channel"] == "Quiet"} == dict.fromkeys(
        metrics_api.DELIVERY_STATES, 0)
    assert one(counts, channel="Quiet", state="sent", channel_id=str(quiet.id), kind="webhook") == 0
    subscribers = {s.labels["state"]: s.value for s in counts if s.labels["channel"] == "subscribers"}
    assert subscribers == {"pending": 4, "sent": 1, "failed": 0, "dead": 0}
    assert one(got["beacon_outbox_pending_events"]) == 1


async def test_live_listeners_and_tracked_viewers_are_counted_per_page(metrics_client, monkeypatch):
    await pages.create_page(SYSTEM, title="Acme", slug="acme")
    await settle()
    page_id = store.by_slug("acme").page.id
    monkeypatch.setattr(metrics_api, "_tracking", False)
    monkeypatch.setattr(metrics_api, "live_viewers", metrics_api.Counter())

    got = await scrape(metrics_client)
    assert one(got["beacon_live_listeners"], page="acme") == 0
    assert "beacon_live_viewers" not in got or got["beacon_live_viewers"] == []  # nothing tracked yet

    stops = [metrics_api.track_viewer(page_id, store.listen(page_id, lambda _: None)) for _ in range(3)]
    got = await scrape(metrics_client)
    assert one(got["beacon_live_listeners"], page="acme") == 3
    assert one(got["beacon_live_viewers"], page="acme") == 3

    stops[0]()
    stops[0]()  # stopping twice uncounts once
    got = await scrape(metrics_client)
    assert one(got["beacon_live_listeners"], page="acme") == 2
    assert one(got["beacon_live_viewers"], page="acme") == 2
    for stop in stops[1:]:
        stop()
    got = await scrape(metrics_client)
    assert one(got["beacon_live_viewers"], page="acme") == 0


def _with_token(monkeypatch, settings: Settings, token: str) -> None:
    if any(f.name == "metrics_token" for f in dataclasses.fields(Settings)):
        config.use(dataclasses.replace(settings, metrics_token=token))
    else:
        current = config.current()

        class WithToken:
            metrics_token = token

            def __getattr__(self, name):
                return getattr(current, name)

        monkeypatch.setattr(config, "current", lambda: WithToken())


async def test_a_token_when_set_is_required_as_a_bearer_token(metrics_client, beacon, monkeypatch):
    assert (await metrics_client.get("/metrics")).status_code == 200  # no token set: open
    _with_token(monkeypatch, beacon, "s3cret-token")

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic s3cret-token"},
                    {"Authorization": "s3cret-token"}, {"Authorization": "Bearer s3cret-token-and-more"}):
        response = await metrics_client.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["cache-control"] == "no-store"
        assert "beacon" not in response.text

    got = await scrape(metrics_client, Authorization="Bearer s3cret-token")
    assert one(got["beacon_up"]) == 1
    assert one((await scrape(metrics_client, Authorization="bearer s3cret-token"))["beacon_up"]) == 1


async def test_a_thousand_monitors_answer_in_one_scrape(metrics_client):
    page = await pages.create_page(SYSTEM, title="Acme", slug="acme")
    api = await components.create_component(SYSTEM, name="API", pages=[page.id])
    await Monitor.bulk_create([
        Monitor(name=f"m{i}", kind="http", config={"url": f"https://h{i}.example"}, component_id=api.id,
                state=("up", "down", "degraded", "pending")[i % 4], last_latency_ms=float(i),
                last_details={"cert_days_left": i % 90}) for i in range(1000)])
    ids = [m for m in await Monitor.all().values_list("id", flat=True)]
    hours = {(mid, NOW - h * 3600): ts.Agg(up=55, down=5) for mid in ids for h in range(24)}
    days = {(mid, NOW - d * 86400): ts.Agg(up=1400, down=40) for mid in ids for d in range(90)}
    await add_rollups("hour", hours)
    await add_rollups("day", days)
    await settle()

    started = time.perf_counter()
    response = await metrics_client.get("/metrics")
    elapsed = time.perf_counter() - started
    got = await scrape(metrics_client)
    collecting = one(got["beacon_scrape_duration_seconds"])

    print(f"\n/metrics with 1,000 monitors (24 hour + 90 day rollups each): {elapsed * 1000:.0f} ms for the "
          f"request ({len(response.content) // 1024} KiB), collecting {collecting * 1000:.0f} ms")
    assert len(got["beacon_monitor_state"]) == 5000
    assert len(got["beacon_monitor_up"]) == 750
    assert len(got["beacon_monitor_uptime_ratio"]) == 3000
    assert values(got["beacon_monitor_uptime_ratio"], window="1d") == [pytest.approx(55 / 60)] * 1000
    assert values(got["beacon_monitor_uptime_ratio"], window="90d") == [pytest.approx(1400 / 1440)] * 1000


# --- the writer -------------------------------------------------------------------------------------------------
def test_the_writer_formats_values_names_and_help():
    m = prom.Metric("9 bad-name.total", "Line one\nback\\slash", "counter")
    assert m.name == "_9_bad_name_total"
    m.add(1).add(True, a="x").add(0.1, a="y").add(float("inf")).add(float("-inf")).add(float("nan")).add(2.0)
    m.add(1e-300, {"1st": "v", "__x": "w"})
    body = prom.render([m, prom.Metric("empty", "Nothing yet.")])
    assert body.splitlines() == [
        "# HELP _9_bad_name_total Line one\\nback\\\\slash",
        "# TYPE _9_bad_name_total counter",
        "_9_bad_name_total 1",
        '_9_bad_name_total{a="x"} 1',
        '_9_bad_name_total{a="y"} 0.1',
        "_9_bad_name_total +Inf",
        "_9_bad_name_total -Inf",
        "_9_bad_name_total NaN",
        "_9_bad_name_total 2.0",
        '_9_bad_name_total{_1st="v",_x="w"} 1e-300',
        "# HELP empty Nothing yet.",
        "# TYPE empty gauge",
    ]
    assert prom.render([]) == ""
    parsed = list(text_string_to_metric_families(body))
    assert math.isnan([s for s in parsed[0].samples if math.isnan(s.value)][0].value)
    with pytest.raises(ValueError):
        prom.Metric("x", "y", "bogus")


def test_label_values_round_trip_through_the_reference_parser():
    odd = ['Edge "EU"\\1', "a\nb", "\\n literally", "ünïcødé ✓", "", "}{,=\""]
    m = prom.Metric("t", "t")
    for i, value in enumerate(odd):
        m.add(i, v=value)
    parsed = next(text_string_to_metric_families(prom.render([m])))
    assert [s.labels["v"] for s in parsed.samples] == odd

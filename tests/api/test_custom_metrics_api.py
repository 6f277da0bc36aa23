"""Custom metrics through /api/v1/metrics and on the public page: define one, post points (numbers, times, Unix
timestamps), read them back in buckets, see the chart on the page, and bad input refused field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.api import custom_metrics
from tests.api.management_client import Api, create_acme, field_errors
from tests.conftest import settle


async def define(api: Api, **body) -> dict:
    response = await api.post("/api/v1/metrics", {"page": "acme", "name": "API latency", "suffix": "ms", **body})
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_metric_is_defined_fed_read_back_and_charted_on_the_page(api: Api):
    await create_acme(api)
    metric = await define(api, decimals=1, description="p95 of the public API")
    assert metric["display"] is True and metric["aggregation"] == "avg"
    now = datetime.now(UTC)
    posted = await api.post(f"/api/v1/metrics/{metric['id']}/points", {"points": [
        {"value": 120, "at": (now - timedelta(minutes=62)).isoformat()},
        {"value": 100, "at": (now - timedelta(minutes=61)).timestamp()},
        140.5]})
    assert posted.status_code == 201 and posted.json() == {"added": 3}
    series = (await api.get(f"/api/v1/metrics/{metric['id']}/points?range=day")).json()
    assert [p["value"] for p in series["points"]] == [110.0, 140.5]  # two 5-minute buckets, averaged
    weekly = (await api.get(f"/api/v1/metrics/{metric['id']}/points?range=week")).json()
    assert len(weekly["points"]) in (1, 2)

    await settle()
    page = await api.http.get("/status/acme")
    assert "API latency" in page.text and f"/status/acme/metrics/{metric['id']}.svg" in page.text
    custom_metrics._charts.clear()
    chart = await api.http.get(f"/status/acme/metrics/{metric['id']}.svg")
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/svg+xml"
    assert "140.5 ms" in chart.text and "<polyline" in chart.text
    assert (await api.http.get(f"/status/acme/metrics/{metric['id']}.svg?range=year")).status_code == 400
    narrow = await api.http.get(f"/status/acme/metrics/{metric['id']}.svg?w=360")  # what a phone's page asks for
    assert narrow.status_code == 200 and 'width="360"' in narrow.text and "140.5 ms" in narrow.text
    assert (await api.http.get(f"/status/acme/metrics/{metric['id']}.svg?w=500")).status_code == 400


async def test_a_hidden_metric_is_not_on_the_page_and_its_chart_is_404(api: Api):
    await create_acme(api)
    metric = await define(api, display=False)
    await settle()
    assert "API latency" not in (await api.http.get("/status/acme")).text
    assert (await api.http.get(f"/status/acme/metrics/{metric['id']}.svg")).status_code == 404
    shown = await api.patch(f"/api/v1/metrics/{metric['id']}", {"display": True, "name": "Latency"})
    assert shown.status_code == 200 and shown.json()["name"] == "Latency"
    await settle()
    assert "Latency" in (await api.http.get("/status/acme")).text


async def test_bad_definitions_and_points_are_refused_field_by_field(api: Api):
    await create_acme(api)
    errors = field_errors(await api.post("/api/v1/metrics", {"page": "acme", "name": "", "decimals": 9,
                                                            "aggregation": "median"}))
    assert set(errors) == {"name", "decimals", "aggregation"}
    metric = await define(api)
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    errors = field_errors(await api.post(f"/api/v1/metrics/{metric['id']}/points", {"points": [
        {"value": 1}, {"value": 2, "at": future}]}))
    assert errors == {"points.1.at": "This time is in the future."}
    errors = field_errors(await api.post(f"/api/v1/metrics/{metric['id']}/points", {"points": [
        {"value": 1, "at": "yesterday"}]}))
    assert set(errors) == {"points.0.at"}
    assert (await api.get(f"/api/v1/metrics/{metric['id']}/points")).json()["points"] == []  # all or none
    assert (await api.post("/api/v1/metrics/999999/points", {"points": [1]})).status_code == 404


async def test_a_read_only_key_may_read_but_not_post_and_deleting_takes_the_data(api: Api):
    await create_acme(api)
    metric = await define(api)
    assert (await api.get("/api/v1/metrics", headers=api.as_reader())).status_code == 200
    refused = await api.post(f"/api/v1/metrics/{metric['id']}/points", {"points": [1]}, headers=api.as_reader())
    assert refused.status_code == 403
    assert (await api.http.delete(f"/api/v1/metrics/{metric['id']}", headers=api.as_admin())).status_code == 204
    assert (await api.get(f"/api/v1/metrics/{metric['id']}")).status_code == 404

"""The whole engine on the real clock: the scheduler runs an HTTP monitor against a live local server, the
component follows the server going away and coming back, and a monitor of a hung server times out beside it
without delaying it."""

from __future__ import annotations

import asyncio
import time

from app.auth import Actor
from app.enums import ComponentStatus
from app.services import components, monitoring, pages
from app.services import monitor_engine as engine_module
from app.services.monitor_engine import engine
from storage.models import Component, Monitor
from tests.monitors.http_servers import serve

OWNER = Actor.system("test")


async def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"waited {seconds} s for {what}")


async def test_the_scheduler_drives_the_component_from_a_live_server(beacon_sqlite, hung_port, monkeypatch):
    monkeypatch.setattr(engine_module, "FLUSH_SECONDS", 0.2)
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    api = await components.create_component(OWNER, name="API", pages=[page.id])
    with serve() as url:
        web = await monitoring.create_monitor(OWNER, name="API health", kind="http", interval=5, timeout=2,
                                              component_id=api.id, config={"url": f"{url}/ok"})
        hung = await monitoring.create_monitor(OWNER, name="Stuck", kind="http", interval=5, timeout=1,
                                               config={"url": f"http://127.0.0.1:{hung_port}/"})
        await engine.start(concurrency=10)
        try:
            async def web_up():
                return (await Monitor.get(id=web.id)).state == "up"
            await wait_for(web_up, 7, "the first check")
            row = await Monitor.get(id=web.id)
            assert "200" in row.last_message and row.last_latency_ms is not None
        except BaseException:
            await engine.stop()
            raise
    try:
        async def component_down():
            return (await Component.get(id=api.id)).status == ComponentStatus.MAJOR_OUTAGE
        await wait_for(component_down, 8, "the component to go down")
        assert "refused" in (await Monitor.get(id=web.id)).last_message.lower()
        stuck = await Monitor.get(id=hung.id)
        assert stuck.state == "down" and "time" in stuck.last_message.lower()
        assert engine.scheduler is not None and engine.scheduler.lag.percentile(99) < 1.0
        # back again (a new server on another port: the monitor is pointed at it)
        with serve() as again:
            await monitoring.update_monitor(OWNER, web.id, config={"url": f"{again}/ok"})
            result = await monitoring.check_now(OWNER, web.id)
            assert result.outcome == "up"
            assert (await Component.get(id=api.id)).status == ComponentStatus.OPERATIONAL
    finally:
        await engine.stop()
    figures = (await monitoring.uptime([web.id]))[web.id]["24h"]
    assert figures.up >= 2 and figures.down >= 1


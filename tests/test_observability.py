"""app/observability.py: JSON log lines carrying the request id, the request-id middleware, and health()."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app import observability, runtime
from app.config import Settings
from app.observability import RequestIdMiddleware, configure_logging, health, message_fields, request_id

log = logging.getLogger("tests.observability")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger configured for JSON into a buffer; the previous handlers (pytest's own) come back after."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("json", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict]:
    """Every line is a JSON object; the ones of this module's logger (httpx logs its requests too)."""
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [entry for entry in entries if entry["logger"] == log.name]


async def _endpoint(request: Request) -> PlainTextResponse:
    log.info("test.inside delivery=%s dead=%s error=%s", 41, False, "No answer within 10 s",
             extra={"channel": "ops"})
    await asyncio.sleep(0)
    return PlainTextResponse(request.state.request_id, headers={"X-Request-ID": "set-by-the-app"})


def _app() -> RequestIdMiddleware:
    return RequestIdMiddleware(Starlette(routes=[Route("/", _endpoint)]))


async def _get(headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(_app()), base_url="http://test") as http:
        return await http.get("/", headers=headers)


# -- logs -----------------------------------------------------------------------------------------------------------


async def test_json_lines_parse_and_carry_the_request_id_inside_a_request(captured: io.StringIO):
    log.info("test.outside")
    response = await _get({"X-Request-ID": "abc-123.x_Y"})
    log.warning("test.after")

    outside, inside, after = lines(captured)
    assert response.headers["x-request-id"] == "abc-123.x_Y"
    assert inside["request_id"] == "abc-123.x_Y"
    assert "request_id" not in outside and "request_id" not in after
    assert inside["level"] == "INFO" and inside["logger"] == "tests.observability"
    assert inside["message"] == "test.inside delivery=41 dead=False error=No answer within 10 s"
    # key=value pairs of the message, the event name and extra= fields become fields
    assert inside["event"] == "test.inside"
    assert inside["delivery"] == 41 and inside["dead"] is False and inside["error"] == "No answer within 10 s"
    assert inside["channel"] == "ops"
    moment = datetime.fromisoformat(inside["time"].replace("Z", "+00:00"))
    assert moment.utcoffset() == timedelta(0) and abs((datetime.now(UTC) - moment).total_seconds()) < 60
    assert after["level"] == "WARNING"


async def test_exceptions_are_one_line_with_the_traceback_as_a_field(captured: io.StringIO):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("test.failed monitor=%s", 7)
    assert captured.getvalue().count("\n") == 1  # one object per line, the traceback escaped inside it
    (entry,) = lines(captured)
    assert entry["level"] == "ERROR" and entry["monitor"] == 7
    assert "RuntimeError: boom" in entry["exc_info"] and "Traceback" in entry["exc_info"]


def test_message_fields():
    assert message_fields("runtime.stopped") == {"event": "runtime.stopped"}
    assert message_fields("monitors.started count=3 active=2") == {"event": "monitors.started", "count": 3,
                                                                   "active": 2}
    # a value runs to the next " key=": spaces and '=' inside a value survive; names of the line's own fields
    # get a "_" appended rather than replacing them
    assert message_fields("x.y url=http://h/?a=b level=9 took=0.25 note=a b c") == {
        "event": "x.y", "url": "http://h/?a=b", "level_": 9, "took": 0.25, "note": "a b c"}
    assert message_fields("Started server process [12]") == {}
    # %r-quoted values lose their quotes and may hold " key=" themselves
    assert message_fields("monitor.state_changed id=1 name='Fast \\'one\\'' old=pending message='a b=c' n=2") == {
        "event": "monitor.state_changed", "id": 1, "name": "Fast 'one'", "old": "pending", "message_": "a b=c",
        "n": 2}


def test_text_lines_carry_the_request_id(captured: io.StringIO):
    stream = io.StringIO()
    configure_logging("text", stream=stream)
    token = request_id.set("rid-1")
    try:
        log.info("test.text a=1")
    finally:
        request_id.reset(token)
    log.info("test.text b=2")
    first, second = stream.getvalue().splitlines()
    assert first.endswith("INFO tests.observability test.text a=1 request_id=rid-1")
    assert second.endswith("test.text b=2")
    assert len(logging.getLogger().handlers) == 1  # configuring again replaced the handler


def test_an_unknown_format_is_refused():
    with pytest.raises(ValueError, match="text, json"):
        configure_logging("yaml")


# -- request ids ------------------------------------------------------------------------------------------------


async def test_a_sane_request_id_is_echoed():
    response = await _get({"X-Request-ID": "req_42-a.b"})
    assert response.headers.get_list("x-request-id") == ["req_42-a.b"]  # once, replacing the app's own
    assert response.text == "req_42-a.b"  # request.state.request_id
    long = "a" * 64
    assert (await _get({"X-Request-ID": long})).headers["x-request-id"] == long


async def test_a_missing_request_id_is_generated_and_differs_per_request():
    first, second = await _get(), await _get()
    for response in (first, second):
        rid = response.headers["x-request-id"]
        assert len(rid) == 32 and all(c in "0123456789abcdef" for c in rid)
        assert response.text == rid
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


@pytest.mark.parametrize("junk", ["a" * 65, "has space", "semi;colon", "quote\"", "ünïcode", "new\\nline", "", "a/b"])
async def test_junk_request_ids_are_replaced(junk: str):
    response = await _get({"X-Request-ID": junk.encode("utf-8")})  # type: ignore[dict-item]
    rid = response.headers["x-request-id"]
    assert rid != junk and len(rid) == 32


async def test_the_request_id_does_not_outlive_the_request():
    await _get({"X-Request-ID": "short-lived"})
    assert request_id.get() is None


async def test_other_scopes_pass_through():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["type"])

    await RequestIdMiddleware(app)({"type": "lifespan"}, None, None)
    assert seen == ["lifespan"]


# -- health ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def parts_on(beacon_sqlite: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The runtime on SQLite, as if the scheduler and the outbox were turned on (each test drives them)."""
    on = replace(beacon_sqlite, monitors=True, notifications=True)
    monkeypatch.setattr(runtime.state, "settings", on)
    return on


async def test_healthy_with_the_parts_off(beacon_sqlite: Settings):
    assert await health() == (200, {"status": "ok", "checks": {"database": "ok", "scheduler": "off",
                                                               "outbox": "off"}})


async def test_unhealthy_naming_the_database_when_it_is_closed(beacon_sqlite: Settings):
    from storage.db import close_database, open_database

    await close_database()
    try:
        code, body = await health()
    finally:
        await open_database(beacon_sqlite.effective_database_url)
    assert code == 503 and body["status"] == "unhealthy"
    assert body["checks"]["database"] != "ok" and body["checks"]["scheduler"] == "off"
    assert await health() == (200, {"status": "ok", "checks": {"database": "ok", "scheduler": "off",
                                                               "outbox": "off"}})


async def test_the_outbox_healthy_then_its_loop_dead(parts_on: Settings, monkeypatch: pytest.MonkeyPatch):
    from app.notify.outbox import outbox

    monkeypatch.setattr(observability, "_scheduler", lambda enabled: "ok")
    outbox.start()
    try:
        assert await health() == (200, {"status": "ok", "checks": {"database": "ok", "scheduler": "ok",
                                                                   "outbox": "ok"}})
    finally:
        await outbox.stop()

    async def crash() -> None:
        raise RuntimeError("the loop fell over")

    dead = asyncio.get_running_loop().create_task(crash())
    await asyncio.gather(dead, return_exceptions=True)
    monkeypatch.setattr(outbox, "running", True)
    monkeypatch.setattr(outbox, "_loop", dead)
    code, body = await health()
    assert code == 503 and body["status"] == "unhealthy"
    assert body["checks"] == {"database": "ok", "scheduler": "ok",
                              "outbox": "loop died: RuntimeError: the loop fell over"}

    monkeypatch.setattr(outbox, "running", False)
    assert (await health())[1]["checks"]["outbox"] == "not running"


async def test_the_outbox_unhealthy_when_an_event_waits_over_five_minutes(parts_on: Settings,
                                                                          monkeypatch: pytest.MonkeyPatch):
    from app.notify.outbox import outbox
    from storage.models import OutboxEvent

    monkeypatch.setattr(observability, "_scheduler", lambda enabled: "ok")
    alive = asyncio.get_running_loop().create_task(asyncio.sleep(3600))  # a loop that dispatches nothing
    monkeypatch.setattr(outbox, "running", True)
    monkeypatch.setattr(outbox, "_loop", alive)
    try:
        row = await OutboxEvent.create(name="incident.created", at=datetime.now(UTC) - timedelta(minutes=1))
        assert (await health())[0] == 200
        await OutboxEvent.filter(id=row.id).update(at=datetime.now(UTC) - timedelta(minutes=10))
        code, body = await health()
        assert code == 503 and body["checks"]["outbox"].startswith("oldest undispatched event 600 s old")
        await OutboxEvent.filter(id=row.id).update(dispatched_at=datetime.now(UTC))
        assert (await health())[0] == 200
    finally:
        alive.cancel()


async def test_the_scheduler_healthy_lagging_and_dead(parts_on: Settings, monkeypatch: pytest.MonkeyPatch):
    from app.services.monitor_engine import engine
    from monitors.scheduler import Scheduler

    monkeypatch.setattr(observability, "_outbox", _ok)
    assert (await health())[1]["checks"]["scheduler"] == "not running"

    scheduler = Scheduler(lambda *_: None)
    scheduler.start()
    monkeypatch.setattr(engine, "scheduler", scheduler)
    monkeypatch.setattr(engine, "running", True)
    try:
        for _ in range(200):
            scheduler.lag.add(0.2)
        assert await health() == (200, {"status": "ok", "checks": {"database": "ok", "scheduler": "ok",
                                                                   "outbox": "ok"}})
        for _ in range(20):  # 10 % of recent starts were 2 minutes late: p99 is over 60 s
            scheduler.lag.add(120.0)
        code, body = await health()
        assert code == 503 and body["checks"]["scheduler"] == "check start lag 120 s (over 60 s)"
        for _ in range(observability.LAG_SAMPLES):  # recovered: only recent starts count
            scheduler.lag.add(0.1)
        assert (await health())[0] == 200
        # a check due 2 minutes ago still waiting for a free slot has no sample, and counts as well
        job = scheduler.put(1, 300, _never, first_in=3600)
        job.running, job.next_due = True, scheduler.clock() - 120
        assert (await health())[1]["checks"]["scheduler"].startswith("check start lag 120 s")
        job.running = False

        scheduler._loop_task.cancel()
        await asyncio.gather(scheduler._loop_task, return_exceptions=True)
        code, body = await health()
        assert code == 503 and body["checks"]["scheduler"] == "loop cancelled"
    finally:
        await scheduler.stop()


async def _ok(enabled: bool, database_ok: bool) -> str:
    return "ok"


async def _never():
    await asyncio.sleep(3600)

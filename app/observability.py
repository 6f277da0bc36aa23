"""Logs, request ids and the health check (docs/deploy.md, "Logs, request ids and health checks").

- ``configure_logging("text"|"json")``: one handler on the root logger, on stderr. ``json`` writes one object per
  line: ``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message`` (rendered), ``request_id`` inside a request,
  the ``extra=`` fields of the call, the ``key=value`` pairs of the message (the project logs
  ``log.info("outbox.delivery_failed delivery=%s ...")``) and ``event``, the message's first word.
- ``RequestIdMiddleware``: every HTTP request (and websocket) gets an id, the client's ``X-Request-ID`` when it is
  a sane token, else a new one; it is in ``request_id`` (a contextvar) while the request runs, so every log line
  carries it, and goes back in the response's ``X-Request-ID`` header.
- ``health()``: the database, the monitor scheduler and the outbox worker, for ``GET /healthz``.
"""

from __future__ import annotations

import ast
import asyncio
import itertools
import json
import logging
import re
import sys
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

LOG_FORMATS = ("text", "json")
HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("latin-1")
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")

# health thresholds
SCHEDULER_LAG_SECONDS = 60.0  # p99 of recent check start lags (due → started) above this is unhealthy
LAG_SAMPLES = 1000  # the most recent starts the p99 is taken over, so a past hiccup does not stick for ever
OUTBOX_BACKLOG_SECONDS = 300.0  # the oldest undispatched outbox event older than this is unhealthy
DATABASE_PING_SECONDS = 3.0

# -- logs ---------------------------------------------------------------------------------------------------------

# attributes every LogRecord has; anything else on a record came from ``extra=``
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime",
                                                                                     "taskName"}
_RESERVED = frozenset({"time", "level", "logger", "message", "request_id", "event", "exc_info", "stack_info"})
# "word key=value key2=some value name='a b'": a value is quoted (as %r writes it) or runs to the next " key=" (so
# it may hold spaces); keys are identifiers
_PAIR = re.compile(r"""(?:^|\s)([A-Za-z_][A-Za-z0-9_.]*)=('(?:[^'\\]|\\.)*'(?=\s|$)|"(?:[^"\\]|\\.)*"(?=\s|$)|.*?)"""
                   r"(?=\s+[A-Za-z_][A-Za-z0-9_.]*=|\s*$)", re.S)
_EVENT = re.compile(r"[a-z_][a-z0-9_]*(?:\.[a-z0-9_]+)+")
_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+")


def _value(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text[1:-1]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return {"True": True, "False": False, "None": None}.get(text, text)


def message_fields(message: str) -> dict[str, Any]:
    """``"outbox.delivery_failed delivery=41 dead=False error=No answer"`` →
    ``{"event": "outbox.delivery_failed", "delivery": 41, "dead": False, "error": "No answer"}``. A key that is
    a field of every line already (``message``, ``level``, ``time``, ...) gets a ``_`` appended."""
    fields: dict[str, Any] = {}
    head = message.split(" ", 1)[0]
    if _EVENT.fullmatch(head):
        fields["event"] = head
    if "=" in message:
        for key, value in _PAIR.findall(message):
            key = f"{key}_" if key in _RESERVED else key  # message=… must not replace the message
            if key not in fields:
                fields[key] = _value(value)
    return fields


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        rid = getattr(record, "request_id", None) or request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in entry and not key.startswith("_"):
                entry[key] = _jsonable(value)
        try:
            for key, value in message_fields(message).items():
                entry.setdefault(key, value)
        except Exception:  # a log line must never fail because of its parsing
            pass
        if record.exc_info:
            entry["exc_info"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            entry["exc_info"] = record.exc_text
        if record.stack_info:
            entry["stack_info"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """The usual ``time level logger message`` line, with `` request_id=…`` appended inside a request."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None) or request_id.get()
        if not rid:
            return line
        first, newline, rest = line.partition("\n")  # after the message, before a traceback
        return f"{first} request_id={rid}{newline}{rest}"


class _Handler(logging.StreamHandler):
    """Ours, so that configuring again replaces it rather than adding a second one."""


def configure_logging(fmt: str = "text", level: int = logging.INFO, stream: Any = None) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) as text or JSON lines; replaces the root logger's handlers
    (``logging.basicConfig`` of the CLI included). Returns the handler."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}, not {fmt!r}")
    handler = _Handler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if isinstance(old, _Handler):
            old.close()
    root.addHandler(handler)
    root.setLevel(level)
    return handler


# -- request ids --------------------------------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def sane_request_id(value: str | None) -> str | None:
    """The client's id when it is at most 64 characters of ``[A-Za-z0-9._-]``, else None."""
    return value if value and _SANE_ID.fullmatch(value) else None


def new_request_id() -> str:
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware: streams and SSE pass through untouched). Add it last, so that it is the
    outermost user middleware: ``outer.add_middleware(RequestIdMiddleware)``."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = None
        for key, value in scope.get("headers") or ():
            if key.lower() == _HEADER_KEY:
                given = value.decode("latin-1")
                break
        rid = sane_request_id(given) or new_request_id()
        scope.setdefault("state", {})["request_id"] = rid  # request.state.request_id
        header = (_HEADER_KEY, rid.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = [(k, v) for k, v in message.get("headers") or () if k.lower() != _HEADER_KEY]
                headers.append(header)
                message["headers"] = headers
            await send(message)

        token = request_id.set(rid)
        # on an exception the id stays set: the server's "Exception in ASGI application" line, logged in the same
        # task right after, carries it too (each request runs in a task of its own, so it goes no further)
        await self.app(scope, receive, send_with_id)
        request_id.reset(token)


# -- health -------------------------------------------------------------------------------------------------------


async def _database() -> str:
    from storage.db import ping

    try:
        async with asyncio.timeout(DATABASE_PING_SECONDS):
            return "ok" if await ping() else "unreachable"
    except TimeoutError:
        return f"no answer within {DATABASE_PING_SECONDS:g} s"


def _loop_problem(task: asyncio.Task | None) -> str | None:
    if task is None:
        return "loop not running"
    if task.done():
        if task.cancelled():
            return "loop cancelled"
        error = task.exception()
        return f"loop died: {type(error).__name__}: {error}"[:200] if error else "loop ended"
    return None


def _scheduler(enabled: bool) -> str:
    if not enabled:
        return "off"
    from app.services.monitor_engine import engine

    scheduler = engine.scheduler
    if not engine.running or scheduler is None:
        return "not running"
    problem = _loop_problem(scheduler._loop_task)
    if problem:
        return problem
    recent = sorted(itertools.islice(reversed(scheduler.lag.samples), LAG_SAMPLES))
    p99 = recent[min(len(recent) - 1, int(0.99 * len(recent)))] if recent else 0.0
    # checks due but still waiting for a free slot have no lag sample yet: the oldest of them counts too
    now = scheduler.clock()
    waiting = [now - job.next_due for job in scheduler.jobs.values()
               if job.running and (job.last_started is None or job.last_started < job.next_due)]
    lag = max([p99, *waiting])
    if lag > SCHEDULER_LAG_SECONDS:
        return f"check start lag {lag:.0f} s (over {SCHEDULER_LAG_SECONDS:g} s)"
    return "ok"


async def _outbox(enabled: bool, database_ok: bool) -> str:
    if not enabled:
        return "off"
    from app.notify.outbox import outbox
    from storage.models import OutboxEvent

    if not outbox.running:
        return "not running"
    problem = _loop_problem(outbox._loop)
    if problem:
        return problem
    if not database_ok:  # the backlog cannot be read; the database check names the problem
        return "ok"
    try:
        oldest = await OutboxEvent.filter(dispatched_at=None).order_by("id").first().values_list("at", flat=True)
    except Exception as exc:  # the database check says what is wrong with the database
        return f"backlog unknown: {type(exc).__name__}"
    if oldest is not None:
        age = time.time() - oldest.timestamp()
        if age > OUTBOX_BACKLOG_SECONDS:
            return f"oldest undispatched event {age:.0f} s old (over {OUTBOX_BACKLOG_SECONDS:g} s)"
    return "ok"


async def health() -> tuple[int, dict[str, Any]]:
    """``(200, {"status": "ok", "checks": {...}})`` when every part is "ok" or "off", else ``(503, {"status":
    "unhealthy", "checks": {part: what is wrong}})``."""
    from app import config
    from app.runtime import state

    settings = state.settings or config.current()
    database = await _database()
    checks = {
        "database": database,
        "scheduler": _scheduler(settings.monitors),
        "outbox": await _outbox(settings.notifications, database == "ok"),
    }
    if all(value in ("ok", "off") for value in checks.values()):
        return 200, {"status": "ok", "checks": checks}
    return 503, {"status": "unhealthy", "checks": checks}

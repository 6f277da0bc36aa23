"""What every monitor kind is: a config schema and an async check from that config to a ``CheckResult``.

Checks know nothing of components, storage or the UI (ARCHITECTURE.md rule 3). A check never raises for a
failing target: it reports DOWN with a message a person can act on. ``monitors.runner`` enforces the timeout
by cancelling the check and turns anything a check lets escape into DOWN too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal, TypeVar


class Outcome(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class CheckResult:
    outcome: Outcome
    latency_ms: float | None = None  # None: the runner fills in the wall time the check took
    message: str = ""
    # facts worth keeping beside the outcome, e.g. {"cert_days_left": 41} (shown, and exported as metrics)
    details: Mapping[str, Any] = field(default_factory=dict)


def up(message: str = "", latency_ms: float | None = None, **details: Any) -> CheckResult:
    return CheckResult(Outcome.UP, latency_ms, message, details)


def degraded(message: str, latency_ms: float | None = None, **details: Any) -> CheckResult:
    return CheckResult(Outcome.DEGRADED, latency_ms, message, details)


def down(message: str, latency_ms: float | None = None, **details: Any) -> CheckResult:
    return CheckResult(Outcome.DOWN, latency_ms, message, details)


FieldType = Literal["str", "text", "secret", "int", "float", "bool", "choice", "list", "map", "json"]


@dataclass(frozen=True, slots=True)
class Field:
    """One setting of a kind. Types: str (one line), text (several lines), secret (never shown back),
    int, float, bool, choice (one of ``choices``), list (of strings; one per line in the UI),
    map (string → string; "Name: value" lines in the UI), json (any JSON value)."""

    name: str
    label: str
    type: FieldType = "str"
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    help: str = ""
    min: float | None = None
    max: float | None = None
    placeholder: str = ""


CheckFn = Callable[[Mapping[str, Any], float], Awaitable[CheckResult]]
# Cross-field rules after each field is valid on its own: returns {field name: message}, empty when fine.
ValidateFn = Callable[[Mapping[str, Any]], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Kind:
    name: str  # the stable identifier stored with each monitor, e.g. "http", "json-query"
    label: str  # shown in the UI, e.g. "JSON query"
    family: str  # the module it lives in: http, network, dns, databases, queues, infra, mail, script, push
    library: str  # what it speaks with, for docs/monitors.md, e.g. "httpx", "dnspython"
    summary: str  # one sentence: what UP, DEGRADED and DOWN mean for this kind
    fields: tuple[Field, ...]
    check: CheckFn
    validate: ValidateFn | None = None
    notes: str = ""  # more for docs/monitors.md: what to watch out for, an example (Markdown)
    # kinds checked by the system rather than by reaching out (push, manual): the scheduler never calls them
    passive: bool = False


# Blocking client libraries run here, never on the event loop. Bounded so that checks stuck in a library
# that ignores its own timeout cannot take every thread of the process.
_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=16, thread_name_prefix="beacon-check")

T = TypeVar("T")


async def in_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking call off the loop. The caller's timeout still applies: cancelling the await returns at
    once (the thread finishes on its own, bounded by the socket timeout the check gave its library)."""
    return await asyncio.get_running_loop().run_in_executor(_EXECUTOR, fn, *args)

"""Shared pieces of the monitor-kind tests: run a kind through the real runner, as the scheduler does. (The hung and
closed ports are fixtures of tests/conftest.py.)"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from typing import Any

from monitors import registry, schema
from monitors.base import CheckResult
from monitors.runner import run_check


async def check(kind: str, config: Mapping[str, Any], timeout: float = 5.0,
                latency_threshold_ms: float | None = None) -> CheckResult:
    """Validate ``config`` as the UI and API do, then run the check as the scheduler does."""
    spec = registry.get(kind)
    return await run_check(spec, schema.validate(spec, config), timeout, latency_threshold_ms)


async def assert_times_out(kind: str, config: Mapping[str, Any], timeout: float = 1.0) -> CheckResult:
    """The issue's rule: a server that accepts and never answers gives DOWN with a timeout message within
    timeout + 1 s."""
    started = time.monotonic()
    result = await check(kind, config, timeout=timeout)
    elapsed = time.monotonic() - started
    assert result.outcome == "down", result
    assert "timed out" in result.message.lower() or "timeout" in result.message.lower(), result.message
    assert elapsed < timeout + 1.0, f"took {elapsed:.2f} s for a {timeout} s timeout"
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

"""Running one check: the timeout is always enforced by cancelling it, and nothing it raises escapes."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from monitors.base import CheckResult, Kind, Outcome, down

log = logging.getLogger(__name__)


def describe_error(exc: BaseException) -> str:
    """A short message for a failure: the exception's own words, or its type when it has none."""
    text = str(exc).strip()
    name = type(exc).__name__
    if not text:
        return name
    return text if len(text) <= 300 else text[:297] + "…"


async def run_check(kind: Kind, config: Mapping[str, Any], timeout: float,
                    latency_threshold_ms: float | None = None) -> CheckResult:
    """Run ``kind``'s check with ``config``. DOWN "Timed out after N s" when it overruns ``timeout``; DOWN with
    the error when it raises; DEGRADED when an UP result was slower than ``latency_threshold_ms``."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            result = await kind.check(config, timeout)
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s", latency_ms=(time.perf_counter() - started) * 1000)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # a check must not take the scheduler with it
        log.debug("check.raised kind=%s", kind.name, exc_info=True)
        return down(describe_error(exc), latency_ms=(time.perf_counter() - started) * 1000)
    if result.latency_ms is None:
        result = replace(result, latency_ms=(time.perf_counter() - started) * 1000)
    if (result.outcome is Outcome.UP and latency_threshold_ms is not None and result.latency_ms is not None
            and result.latency_ms > latency_threshold_ms):
        note = f"slow: {result.latency_ms:.0f} ms > {latency_threshold_ms:g} ms"
        result = replace(result, outcome=Outcome.DEGRADED,
                         message=f"{result.message} ({note})" if result.message else note.capitalize())
    return result

"""What every check is: an async function from a config to a CheckResult."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class Outcome(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class CheckResult:
    outcome: Outcome
    latency_ms: float | None = None
    message: str = ""


class Check(Protocol):
    """A monitor kind. ``timeout`` is seconds; a check never raises for a failing target, it reports DOWN."""

    kind: str

    async def __call__(self, config: Mapping[str, Any], timeout: float) -> CheckResult: ...

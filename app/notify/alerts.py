"""Pure breach logic of uptime alerts: which components to announce, and what to remember.

A component's uptime over a window is *breached* while it is below the threshold. An alert fires once, when a
breach starts; while the uptime stays below nothing more is sent, and only a reading at or above the threshold
re-arms it (once per breach). A reading without data (None: nothing counted over the window) changes nothing: it
never alerts, and it does not re-arm either. What was announced is remembered per (component, window, threshold)
under ``mark_key`` (a ``NoticeMark`` row, so that a restart does not announce a breach again).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_WINDOW, DEFAULT_THRESHOLD = "24h", 99.0
WINDOWS = ("24h", "7d")  # what a channel's ``uptime_window`` may say


def threshold_text(threshold: float) -> str:
    """99.9 → "99.9", 99.0 → "99": the threshold as it appears in keys."""
    return f"{float(threshold):g}"


def mark_key(component_id: int, window: str, threshold: float) -> str:
    return f"uptime:{component_id}:{window}:{threshold_text(threshold)}"


def rule_of(options: Mapping[str, Any] | None) -> tuple[str, float]:
    """A channel's (window, threshold) from its options, with the defaults for what is missing or invalid."""
    options = options or {}
    window = options.get("uptime_window")
    if window not in WINDOWS:
        window = DEFAULT_WINDOW
    raw = options.get("uptime_threshold")
    try:
        threshold = float(raw) if raw is not None and not isinstance(raw, bool) else DEFAULT_THRESHOLD
    except (TypeError, ValueError):
        threshold = DEFAULT_THRESHOLD
    if not 0 < threshold <= 100:
        threshold = DEFAULT_THRESHOLD
    return window, threshold


@dataclass(frozen=True, slots=True)
class Reading:
    """A component's uptime in % over ``window`` now (None: no data), checked against ``threshold``."""

    component_id: int
    window: str
    threshold: float
    uptime: float | None

    @property
    def key(self) -> str:
        return mark_key(self.component_id, self.window, self.threshold)

    @property
    def below(self) -> bool:
        return self.uptime is not None and self.uptime < self.threshold


@dataclass(frozen=True, slots=True)
class Mark:
    """A breach already announced: when it started and the uptime then."""

    breached_at: datetime
    uptime: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"breached_at": self.breached_at.isoformat(), "uptime": self.uptime}

    @classmethod
    def from_json(cls, value: Any, at: datetime) -> Mark:
        """From a stored value; ``at`` (the row's time) stands in for a missing or unreadable moment."""
        value = value if isinstance(value, dict) else {}
        try:
            breached_at = datetime.fromisoformat(value["breached_at"])
        except (KeyError, TypeError, ValueError):
            breached_at = at
        uptime = value.get("uptime")
        return cls(breached_at, float(uptime) if isinstance(uptime, int | float) else None)


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert to send: ``reading`` dropped below its threshold at ``breached_at``."""

    reading: Reading
    breached_at: datetime

    @property
    def component_id(self) -> int:
        return self.reading.component_id

    @property
    def uptime(self) -> float:
        assert self.reading.uptime is not None
        return self.reading.uptime


@dataclass(slots=True)
class Decision:
    """What to send, and how the marks change: rows to write (key → Mark) and keys to delete (re-armed)."""

    alerts: list[Alert] = field(default_factory=list)
    set_marks: dict[str, Mark] = field(default_factory=dict)
    clear_marks: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.alerts or self.set_marks or self.clear_marks)


def decide(readings: Iterable[Reading], marks: Mapping[str, Mark], now: datetime) -> Decision:
    """The alerts to send for ``readings`` given the breaches already announced (``marks``, by ``mark_key``)."""
    out = Decision()
    for reading in readings:
        if reading.uptime is None:
            continue
        announced = reading.key in marks
        if reading.below and not announced:
            out.alerts.append(Alert(reading, now))
            out.set_marks[reading.key] = Mark(now, reading.uptime)
        elif not reading.below and announced:
            out.clear_marks.append(reading.key)
    return out

"""Custom metrics as numbers and pictures, pure: bucketing points for a range, and the SVG line chart the public
page shows (an image, so that it needs no script and caches like any file)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape

# range → (length, bucket): a day in 5-minute buckets, a week hourly, a month in 6-hour buckets
RANGES: dict[str, tuple[timedelta, timedelta]] = {
    "day": (timedelta(days=1), timedelta(minutes=5)),
    "week": (timedelta(days=7), timedelta(hours=1)),
    "month": (timedelta(days=30), timedelta(hours=6)),
}
AGGREGATIONS = ("avg", "sum", "max")


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    value: float


def bucketed(points: Iterable[tuple[datetime, float]], *, since: datetime, step: timedelta, how: str
             ) -> list[Bucket]:
    """Points folded into buckets of ``step`` from ``since`` (empty buckets left out), oldest first."""
    sums: dict[int, list[float]] = {}
    for at, value in points:
        if at < since:
            continue
        index = int((at - since) / step)
        sums.setdefault(index, []).append(value)
    combine = {"avg": lambda v: sum(v) / len(v), "sum": sum, "max": max}[how]
    return [Bucket(since + index * step, float(combine(values))) for index, values in sorted(sums.items())]


def format_value(value: float, decimals: int, suffix: str) -> str:
    text = f"{value:,.{decimals}f}"
    return f"{text} {suffix}".rstrip() if suffix and not suffix.startswith("%") else f"{text}{suffix}"


def chart_svg(buckets: Sequence[Bucket], *, title: str, since: datetime, until: datetime, decimals: int = 0,
              suffix: str = "", width: int = 640, height: int = 140) -> str:
    """A line chart of the buckets over [since, until], with the latest, lowest and highest values written out.
    Colours follow the reader's light or dark scheme."""
    e = escape
    pad_left, pad_right, pad_top, pad_bottom = 8, 8, 28, 20
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    latest = format_value(buckets[-1].value, decimals, suffix) if buckets else "No data"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{e(title)}: {e(latest)}">',
        f"<title>{e(title)}: {e(latest)}</title>",
        "<style>text{font:12px system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;fill:#59636e}"
        ".v{font-weight:600;fill:#1f2328}.l{fill:none;stroke:#2563eb;stroke-width:2}.g{stroke:#d1d9e0}"
        "@media (prefers-color-scheme:dark){text{fill:#9198a1}.v{fill:#e6edf3}.l{stroke:#4493f8}.g{stroke:#30363d}}"
        "</style>",
        f'<text class="v" x="{pad_left}" y="16">{e(latest)}</text>',
        f'<line class="g" x1="{pad_left}" y1="{pad_top + inner_h}" x2="{width - pad_right}" y2="{pad_top + inner_h}"/>',
    ]
    if buckets:
        values = [b.value for b in buckets]
        low, high = min(values), max(values)
        spread = high - low or (abs(high) or 1.0)
        span = (until - since).total_seconds() or 1.0

        def x(at: datetime) -> float:
            return pad_left + inner_w * min(max((at - since).total_seconds() / span, 0.0), 1.0)

        def y(value: float) -> float:
            return pad_top + inner_h * (1 - (value - low) / spread) if high != low else pad_top + inner_h / 2

        coords = " ".join(f"{x(b.start):.1f},{y(b.value):.1f}" for b in buckets if math.isfinite(b.value))
        parts.append(f'<polyline class="l" points="{coords}"/>')
        summary = f"low {format_value(low, decimals, suffix)} · high {format_value(high, decimals, suffix)}"
        parts.append(f'<text x="{width - pad_right}" y="16" text-anchor="end">{e(summary)}</text>')
    short = width < 480  # a phone's chart: the times without the date
    parts.append(f'<text x="{pad_left}" y="{height - 4}">{e(_label(since, short))}</text>')
    parts.append(f'<text x="{width - pad_right}" y="{height - 4}" text-anchor="end">{e(_label(until, short))}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _label(moment: datetime, short: bool = False) -> str:
    return moment.astimezone(UTC).strftime("%H:%M UTC" if short else "%d %b %H:%M UTC")

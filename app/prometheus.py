"""A tiny writer for the Prometheus text exposition format, version 0.0.4 — pure, no I/O, no client library.

A ``Metric`` is one family (name, help, type) with its samples; ``render(metrics)`` is the body a scraper reads::

    up = Metric("beacon_up", "Whether Beacon answers.")
    up.add(1)
    render([up])  # '# HELP beacon_up Whether Beacon answers.\\n# TYPE beacon_up gauge\\nbeacon_up 1\\n'

Names are sanitised (anything outside ``[a-zA-Z0-9_:]`` becomes ``_``, a leading digit gets a ``_`` before it),
label values escaped (``\\``, ``"``, newline), and values written exactly: integers as integers, floats with
``repr`` precision, infinities as ``+Inf``/``-Inf`` and not-a-number as ``NaN``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TYPES = ("gauge", "counter", "untyped", "summary", "histogram")

_INVALID_NAME = re.compile(r"[^a-zA-Z0-9_:]")
_INVALID_LABEL = re.compile(r"[^a-zA-Z0-9_]")


def metric_name(name: str) -> str:
    """``name`` made a valid metric name: ``[a-zA-Z_:][a-zA-Z0-9_:]*``."""
    out = _INVALID_NAME.sub("_", name) or "_"
    return f"_{out}" if out[0].isdigit() else out


@lru_cache(maxsize=1024)
def label_name(name: str) -> str:
    """``name`` made a valid label name: ``[a-zA-Z_][a-zA-Z0-9_]*`` (no colons; ``__`` is reserved, so a
    leading double underscore is cut to one)."""
    out = _INVALID_LABEL.sub("_", name) or "_"
    out = f"_{out}" if out[0].isdigit() else out
    return "_" + out.lstrip("_") if out.startswith("__") else out


def escape_label_value(value: str) -> str:
    if "\\" not in value and '"' not in value and "\n" not in value:
        return value
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def format_value(value: float | int | bool) -> str:
    """Integers (and bools) as integers; floats as ``repr`` gives them (shortest exact form); ``+Inf``, ``-Inf``,
    ``NaN``."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def format_labels(labels: Mapping[str, object]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{label_name(k)}="{escape_label_value("" if v is None else str(v))}"'
                     for k, v in labels.items())
    return "{" + inner + "}"


@dataclass(slots=True)
class Metric:
    """One metric family and its samples, in the order they were added."""

    name: str
    help: str
    type: str = "gauge"
    samples: list[tuple[dict[str, object], float | int | bool]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"unknown metric type {self.type!r}")
        self.name = metric_name(self.name)

    def add(self, value: float | int | bool, labels: Mapping[str, object] | None = None, **more: object) -> Metric:
        """One sample; labels as a mapping, keywords, or both. Returns the metric, for chaining."""
        self.samples.append(({**(labels or {}), **more}, value))
        return self


def render(metrics: Iterable[Metric]) -> str:
    """The exposition body: each family's HELP and TYPE lines, then its samples. Families without samples keep
    their HELP and TYPE lines, so what can be scraped is visible even when there is nothing to report yet."""
    lines: list[str] = []
    for metric in metrics:
        lines.append(f"# HELP {metric.name} {escape_help(metric.help)}")
        lines.append(f"# TYPE {metric.name} {metric.type}")
        for labels, value in metric.samples:
            lines.append(f"{metric.name}{format_labels(labels)} {format_value(value)}")
    return "\n".join(lines) + "\n" if lines else ""

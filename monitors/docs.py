"""docs/monitors.md, generated from the registry: every kind's summary, library, settings and notes, so that the
page cannot drift from the code (``python main.py docs monitors``; tests/monitors/test_docs.py checks it)."""

from __future__ import annotations

import json
from pathlib import Path

from monitors import registry
from monitors.base import Field, Kind

PATH = Path(__file__).resolve().parents[1] / "docs" / "monitors.md"
FAMILY_TITLES = {"http": "Web", "network": "Network", "dns": "DNS", "databases": "Databases", "queues": "Queues",
                 "infra": "Infrastructure", "mail": "Mail", "script": "Scripts", "push": "Push and manual"}
TYPE_WORDS = {"str": "text", "text": "text (several lines)", "secret": "secret", "int": "whole number",
              "float": "number", "bool": "yes/no", "choice": "one of", "list": "list (one per line)",
              "map": '"Name: value" lines', "json": "JSON"}

INTRO = """# Monitors

A monitor checks one thing on a schedule and drives the status of the component it is linked to. This page
describes the engine, then every kind of check with its settings. The kinds' part is generated from the code
(`python main.py docs monitors`).

![A monitor's page in the admin: uptime over 24 hours to 90 days, and 90 days of response time with the days it
was down (red) or degraded (amber)](monitor-page.png)

## How monitors work

**Settings every monitor has** (admin screen *Monitors*, or `POST /api/v1/monitors`):

| Setting | API name | Default | Meaning |
|---|---|---|---|
| Interval | `interval` | 60 s | Time between checks, 5 s to 1 day. |
| Timeout | `timeout` | 10 s | A check still running after this is cancelled and counts as DOWN ("Timed out after N s"). At most the interval. |
| Retries | `retries` | 0 | Failed checks retried (after the retry interval) before the monitor is DOWN. Retried checks are recorded as *pending* and count as up. |
| Retry interval | `retry_interval` | 20 s | Time between retries. |
| Latency threshold | `latency_threshold_ms` | none | An UP answer slower than this counts as DEGRADED. |
| Down status | `down_status` | `MAJOR_OUTAGE` | What the component shows while the monitor is DOWN: `MAJOR_OUTAGE` or `PARTIAL_OUTAGE`. |
| Automatic incident | `auto_incident`, `auto_incident_after` | off, 3 | Open an incident after N consecutive failed checks, on every page showing the component, from a template if one is chosen (`{monitor}` and `{message}` are filled in). It is resolved with an update when the monitor recovers, unless someone resolved it already. |
| Flapping | `flap_changes`, `flap_minutes` | 5, 10 | More than this many state changes within this many minutes is *flapping*: the component is held at the worst status seen until the monitor has been stable for the window, so it does not blink on the page and notifies once. |
| Paused | `paused` | no | A paused monitor runs no checks, records nothing and holds nothing. |

**Component status.** A DOWN monitor holds its component at its down status, a DEGRADED one at DEGRADED, and
an UP one holds nothing. What people declared stands over what a check found: while an open incident or a
maintenance in progress holds the component, the monitor does not change it. When several monitors watch one
component, the worst of them counts.

**Scheduling.** Start times are spread over the first interval, so a thousand monitors do not fire together, and
each keeps its slot afterwards. At most `BEACON_MONITOR_CONCURRENCY` checks (default 100) run at once. One check
hanging or failing delays no other. Blocking client libraries run in a thread. After a restart, each monitor
resumes where it was (its state, failure count and rhythm are stored).

**History.** Every check is counted in minute, hour and day rollups (up, down, degraded, in maintenance, and
the response time's sum, minimum and maximum), written in batches every 5 seconds. A batch commits together
with its heartbeats, so a crash loses at most 5 seconds of checks and never counts one twice. Uptime for
24 h and 7 d comes from the hour rollups, 30 d and 90 d from the day rollups; the public 90-day bars from the
components' daily rows, computed from the day rollups. Checks made while the component is in maintenance
count as maintenance and are left out of uptime. Raw heartbeats (status, response time, message) are kept for
`BEACON_HEARTBEAT_RETENTION_DAYS` (30): every failure, every change, and one steady check every 10 minutes.
Minute rollups are kept 2 days, hour rollups 90 days, day rollups for ever. A daily job prunes the rest.

**Test now and check now.** *Test now* runs a check with the settings on the form, before they are saved, and
records nothing. *Check now* runs a saved monitor at once and records the result like any other.

## Kinds

| Kind | Name in the API | Library |
|---|---|---|
"""


def _field_row(f: Field) -> str:
    kind = TYPE_WORDS[f.type] + (": " + ", ".join(f"`{c}`" for c in f.choices) if f.choices else "")
    if f.min is not None or f.max is not None:
        kind += f" ({f.min:g} – {f.max:g})" if f.min is not None and f.max is not None else ""
    default = "" if f.default is None else f"`{json.dumps(f.default)}`"
    required = "yes" if f.required else ""
    text = (f.help or "").replace("|", "\\\\|").replace("\n", " ")
    return f"| `{f.name}` | {f.label} | {kind} | {required} | {default} | {text} |"


def _kind_section(k: Kind) -> str:
    lines = [f"### {k.label} (`{k.name}`)", "", k.summary, "", f"Library: {k.library}.", ""]
    if k.fields:
        lines += ["| Setting | Label | Type | Required | Default | Meaning |", "|---|---|---|---|---|---|"]
        lines += [_field_row(f) for f in k.fields]
        lines.append("")
    if k.notes:
        lines += [k.notes.strip(), ""]
    return "\n".join(lines)


def render() -> str:
    kinds = sorted(registry.load().values(), key=lambda k: (list(FAMILY_TITLES).index(k.family), k.name))
    out = [INTRO.rstrip("\n")]
    out += [f"| [{k.label}](#{_anchor(k)}) | `{k.name}` | {k.library} |" for k in kinds]
    out.append(f"\nThat is {len(kinds)} kinds. The `script` kind runs commands on the Beacon server and is off "
               "unless the operator sets `BEACON_SCRIPT_MONITORS=on`.\n")
    for family, title in FAMILY_TITLES.items():
        members = [k for k in kinds if k.family == family]
        if members:
            out.append(f"## {title}\n")
            out += [_kind_section(k) for k in members]
    return "\n".join(out).rstrip("\n") + "\n"


def _anchor(k: Kind) -> str:
    text = f"{k.label} ({k.name})".lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")


def write(path: Path = PATH) -> Path:
    path.write_text(render(), encoding="utf-8")
    return path

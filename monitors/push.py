"""Kinds with no target to reach: ``push`` (the monitored thing calls us) and ``manual`` (a person says)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from monitors.base import CheckResult, Field, Kind, Outcome, down
from monitors.registry import register


async def _push(config: Mapping[str, Any], timeout: float) -> CheckResult:
    # Never called by the scheduler (the engine judges silence itself); "Test now" lands here.
    return down("A push monitor is not checked by Beacon: it waits for calls to its push URL")


register(Kind(
    name="push", label="Push (heartbeat URL)", family="push", library="none (Beacon's own /api/push/{token})",
    summary="UP while the monitored job calls its push URL at least once per interval; DOWN when it has been "
            "silent for 1.5 × the interval, or when it reports `status=down`.",
    fields=(),
    check=_push, passive=True,
    notes="""Each push monitor gets a secret URL, shown on its page: `/api/push/{token}`. Call it (GET or POST)
from a cron job, a backup script or a worker's main loop:

```sh
curl -fsS "https://status.example.com/api/push/3hT…Qx?status=up&msg=backup%20done&ping=412"
```

- `status`: `up` (default), `degraded` or `down`, for a job that knows it failed.
- `msg`: a short message shown with the heartbeat.
- `ping`: a duration in milliseconds, charted as the response time.

The interval is how often the job runs. Beacon allows half an interval of lateness before it calls the
monitor DOWN, then records DOWN once per interval until the next push.""",
))


async def _manual(config: Mapping[str, Any], timeout: float) -> CheckResult:
    outcome = Outcome(config.get("status", "up"))
    return CheckResult(outcome, 0.0, config.get("message") or f"Set by hand: {outcome.value}")


register(Kind(
    name="manual", label="Manual", family="push", library="none",
    summary="The status a person sets on the monitor; recorded every interval like a check, so that uptime "
            "reflects it.",
    fields=(Field("status", "Status", "choice", default="up", choices=("up", "degraded", "down")),
            Field("message", "Message", help="Shown with each recorded check, e.g. why it is down.")),
    check=_manual,
    notes="""For something Beacon cannot reach — a supplier's service, a phone line — whose state a person
knows. Edit the monitor and change **Status**; the component follows as it would for any monitor.

```json
{"status": "down", "message": "Card payments fail at the supplier"}
```""",
))

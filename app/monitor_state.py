"""Pure rules of what a monitor's result means: retries, state changes, flapping, and automatic incidents.

``step`` takes the monitor's state, its policy and one result, and returns the new state plus what should
happen (record a change, hold the component, open or resolve an incident). Nothing here touches storage.

States: ``pending`` (never confirmed yet, or every check so far failed and is being retried), ``up``,
``degraded``, ``down``. A failed check is retried ``retries`` times before the monitor is DOWN; while retried,
the monitor keeps its previous state and the check is recorded as "pending" (not counted as down).

Flapping: more than ``flap_changes`` state changes within ``flap_minutes``. While flapping, the component is
held at the worst status seen since flapping began instead of following every flip, and an automatic incident
stays open; once no change has happened for ``flap_minutes`` the monitor is stable again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from app.enums import ComponentStatus
from app.status import worst
from monitors.base import Outcome

CONFIRMED = ("up", "degraded", "down")


@dataclass(frozen=True, slots=True)
class Policy:
    retries: int = 0
    down_status: ComponentStatus = ComponentStatus.MAJOR_OUTAGE
    flap_changes: int = 5
    flap_minutes: int = 10
    auto_incident: bool = False
    auto_incident_after: int = 3


@dataclass(frozen=True, slots=True)
class State:
    state: str = "pending"
    consecutive_failures: int = 0
    held: ComponentStatus | None = None
    flapping: bool = False
    changes_at: tuple[float, ...] = ()  # epoch seconds of recent confirmed changes
    since: float | None = None


@dataclass(frozen=True, slots=True)
class Step:
    state: State
    recorded: str  # the heartbeat's status: up, degraded, down, or pending (a failure being retried)
    retry: bool = False  # run again after the retry interval rather than the interval
    change: tuple[str, str] | None = None  # (old, new) when the monitor's state changed
    flapping_started: bool = False
    flapping_stopped: bool = False
    open_incident: bool = False
    resolve_incident: bool = False
    notes: tuple[str, ...] = field(default=())


def holds_for(state: str, policy: Policy) -> ComponentStatus | None:
    """The component status a monitor in ``state`` holds its component at (None: it holds nothing)."""
    if state == "down":
        return policy.down_status
    if state == "degraded":
        return ComponentStatus.DEGRADED
    return None


def step(prev: State, outcome: Outcome, policy: Policy, now: float, *, in_maintenance: bool = False,
         has_incident: bool = False) -> Step:
    retry = False
    if outcome is Outcome.DOWN:
        failures = prev.consecutive_failures + 1
        if failures <= policy.retries and prev.state != "down":
            new_state, recorded, retry = prev.state, "pending", True
        else:
            new_state, recorded = "down", "down"
    else:
        failures = 0
        new_state = recorded = "up" if outcome is Outcome.UP else "degraded"

    change = (prev.state, new_state) if new_state != prev.state else None
    window = policy.flap_minutes * 60
    changes = tuple(t for t in prev.changes_at if now - t < window)
    if change and prev.state in CONFIRMED:  # the first confirmation after "pending" is not a flip
        changes += (now,)
    flapping = prev.flapping
    started = stopped = False
    if not flapping and len(changes) > policy.flap_changes:
        flapping = started = True
    elif flapping and not changes:
        flapping, stopped = False, True

    mapped = holds_for(new_state, policy)
    if recorded == "pending":
        held = prev.held
    elif flapping:
        held = worst(s for s in (prev.held, mapped) if s is not None) if (prev.held or mapped) else None
    else:
        held = mapped

    state = replace(prev, state=new_state, consecutive_failures=failures, held=held, flapping=flapping,
                    changes_at=changes, since=now if change else prev.since)
    failing = new_state == "down"
    open_incident = (policy.auto_incident and failing and failures >= policy.auto_incident_after
                     and not has_incident and not in_maintenance)
    resolve_incident = has_incident and new_state in ("up", "degraded") and not flapping
    return Step(state, recorded, retry, change, started, stopped, open_incident, resolve_incident)

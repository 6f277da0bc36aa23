"""Pure lifecycle rules: what a component shows given its holds, incident stage times, what a window is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.enums import ComponentStatus as S
from app.enums import IncidentStatus as I
from app.enums import MaintenanceState as M
from app.lifecycle import Due, Window, due, held_status, next_due_at, status_times

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("holds", "shown"), [
    ([], S.OPERATIONAL),
    ([S.MAINTENANCE], S.MAINTENANCE),
    ([S.MAINTENANCE, S.DEGRADED], S.DEGRADED),
    ([S.PARTIAL_OUTAGE, S.MAJOR_OUTAGE, S.DEGRADED], S.MAJOR_OUTAGE),
    ([S.OPERATIONAL, S.OPERATIONAL], S.OPERATIONAL),
])
def test_a_component_shows_the_worst_hold_and_operational_once_nothing_holds_it(holds, shown):
    assert held_status(holds) == shown


def test_each_stage_keeps_the_time_it_was_first_reached():
    times = status_times(I.IDENTIFIED, T0, {"identified_at": None, "monitoring_at": None, "resolved_at": None})
    later = status_times(I.MONITORING, T0 + timedelta(hours=1), times)
    back = status_times(I.IDENTIFIED, T0 + timedelta(hours=2), later)

    assert times["identified_at"] == T0
    assert later == {"identified_at": T0, "monitoring_at": T0 + timedelta(hours=1), "resolved_at": None}
    assert back["identified_at"] == T0  # going back does not rewrite history


def test_reopening_a_resolved_incident_clears_its_resolution_time():
    resolved = status_times(I.RESOLVED, T0, {})
    reopened = status_times(I.INVESTIGATING, T0 + timedelta(minutes=5), resolved)

    assert resolved["resolved_at"] == T0
    assert reopened["resolved_at"] is None


def window(state=M.SCHEDULED, start=T0, hours=2, remind=60, reminded=False) -> Window:
    return Window(1, state, start, start + timedelta(hours=hours), remind, reminded)


@pytest.mark.parametrize(("w", "now", "expected"), [
    (window(), T0 - timedelta(hours=2), None),
    (window(), T0 - timedelta(minutes=60), Due.REMIND),
    (window(reminded=True), T0 - timedelta(minutes=30), None),
    (window(remind=0), T0 - timedelta(minutes=1), None),
    (window(), T0, Due.START),
    (window(reminded=True), T0 + timedelta(minutes=1), Due.START),
    (window(state=M.IN_PROGRESS), T0 + timedelta(hours=1), None),
    (window(state=M.IN_PROGRESS), T0 + timedelta(hours=2), Due.COMPLETE),
    # the server was down over the whole window: it completes without ever having been due to start
    (window(), T0 + timedelta(hours=3), Due.COMPLETE),
    (window(state=M.COMPLETED), T0 + timedelta(hours=3), None),
])
def test_what_a_window_is_due_to_do(w, now, expected):
    assert due(w, now) == expected


def test_the_timer_wakes_at_the_next_reminder_start_or_end():
    windows = [window(), window(state=M.IN_PROGRESS, start=T0 - timedelta(hours=1), hours=1, remind=0)]

    assert next_due_at(windows, T0 - timedelta(hours=3)) == T0 - timedelta(hours=1)  # the reminder
    assert next_due_at(windows, T0 - timedelta(minutes=30)) == T0  # the running one's end and the start
    assert next_due_at(windows, T0 + timedelta(minutes=1)) == T0 + timedelta(hours=2)
    assert next_due_at([window(state=M.COMPLETED)], T0) is None

"""The history's pure core: incidents and maintenance merged newest first, grouped by month in the page's time
zone, cut into pages of 25."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app import history
from app.enums import IncidentImpact, IncidentStatus, MaintenanceState
from app.snapshot import IncidentView, MaintenanceView

BERLIN = ZoneInfo("Europe/Berlin")


def incident(id: int, started_at: datetime) -> IncidentView:
    return IncidentView(id=id, name=f"Incident {id}", status=IncidentStatus.RESOLVED, impact=IncidentImpact.MINOR,
                        pinned=False, backfilled=False, started_at=started_at, monitoring_at=None,
                        resolved_at=started_at + timedelta(hours=1), created_at=started_at, updated_at=started_at)


def maintenance(id: int, scheduled_for: datetime) -> MaintenanceView:
    return MaintenanceView(id=id, name=f"Maintenance {id}", body="", state=MaintenanceState.COMPLETED, time_zone="UTC",
                           scheduled_for=scheduled_for, scheduled_until=scheduled_for + timedelta(hours=2),
                           started_at=scheduled_for, completed_at=scheduled_for + timedelta(hours=2),
                           created_at=scheduled_for, updated_at=scheduled_for)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def test_an_incident_late_on_31_october_utc_is_filed_under_november_in_berlin():
    halloween_night = incident(1, at("2026-10-31T23:30:00+00:00"))  # 00:30 on 1 November in Berlin

    [berlin] = history.group_by_month([halloween_night], BERLIN)
    [utc] = history.group_by_month([halloween_night], UTC)

    assert berlin.label == "November 2026" and berlin.items == (halloween_night,)
    assert utc.label == "October 2026"


def test_the_first_hour_of_a_month_in_utc_can_still_be_the_previous_month_west_of_greenwich():
    new_year = incident(1, at("2027-01-01T03:00:00+00:00"))

    [month] = history.group_by_month([new_year], ZoneInfo("America/New_York"))

    assert month.label == "December 2026"


def test_incidents_and_maintenance_are_merged_newest_first():
    old = incident(1, at("2026-09-01T10:00:00+00:00"))
    window = maintenance(7, at("2026-10-15T02:00:00+00:00"))
    recent = incident(2, at("2026-11-20T08:00:00+00:00"))
    oldest_window = maintenance(8, at("2026-08-01T02:00:00+00:00"))

    merged = history.merge([old, recent], [window, oldest_window])

    assert [item.name for item in merged] == ["Incident 2", "Maintenance 7", "Incident 1", "Maintenance 8"]


def test_entries_at_the_same_moment_keep_one_order_so_that_pages_never_repeat_or_skip_one():
    moment = at("2026-11-20T08:00:00+00:00")
    items = [incident(3, moment), maintenance(3, moment), incident(9, moment), maintenance(1, moment)]

    first = history.merge(items[:2] + items[2:3], [items[3]])
    again = history.merge([items[2], items[0]], [items[3], items[1]])

    assert [(history.kind(i), i.id) for i in first] == [("incident", 9), ("incident", 3), ("maintenance", 3),
                                                          ("maintenance", 1)]
    assert first == again
    assert [history.ref(i) for i in first] == history.newest_first(history.ref(i) for i in reversed(first))


def test_months_are_headed_in_order_and_months_without_entries_get_no_heading():
    items = history.merge([incident(1, at("2026-11-03T10:00:00+00:00")), incident(2, at("2026-11-28T10:00:00+00:00")),
                           incident(3, at("2026-08-15T10:00:00+00:00"))],
                          [maintenance(4, at("2026-09-30T22:30:00+00:00"))])  # 1 October in Berlin

    months = history.group_by_month(items, BERLIN)

    assert [m.label for m in months] == ["November 2026", "October 2026", "August 2026"]
    assert [[i.id for i in m.items] for m in months] == [[2, 1], [4], [3]]


@pytest.mark.parametrize(("total", "number", "shown", "pages", "newer", "older"), [
    (0, 1, 0, 1, None, None),  # nothing yet: one empty page, not "past the end"
    (25, 1, 25, 1, None, None),
    (26, 1, 25, 2, None, 2),
    (26, 2, 1, 2, 1, None),
    (50, 2, 25, 2, 1, None),
    (51, 3, 1, 3, 2, None),
    (60, 2, 25, 3, 1, 3),
])
def test_pages_hold_25_entries_and_link_to_their_neighbours(total, number, shown, pages, newer, older):
    pagination, page = history.paginate(list(range(total)), number)

    assert len(page) == shown
    assert (pagination.pages, pagination.newer, pagination.older) == (pages, newer, older)
    assert not pagination.beyond_end


def test_a_page_past_the_end_is_empty_and_leads_back_to_the_last_page():
    pagination, page = history.paginate(list(range(60)), 7)

    assert list(page) == []
    assert pagination.beyond_end
    assert (pagination.newer, pagination.older) == (3, None)


@pytest.mark.parametrize("number", [0, -3])
def test_a_page_number_below_one_is_the_first_page(number):
    pagination, page = history.paginate(list(range(30)), number)

    assert pagination.number == 1 and list(page) == list(range(25))


def test_pages_follow_each_other_without_gaps_or_repeats():
    items = list(range(60))

    pages = [list(history.paginate(items, n)[1]) for n in (1, 2, 3)]

    assert [len(p) for p in pages] == [25, 25, 10]
    assert sum(pages, []) == items

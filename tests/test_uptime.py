"""Uptime maths behind the public uptime bars (pure, no database)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.enums import ComponentStatus
from app.uptime import Day, format_percent, window, window_latency_ms, window_percent

DAY = 86_400
TODAY = date(2026, 11, 23)


def test_downtime_lowers_the_day_and_maintenance_does_not_count_against_it():
    day = Day(TODAY, observed_seconds=DAY, down_seconds=864, maintenance_seconds=3_600)

    assert day.percent == pytest.approx(100 * (DAY - 864 - 3_600) / (DAY - 3_600))


def test_degraded_time_counts_as_up():
    day = Day(TODAY, observed_seconds=DAY, degraded_seconds=7_200, worst_status=ComponentStatus.DEGRADED)

    assert day.percent == 100
    assert day.bar_class == "degraded"


def test_a_day_without_a_rollup_has_no_data_rather_than_full_uptime():
    days = window({}, TODAY, 3)

    assert [d.has_data for d in days] == [False, False, False]
    assert [d.percent for d in days] == [None, None, None]
    assert {d.bar_class for d in days} == {"nodata"}
    assert window_percent(days) is None


def test_a_day_observed_for_zero_seconds_has_no_data():
    assert Day(TODAY, observed_seconds=0, worst_status=ComponentStatus.OPERATIONAL).bar_class == "nodata"


def test_a_day_spent_in_maintenance_has_no_uptime_figure_and_a_maintenance_bar():
    day = Day(TODAY, observed_seconds=DAY, maintenance_seconds=DAY, worst_status=ComponentStatus.MAINTENANCE)

    assert day.has_data and day.in_maintenance_all_day
    assert day.percent is None
    assert day.bar_class == "maintenance"


def test_window_ends_today_oldest_first_and_fills_missing_days():
    rows = {TODAY - timedelta(days=1): Day(TODAY - timedelta(days=1), observed_seconds=DAY)}

    days = window(rows, TODAY, 90)

    assert len(days) == 90
    assert days[0].day == TODAY - timedelta(days=89) and days[-1].day == TODAY
    assert [d.has_data for d in days[-3:]] == [False, True, False]


@pytest.mark.parametrize(("status", "css"), [
    (ComponentStatus.OPERATIONAL, "ok"), (ComponentStatus.DEGRADED, "degraded"),
    (ComponentStatus.PARTIAL_OUTAGE, "partial"), (ComponentStatus.MAJOR_OUTAGE, "major"),
    (ComponentStatus.MAINTENANCE, "maintenance"),
])
def test_bar_colour_follows_the_worst_state_of_the_day(status: ComponentStatus, css: str):
    assert Day(TODAY, observed_seconds=DAY, worst_status=status).bar_class == css


def test_window_uptime_weighs_each_day_by_the_time_that_counted():
    full_clean_day = Day(TODAY - timedelta(days=1), observed_seconds=DAY)
    half_day_ten_percent_down = Day(TODAY, observed_seconds=DAY // 2, down_seconds=DAY // 20)

    overall = window_percent([full_clean_day, half_day_ten_percent_down])

    assert overall == pytest.approx(100 * (DAY + DAY // 2 - DAY // 20) / (DAY + DAY // 2))
    assert overall != pytest.approx(95.0)  # not the mean of 100% and 90%


def test_window_uptime_skips_days_without_data():
    days = [Day(TODAY - timedelta(days=2)),
            Day(TODAY - timedelta(days=1), observed_seconds=DAY, down_seconds=DAY // 10)]

    assert window_percent(days) == pytest.approx(90.0)


def test_more_downtime_than_counted_time_is_zero_not_negative():
    assert Day(TODAY, observed_seconds=3_600, down_seconds=7_200).percent == 0


def test_average_response_time_weighs_days_by_observed_time_and_ignores_unmeasured_days():
    days = [Day(TODAY - timedelta(days=2), observed_seconds=DAY, avg_latency_ms=100.0),
            Day(TODAY - timedelta(days=1), observed_seconds=DAY // 2, avg_latency_ms=400.0),
            Day(TODAY, observed_seconds=DAY)]

    assert window_latency_ms(days) == pytest.approx(200.0)
    assert window_latency_ms([Day(TODAY)]) is None


@pytest.mark.parametrize(("value", "text"), [
    (100.0, "100%"), (99.999, "99.99%"), (99.95, "99.95%"), (99.9, "99.9%"), (97.0, "97%"), (0.0, "0%"),
    (None, ""),
])
def test_percentages_round_down_so_any_downtime_never_reads_100(value: float | None, text: str):
    assert format_percent(value) == text

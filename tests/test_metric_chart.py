"""Custom metric charts, pure: points folded into buckets by avg, sum or max; values written with their unit; the
SVG escapes names and shows "No data" when there is none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.metric_chart import Bucket, bucketed, chart_svg, format_value

T0 = datetime(2026, 11, 23, 12, tzinfo=UTC)
STEP = timedelta(minutes=5)


@pytest.mark.parametrize(("how", "expected"), [("avg", [2.0, 10.0]), ("sum", [6.0, 10.0]), ("max", [3.0, 10.0])])
def test_points_fold_into_buckets(how, expected):
    points = [(T0 + timedelta(minutes=1), 1.0), (T0 + timedelta(minutes=2), 2.0), (T0 + timedelta(minutes=4), 3.0),
              (T0 + timedelta(minutes=11), 10.0), (T0 - timedelta(minutes=1), 99.0)]  # the last is before the range
    buckets = bucketed(points, since=T0, step=STEP, how=how)
    assert [b.value for b in buckets] == expected
    assert [b.start for b in buckets] == [T0, T0 + 2 * STEP]  # the empty bucket between is left out


def test_values_carry_their_unit_and_decimals():
    assert format_value(1234.5, 1, "ms") == "1,234.5 ms"
    assert format_value(99.956, 2, "%") == "99.96%"
    assert format_value(3, 0, "") == "3"


def test_the_chart_escapes_the_name_and_says_when_there_is_no_data():
    empty = chart_svg([], title="<b>Queue</b>", since=T0, until=T0 + timedelta(days=1))
    assert "No data" in empty and "<b>" not in empty and "&lt;b&gt;Queue&lt;/b&gt;" in empty
    drawn = chart_svg([Bucket(T0, 5.0), Bucket(T0 + STEP, 7.5)], title="Queue", since=T0, until=T0 + 2 * STEP,
                      decimals=1, suffix="jobs")
    assert "7.5 jobs" in drawn and "low 5.0 jobs · high 7.5 jobs" in drawn and drawn.count("<polyline") == 1

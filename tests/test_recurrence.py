"""Recurring maintenance windows: parsing rules, finding the next start in a time zone, DST (pure, no I/O)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.recurrence import Rule, describe, next_start, occurrences, parse, to_dict


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def weekly(days: list[int], at: str, minutes: int = 60) -> Rule:
    return parse({"kind": "weekly", "days": days, "time": at, "duration_minutes": minutes})


def cron(expression: str, minutes: int = 60) -> Rule:
    return parse({"kind": "cron", "expression": expression, "duration_minutes": minutes})


# 2027-03-01 is a Monday.
MONDAY = utc(2027, 3, 1, 12, 0)
TUESDAY, THURSDAY, SATURDAY, SUNDAY = 1, 3, 5, 6


# --- weekly rules --------------------------------------------------------------------------------------------

def test_a_weekly_window_starts_on_the_next_matching_day():
    assert next_start(weekly([TUESDAY], "02:00"), MONDAY, "UTC") == utc(2027, 3, 2, 2, 0)


def test_a_weekly_rule_with_several_days_visits_each_in_order():
    starts = occurrences(weekly([THURSDAY, TUESDAY], "02:00"), MONDAY, "UTC", 4)

    assert starts == [utc(2027, 3, 2, 2), utc(2027, 3, 4, 2), utc(2027, 3, 9, 2), utc(2027, 3, 11, 2)]


def test_a_window_starting_exactly_at_after_is_not_returned_again():
    rule = weekly([TUESDAY], "02:00")

    assert next_start(rule, utc(2027, 3, 2, 2, 0), "UTC") == utc(2027, 3, 9, 2, 0)


def test_a_window_starting_just_after_after_is_found():
    rule = weekly([TUESDAY], "02:00")

    assert next_start(rule, utc(2027, 3, 2, 1, 59, 59, 999_999), "UTC") == utc(2027, 3, 2, 2, 0)


def test_a_window_later_the_same_day_is_found():
    assert next_start(weekly([0], "18:30"), MONDAY, "UTC") == utc(2027, 3, 1, 18, 30)


def test_wall_clock_times_are_read_in_the_page_time_zone_and_returned_in_utc():
    start = next_start(weekly([TUESDAY], "02:00"), MONDAY, "Asia/Tokyo")

    assert start == utc(2027, 3, 1, 17, 0)
    assert start.tzinfo is UTC


def test_after_in_any_offset_means_the_same_instant():
    rule = weekly([TUESDAY], "02:00")
    after = MONDAY.astimezone(timezone(timedelta(hours=-7, minutes=-30)))

    assert next_start(rule, after, "UTC") == next_start(rule, MONDAY, "UTC")


def test_a_time_zone_with_a_half_hour_offset_is_honoured():
    assert next_start(weekly([TUESDAY], "02:00"), MONDAY, "Asia/Kolkata") == utc(2027, 3, 1, 20, 30)


def test_after_without_a_time_zone_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        next_start(weekly([TUESDAY], "02:00"), datetime(2027, 3, 1), "UTC")


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../../etc/passwd", "europe/nowhere"])
def test_an_unknown_time_zone_is_named_in_the_error(zone):
    with pytest.raises(ValueError) as caught:
        next_start(weekly([TUESDAY], "02:00"), MONDAY, zone)

    assert str(caught.value) == f"Unknown time zone '{zone}'."


def test_occurrences_gives_as_many_as_asked_and_none_for_zero():
    rule = weekly([0, 1, 2, 3, 4, 5, 6], "00:00")

    assert len(occurrences(rule, MONDAY, "UTC", 10)) == 10
    assert occurrences(rule, MONDAY, "UTC", 0) == []


# --- cron rules -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("expression, after, expected", [
    ("*/15 * * * *", utc(2027, 3, 1, 10, 7),
     [utc(2027, 3, 1, 10, 15), utc(2027, 3, 1, 10, 30), utc(2027, 3, 1, 10, 45), utc(2027, 3, 1, 11, 0)]),
    ("10-40/10 3 * * *", utc(2027, 3, 1, 3, 20),
     [utc(2027, 3, 1, 3, 30), utc(2027, 3, 1, 3, 40), utc(2027, 3, 2, 3, 10), utc(2027, 3, 2, 3, 20)]),
    ("0 1-3 * * *", MONDAY, [utc(2027, 3, 2, 1), utc(2027, 3, 2, 2), utc(2027, 3, 2, 3), utc(2027, 3, 3, 1)]),
    ("30 2 1,15 * *", MONDAY, [utc(2027, 3, 15, 2, 30), utc(2027, 4, 1, 2, 30), utc(2027, 4, 15, 2, 30)]),
    ("0 9 * * MON-FRI", utc(2027, 3, 5, 10),
     [utc(2027, 3, 8, 9), utc(2027, 3, 9, 9), utc(2027, 3, 10, 9), utc(2027, 3, 11, 9), utc(2027, 3, 12, 9)]),
    ("0 9 * * 1-5/2", utc(2027, 3, 5, 10), [utc(2027, 3, 8, 9), utc(2027, 3, 10, 9), utc(2027, 3, 12, 9)]),
    ("0 0 1 jan,Jul *", MONDAY, [utc(2027, 7, 1), utc(2028, 1, 1), utc(2028, 7, 1)]),
    ("0 0 * dec sun", MONDAY, [utc(2027, 12, 5), utc(2027, 12, 12), utc(2027, 12, 19)]),
    ("0 0 31 * *", MONDAY, [utc(2027, 3, 31), utc(2027, 5, 31), utc(2027, 7, 31), utc(2027, 8, 31)]),
    ("0 0 29 2 *", MONDAY, [utc(2028, 2, 29), utc(2032, 2, 29)]),
    ("59 23 31 12 *", MONDAY, [utc(2027, 12, 31, 23, 59), utc(2028, 12, 31, 23, 59)]),
    ("0,30 12 * * *", MONDAY, [utc(2027, 3, 1, 12, 30), utc(2027, 3, 2, 12), utc(2027, 3, 2, 12, 30)]),
])
def test_cron_fields_select_the_expected_starts(expression, after, expected):
    assert occurrences(cron(expression), after, "UTC", len(expected)) == expected


@pytest.mark.parametrize("sunday", ["0", "7", "sun", "SUN", "Sun"])
def test_every_spelling_of_sunday_means_sunday(sunday):
    starts = occurrences(cron(f"0 12 * * {sunday}"), MONDAY, "UTC", 3)

    assert starts == [utc(2027, 3, 7, 12), utc(2027, 3, 14, 12), utc(2027, 3, 21, 12)]


def test_a_range_ending_in_7_reaches_sunday():
    assert occurrences(cron("0 12 * * 5-7"), MONDAY, "UTC", 3) == [
        utc(2027, 3, 5, 12), utc(2027, 3, 6, 12), utc(2027, 3, 7, 12)]


def test_when_both_day_fields_are_restricted_either_one_matching_is_enough():
    # The 13th of every month, and every Friday: Vixie cron's OR rule.
    starts = occurrences(cron("0 0 13 * 5"), MONDAY, "UTC", 5)

    assert starts == [utc(2027, 3, 5), utc(2027, 3, 12), utc(2027, 3, 13), utc(2027, 3, 19), utc(2027, 3, 26)]


def test_a_day_field_starting_with_a_star_still_narrows_the_other_one():
    # Vixie cron counts "*/2" as unrestricted, so this is Fridays that fall on an odd date.
    starts = occurrences(cron("0 0 */2 * FRI"), MONDAY, "UTC", 3)

    assert starts == [utc(2027, 3, 5), utc(2027, 3, 19), utc(2027, 4, 9)]


@pytest.mark.parametrize("expression", ["0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *", "* * 31 2 *"])
def test_a_rule_that_never_fires_has_no_next_start_and_answers_quickly(expression):
    began = time.perf_counter()

    assert next_start(cron(expression), MONDAY, "Europe/Berlin") is None
    assert occurrences(cron(expression), MONDAY, "Europe/Berlin", 3) == []
    assert time.perf_counter() - began < 2  # a minute-by-minute scan of five years takes far longer


def test_a_rule_every_minute_gives_each_minute_once():
    starts = occurrences(cron("* * * * *"), MONDAY, "UTC", 120)

    assert starts == [MONDAY + timedelta(minutes=n) for n in range(1, 121)]


def test_cron_accepts_extra_spaces_between_fields():
    assert to_dict(cron("  0   3 *  * 6 "))["expression"] == "0 3 * * 6"


# --- invalid rules --------------------------------------------------------------------------------------------

KIND = "Give the recurrence as an object with a kind: 'weekly' or 'cron'."
DAYS = "Give the weekdays as a list of numbers from 0 (Monday) to 6 (Sunday)."
TIME = "Give the time as HH:MM on a 24-hour clock, e.g. 02:30."
DURATION = "Give a duration between 1 minute and 7 days."
FIVE_FIELDS = ("Give a cron expression with five fields: minute, hour, day of the month, month and day of the week, "
               "e.g. '0 3 * * 6'.")


def _weekly(**changes):
    return {"kind": "weekly", "days": [1], "time": "02:00", "duration_minutes": 60, **changes}


def _cron(expression, **changes):
    return {"kind": "cron", "expression": expression, "duration_minutes": 60, **changes}


@pytest.mark.parametrize("data, message", [
    (None, KIND),
    ("weekly", KIND),
    ([("kind", "weekly")], KIND),
    ({"kind": "daily"}, "Choose 'weekly' or 'cron' as the kind of recurrence, not 'daily'."),
    ({"days": [1]}, "Choose 'weekly' or 'cron' as the kind of recurrence, not 'None'."),
    (_weekly(days=[]), "Give at least one weekday."),
    (_weekly(days=None), DAYS),
    (_weekly(days="1,3"), DAYS),
    (_weekly(days=[7]), "'7' is not a weekday; use 0 (Monday) to 6 (Sunday)."),
    (_weekly(days=[-1]), "'-1' is not a weekday; use 0 (Monday) to 6 (Sunday)."),
    (_weekly(days=["1"]), "'1' is not a weekday; use 0 (Monday) to 6 (Sunday)."),
    (_weekly(days=[True]), "'True' is not a weekday; use 0 (Monday) to 6 (Sunday)."),
    (_weekly(time=None), TIME),
    (_weekly(time="24:00"), f"'24:00' is not a time. {TIME}"),
    (_weekly(time="12:60"), f"'12:60' is not a time. {TIME}"),
    (_weekly(time="2:3"), f"'2:3' is not a time. {TIME}"),
    (_weekly(time="noon"), f"'noon' is not a time. {TIME}"),
    (_weekly(time="02:00:00"), f"'02:00:00' is not a time. {TIME}"),
    (_weekly(time=200), f"'200' is not a time. {TIME}"),
    (_weekly(duration_minutes=0), DURATION),
    (_weekly(duration_minutes=10081), DURATION),
    (_weekly(duration_minutes=-5), DURATION),
    (_weekly(duration_minutes="60"), DURATION),
    (_weekly(duration_minutes=1.5), DURATION),
    (_weekly(duration_minutes=60.0), DURATION),
    (_weekly(duration_minutes=True), DURATION),
    (_weekly(duration_minutes=None), DURATION),
    (_cron("0 3 * * *", duration_minutes=20000), DURATION),
    (_cron(None), FIVE_FIELDS),
    (_cron(""), FIVE_FIELDS),
    (_cron("   "), FIVE_FIELDS),
    (_cron("@daily"), "'@daily' has 1 field; a cron expression needs five: minute, hour, day of the month, month "
                      "and day of the week."),
    (_cron("0 3 * *"), "'0 3 * *' has 4 fields; a cron expression needs five: minute, hour, day of the month, month "
                       "and day of the week."),
    (_cron("0 3 * * * 2027"), "'0 3 * * * 2027' has 6 fields; a cron expression needs five: minute, hour, day of "
                              "the month, month and day of the week."),
    (_cron("0 25 * * *"), "'25' is not a valid hour (0-23) in '0 25 * * *'."),
    (_cron("60 * * * *"), "'60' is not a valid minute (0-59) in '60 * * * *'."),
    (_cron("0 0 0 * *"), "'0' is not a valid day of the month (1-31) in '0 0 0 * *'."),
    (_cron("0 0 32 * *"), "'32' is not a valid day of the month (1-31) in '0 0 32 * *'."),
    (_cron("0 0 * 13 *"), "'13' is not a valid month (1-12 or JAN-DEC) in '0 0 * 13 *'."),
    (_cron("0 0 * FOO *"), "'FOO' is not a valid month (1-12 or JAN-DEC) in '0 0 * FOO *'."),
    (_cron("0 0 * * 8"), "'8' is not a valid day of the week (0-7 or SUN-SAT) in '0 0 * * 8'."),
    (_cron("0 0 * * MONDAY"), "'MONDAY' is not a valid day of the week (0-7 or SUN-SAT) in '0 0 * * MONDAY'."),
    (_cron("MON 0 * * *"), "'MON' is not a valid minute (0-59) in 'MON 0 * * *'."),
    (_cron("0 1-25 * * *"), "'25' is not a valid hour (0-23) in '0 1-25 * * *'."),
    (_cron("1,,2 * * * *"), "'' is not a valid minute (0-59) in '1,,2 * * * *'."),
    (_cron("-5 * * * *"), "'-5' is not a valid minute (0-59) in '-5 * * * *'."),
    (_cron("L * * * *"), "'L' is not a valid minute (0-59) in 'L * * * *'."),
    (_cron("0 0 ? * *"), "'?' is not a valid day of the month (1-31) in '0 0 ? * *'."),
    (_cron("\u00b2 * * * *"), "'\u00b2' is not a valid minute (0-59) in '\u00b2 * * * *'."),
    (_cron("*/0 * * * *"), "'*/0' has a step of 0 in '*/0 * * * *'; give a step of 1 or more."),
    (_cron("*/x * * * *"), "'*/x' is not a valid minute (0-59) in '*/x * * * *'; a step goes after * or a range, "
                           "e.g. */15 or 10-40/10."),
    (_cron("5/10 * * * *"), "'5/10' is not a valid minute (0-59) in '5/10 * * * *'; a step goes after * or a range, "
                            "e.g. */15 or 10-40/10."),
    (_cron("40-10 * * * *"), "'40-10' runs backwards in '40-10 * * * *'; put the smaller minute first."),
    (_cron("0 0 * * FRI-MON"), "'FRI-MON' runs backwards in '0 0 * * FRI-MON'; put the smaller day of the week "
                               "first."),
])
def test_an_invalid_rule_is_refused_with_a_message_saying_what_to_fix(data, message):
    with pytest.raises(ValueError) as caught:
        parse(data)

    assert str(caught.value) == message


@pytest.mark.parametrize("data", [
    _weekly(duration_minutes=1),
    _weekly(duration_minutes=10080),
    _weekly(days=[0, 1, 2, 3, 4, 5, 6], time="0:00"),
    _weekly(time="23:59"),
    _cron("59 23 31 12 7"),
    _cron("0-59/59 0-23/23 1-31/30 1-12/11 0-7/7"),
    _cron("*/100 * * * *"),
    _cron("0 0 * * sun,Mon,TUE"),
])
def test_boundary_values_are_accepted(data):
    assert isinstance(parse(data), Rule)


def test_repeated_weekdays_count_once():
    assert to_dict(weekly([3, 1, 3, 1], "02:00"))["days"] == [1, 3]


# --- storing and describing -------------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    _weekly(),
    _weekly(days=[6, 0], time="9:05", duration_minutes=90),
    _weekly(days=[0, 1, 2, 3, 4, 5, 6], duration_minutes=10080),
    _cron("0 3 * * 6", duration_minutes=90),
    _cron("*/15 9-17 * jan-mar MON-FRI", duration_minutes=1),
    _cron("0 0 13 * 5"),
])
def test_a_rule_survives_being_stored_and_read_back(data):
    rule = parse(data)

    assert parse(to_dict(rule)) == rule
    assert to_dict(parse(to_dict(rule))) == to_dict(rule)


def test_a_weekly_rule_is_stored_in_its_normal_form():
    assert to_dict(parse(_weekly(days=[6, 0], time="9:05", duration_minutes=90))) == {
        "kind": "weekly", "days": [0, 6], "time": "09:05", "duration_minutes": 90}


def test_a_cron_rule_is_stored_as_written():
    assert to_dict(cron("0 3 * * sat", 90)) == {"kind": "cron", "expression": "0 3 * * sat", "duration_minutes": 90}


def test_the_duration_is_a_timedelta():
    assert cron("0 3 * * 6", 90).duration == timedelta(minutes=90)


@pytest.mark.parametrize("rule, text", [
    (weekly([TUESDAY, THURSDAY], "02:00", 120), "Every Tuesday and Thursday at 02:00 for 2 h"),
    (weekly([SUNDAY], "23:30", 45), "Every Sunday at 23:30 for 45 min"),
    (weekly([0, 2, 4], "9:00", 90), "Every Monday, Wednesday and Friday at 09:00 for 90 min"),
    (weekly([0, 1, 2, 3, 4], "06:00", 60), "Every weekday at 06:00 for 1 h"),
    (weekly([0, 1, 2, 3, 4, 5, 6], "00:00", 1), "Every day at 00:00 for 1 min"),
    (weekly([SATURDAY, SUNDAY], "04:00", 1440), "Every Saturday and Sunday at 04:00 for 1 day"),
    (weekly([SATURDAY], "04:00", 10080), "Every Saturday at 04:00 for 7 days"),
    (cron("0 3 * * 6", 90), "Cron 0 3 * * 6 for 90 min"),
    (cron("*/15  9-17 * * MON-FRI", 2160), "Cron */15 9-17 * * MON-FRI for 36 h"),
])
def test_a_rule_is_described_in_words(rule, text):
    assert describe(rule) == text


# --- daylight saving time -------------------------------------------------------------------------------------
# Europe/Berlin 2027: clocks jump 02:00 -> 03:00 on Sunday 28 March, fall back 03:00 -> 02:00 on Sunday 31 October.
# America/New_York 2027: jump 02:00 -> 03:00 on Sunday 14 March, fall back 02:00 -> 01:00 on Sunday 7 November.

def test_a_window_in_the_skipped_hour_starts_when_the_clock_jumps():
    starts = occurrences(weekly([SUNDAY], "02:30"), utc(2027, 3, 20), "Europe/Berlin", 3)

    assert starts == [utc(2027, 3, 21, 1, 30), utc(2027, 3, 28, 1, 30), utc(2027, 4, 4, 0, 30)]
    assert starts[1].astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M %Z") == "03:30 CEST"


def test_a_window_moved_by_the_jump_is_still_found_from_just_after_the_jump():
    # 03:10 CEST: the 02:30 window (now 03:30 CEST) is still ahead, although 02:30 on the clock has passed.
    assert next_start(weekly([SUNDAY], "02:30"), utc(2027, 3, 28, 1, 10), "Europe/Berlin") == utc(2027, 3, 28, 1, 30)


def test_a_window_in_the_repeated_hour_starts_once_at_its_first_occurrence():
    starts = occurrences(weekly([SUNDAY], "02:30"), utc(2027, 10, 23), "Europe/Berlin", 3)

    assert starts == [utc(2027, 10, 24, 0, 30), utc(2027, 10, 31, 0, 30), utc(2027, 11, 7, 1, 30)]
    assert starts[1].astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M %Z") == "02:30 CEST"


def test_the_second_pass_of_the_repeated_hour_does_not_start_the_window_again():
    # 01:15 UTC is 02:15 CET, the second time the clock reads 02:15 that night.
    assert next_start(weekly([SUNDAY], "02:30"), utc(2027, 10, 31, 1, 15), "Europe/Berlin") == utc(2027, 11, 7, 1, 30)


@pytest.mark.parametrize("zone, after, before_change, after_change", [
    ("Europe/Berlin", utc(2027, 3, 26), utc(2027, 3, 27, 8), utc(2027, 3, 28, 7)),
    ("Europe/Berlin", utc(2027, 10, 29), utc(2027, 10, 30, 7), utc(2027, 10, 31, 8)),
    ("America/New_York", utc(2027, 3, 12), utc(2027, 3, 13, 14), utc(2027, 3, 14, 13)),
    ("America/New_York", utc(2027, 11, 5), utc(2027, 11, 6, 13), utc(2027, 11, 7, 14)),
])
def test_a_morning_window_keeps_its_local_time_so_its_utc_time_moves(zone, after, before_change, after_change):
    starts = occurrences(weekly([SATURDAY, SUNDAY], "09:00"), after, zone, 2)

    assert starts == [before_change, after_change]
    assert {start.astimezone(ZoneInfo(zone)).strftime("%H:%M") for start in starts} == {"09:00"}


@pytest.mark.parametrize("at, expected", [
    ("01:59", utc(2027, 3, 14, 6, 59)),
    ("02:00", utc(2027, 3, 14, 7, 0)),  # 03:00 EDT
    ("02:30", utc(2027, 3, 14, 7, 30)),  # 03:30 EDT
    ("03:00", utc(2027, 3, 14, 7, 0)),
])
def test_new_york_windows_on_the_spring_forward_night(at, expected):
    assert next_start(weekly([SUNDAY], at), utc(2027, 3, 13, 12), "America/New_York") == expected


@pytest.mark.parametrize("at, expected", [
    ("00:59", utc(2027, 11, 7, 4, 59)),
    ("01:00", utc(2027, 11, 7, 5, 0)),  # the first 01:00, still EDT
    ("01:30", utc(2027, 11, 7, 5, 30)),
    ("02:00", utc(2027, 11, 7, 7, 0)),  # EST
])
def test_new_york_windows_on_the_fall_back_night(at, expected):
    starts = occurrences(weekly([SUNDAY], at), utc(2027, 11, 6, 12), "America/New_York", 2)

    assert starts == [expected, expected + timedelta(days=7) + (timedelta(hours=1) if at < "02:00" else timedelta())]


def test_windows_on_both_sides_of_a_jump_that_land_together_start_once():
    # On the spring-forward night 02:00 (skipped) and 03:00 are the same moment: one window, not two.
    starts = occurrences(cron("0 2,3 * * *"), utc(2027, 3, 27, 12), "Europe/Berlin", 3)

    assert starts == [utc(2027, 3, 28, 1), utc(2027, 3, 29, 0), utc(2027, 3, 29, 1)]


def test_a_day_the_calendar_skipped_starts_its_windows_a_day_later_once():
    # Samoa skipped Friday 30 December 2011 entirely; a Friday and a Saturday window meet on the Saturday.
    starts = occurrences(weekly([4, SATURDAY], "10:00"), utc(2011, 12, 28), "Pacific/Apia", 2)

    assert starts == [utc(2011, 12, 30, 20), utc(2012, 1, 5, 20)]


def test_a_jump_at_midnight_moves_a_window_just_after_midnight():
    # Santiago skipped 00:00-01:00 on Sunday 5 September 2027.
    assert next_start(cron("30 0 * * *"), utc(2027, 9, 4, 12), "America/Santiago") == utc(2027, 9, 5, 4, 30)


def _every_start(rule: Rule, after: datetime, zone: str, days: int) -> list[datetime]:
    """The reference answer, the slow way: every wall-clock minute of the span, each read with fold=0."""
    tz = ZoneInfo(zone)
    wall = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) - timedelta(days=2)
    end = wall + timedelta(days=days + 2)
    starts = set()
    while wall < end:
        if wall.hour in rule.hours and wall.minute in rule.minutes:
            start = wall.replace(tzinfo=tz).astimezone(UTC)
            if start > after:
                starts.add(start)
        wall += timedelta(minutes=1)
    # Near the end of the span a start from a later wall time could be missing; compare well before it.
    cutoff = after + timedelta(days=days - 1)
    return sorted(start for start in starts if start < cutoff)


@pytest.mark.parametrize("zone, after", [
    ("Europe/Berlin", utc(2027, 3, 27, 12)),
    ("Europe/Berlin", utc(2027, 3, 28, 1, 5)),
    ("Europe/Berlin", utc(2027, 10, 30, 12)),
    ("Europe/Berlin", utc(2027, 10, 31, 0, 45)),
    ("America/New_York", utc(2027, 3, 13, 12)),
    ("America/New_York", utc(2027, 11, 7, 5, 40)),
    ("Australia/Lord_Howe", utc(2027, 4, 3)),  # a half-hour change
    ("Australia/Lord_Howe", utc(2027, 10, 2)),
    ("America/Santiago", utc(2027, 9, 4)),
    ("Pacific/Apia", utc(2011, 12, 28)),
])
@pytest.mark.parametrize("expression", ["*/20 * * * *", "30 1,2,3 * * *", "0,30 0-4 * * *", "59 1 * * *",
                                        "15,45 0,1,2 * * *"])
def test_starts_around_a_clock_change_match_a_minute_by_minute_reading(zone, after, expression):
    rule = cron(expression)
    expected = _every_start(rule, after, zone, days=3)

    assert occurrences(rule, after, zone, len(expected)) == expected

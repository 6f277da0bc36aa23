"""Recurring maintenance windows: a stored rule, when its next window starts, and how to say it in words.

A rule is stored as a dict, either weekly or a five-field cron expression, with a duration in minutes:

    {"kind": "weekly", "days": [1, 3], "time": "02:00", "duration_minutes": 120}   # 0 = Monday
    {"kind": "cron", "expression": "0 3 * * SAT", "duration_minutes": 90}

`parse` checks such a dict and gives a `Rule` (or a `ValueError` whose message can be shown to the person who
wrote it); `to_dict` gives the dict back. Cron follows Vixie cron: `*`, numbers, lists, ranges, steps after
`*` or a range, JAN-DEC and SUN-SAT in any case, 0 and 7 both Sunday, and when both day fields are restricted
(neither starts with `*`) a day matches if either does.

Times in a rule are wall-clock times in the page's time zone. When the clocks go back, a repeated wall time
starts at its first occurrence; when they jump forward, a wall time that does not exist starts as late as the
jump (02:30 on a night that skips 02:00-03:00 starts at 03:30). Each window starts once: never twice, never
skipped. Everything here is pure; results are timezone-aware datetimes in UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_DURATION_MINUTES = 7 * 24 * 60
# How far ahead next_start looks before deciding a rule never fires (covers 29 February in any leap cycle).
HORIZON = timedelta(days=5 * 366)

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_CRON_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_ONE_DAY = timedelta(days=1)
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})")


@dataclass(frozen=True, slots=True)
class Rule:
    """A checked recurrence rule: the local wall-clock minutes at which a window starts, and its length.

    Build one with `parse`. The sets are what the rule matches after parsing (so a weekly rule is the cron
    rule "m h * * days"); `expression` is the cron text for kind "cron", empty for "weekly".
    """

    kind: Literal["weekly", "cron"]
    duration: timedelta
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    month_days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]  # 0 = Monday, as date.weekday()
    either_day: bool = False  # cron with both day fields restricted: a day matches if either field does
    expression: str = ""


# --- parsing ----------------------------------------------------------------------------------------------------

def parse(data: object) -> Rule:
    """The rule stored as `data` (see the module docstring).

    Raises ValueError with a sentence that tells the person who wrote the rule what to change.
    """
    if not isinstance(data, Mapping):
        raise ValueError("Give the recurrence as an object with a kind: 'weekly' or 'cron'.")
    kind = data.get("kind")
    if kind == "weekly":
        return _parse_weekly(data)
    if kind == "cron":
        return _parse_cron(data)
    raise ValueError(f"Choose 'weekly' or 'cron' as the kind of recurrence, not '{kind}'.")


def to_dict(rule: Rule) -> dict:
    """The rule as it is stored; `parse(to_dict(rule)) == rule`."""
    minutes = int(rule.duration.total_seconds() // 60)
    if rule.kind == "cron":
        return {"kind": "cron", "expression": rule.expression, "duration_minutes": minutes}
    return {"kind": "weekly", "days": list(rule.weekdays), "time": f"{rule.hours[0]:02d}:{rule.minutes[0]:02d}",
            "duration_minutes": minutes}


def _parse_duration(data: Mapping) -> timedelta:
    minutes = data.get("duration_minutes")
    # bool is an int to Python, but `true` minutes is a mistake, not a duration.
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_DURATION_MINUTES:
        raise ValueError("Give a duration between 1 minute and 7 days.")
    return timedelta(minutes=minutes)


def _parse_weekly(data: Mapping) -> Rule:
    days = data.get("days")
    if not isinstance(days, list | tuple):
        raise ValueError("Give the weekdays as a list of numbers from 0 (Monday) to 6 (Sunday).")
    if not days:
        raise ValueError("Give at least one weekday.")
    for day in days:
        if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
            raise ValueError(f"'{day}' is not a weekday; use 0 (Monday) to 6 (Sunday).")
    text = data.get("time")
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        shown = f"'{text}' is not a time. " if text is not None else ""
        raise ValueError(f"{shown}Give the time as HH:MM on a 24-hour clock, e.g. 02:30.")
    return Rule(
        kind="weekly", duration=_parse_duration(data), minutes=(int(match[2]),), hours=(int(match[1]),),
        month_days=tuple(range(1, 32)), months=tuple(range(1, 13)), weekdays=tuple(sorted(set(days))),
    )


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] stands for low + i

    @property
    def allowed(self) -> str:
        numbers = f"{self.low}-{self.high}"
        return f"{numbers} or {self.names[0]}-{self.names[-1]}" if self.names else numbers


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of the month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of the week", 0, 7, _CRON_DAYS),
)


def _parse_cron(data: Mapping) -> Rule:
    expression = data.get("expression")
    fields = expression.split() if isinstance(expression, str) else []
    if not fields:
        raise ValueError("Give a cron expression with five fields: minute, hour, day of the month, month and "
                         "day of the week, e.g. '0 3 * * 6'.")
    expression = " ".join(fields)
    if len(fields) != 5:
        raise ValueError(f"'{expression}' has {len(fields)} field{'s' if len(fields) != 1 else ''}; a cron "
                         "expression needs five: minute, hour, day of the month, month and day of the week.")
    minutes, hours, month_days, months, cron_days = (
        _parse_field(text, field, expression) for text, field in zip(fields, _FIELDS, strict=True))
    return Rule(
        kind="cron", duration=_parse_duration(data), minutes=minutes, hours=hours, month_days=month_days,
        months=months,
        # cron counts from Sunday = 0 (and 7); date.weekday() from Monday = 0.
        weekdays=tuple(sorted({(day + 6) % 7 for day in cron_days})),
        # Vixie cron: a day field "restricts" unless it starts with '*' (so '*/2' does not).
        either_day=not fields[2].startswith("*") and not fields[4].startswith("*"),
        expression=expression,
    )


def _parse_field(text: str, field: _Field, expression: str) -> tuple[int, ...]:
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not _is_number(step_text) or not ("-" in base or base == "*"):
                raise ValueError(f"'{item}' is not a valid {field.name} ({field.allowed}) in '{expression}'; a "
                                 "step goes after * or a range, e.g. */15 or 10-40/10.")
            step = int(step_text)
            if step == 0:
                raise ValueError(f"'{item}' has a step of 0 in '{expression}'; give a step of 1 or more.")
        if base == "*":
            first, last = field.low, field.high
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _value(start, item, field, expression), _value(end, item, field, expression)
            if first > last:
                raise ValueError(f"'{item}' runs backwards in '{expression}'; put the smaller {field.name} first.")
        else:
            first = last = _value(base, item, field, expression)
        values.update(range(first, last + 1, step))
    return tuple(sorted(values))


def _value(text: str, item: str, field: _Field, expression: str) -> int:
    if _is_number(text) and field.low <= int(text) <= field.high:
        return int(text)
    if text.upper() in field.names:
        return field.low + field.names.index(text.upper())
    raise ValueError(f"'{text or item}' is not a valid {field.name} ({field.allowed}) in '{expression}'.")


def _is_number(text: str) -> bool:
    # str.isdigit() also accepts digits such as '²' that int() refuses.
    return text.isascii() and text.isdigit()


# --- occurrences ----------------------------------------------------------------------------------------------

def next_start(rule: Rule, after: datetime, zone: str) -> datetime | None:
    """When the first window strictly after `after` starts, in UTC; None if none starts within about 5 years.

    `after` must be timezone-aware; `zone` is the IANA time zone the rule's wall-clock times are read in.
    Raises ValueError for an unknown zone.
    """
    tz = _zone(zone)
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("'after' must be a timezone-aware datetime.")
    after = after.astimezone(UTC)
    best: datetime | None = None
    try:
        local = after.astimezone(tz)
        # A wall time inside a spring-forward gap starts as much later as the gap is long, so a wall time up to
        # one gap before `after` can still start after it; the offset change over the last day is that gap.
        gap = max(timedelta(0), local.utcoffset() - (after - _ONE_DAY).astimezone(tz).utcoffset())
        first = bound = local.replace(tzinfo=None, fold=0, second=0, microsecond=0) - gap
        last = first.date() + HORIZON if first.date() < date.max - HORIZON else date.max
        for wall in _walls(rule, first, last):
            # Wall times map to instants in order except inside a gap, where one maps as late as the gap is
            # long; past the wall time of the best start found, nothing can start earlier than it.
            if best is not None and wall > bound:
                break
            # fold=0 is the first of two repeated wall times, and for a wall time in a gap it uses the offset
            # from before the jump, which moves it forward by exactly the gap.
            start = wall.replace(tzinfo=tz).astimezone(UTC)
            if start > after and (best is None or start < best):
                best, bound = start, start.astimezone(tz).replace(tzinfo=None)
    except OverflowError:  # the search reached year 1 or 9999; no later start can be represented
        pass
    return best


def occurrences(rule: Rule, after: datetime, zone: str, count: int) -> list[datetime]:
    """The starts of the next `count` windows strictly after `after`, in UTC, earliest first (fewer if the rule
    runs out within about 5 years of the last one)."""
    starts: list[datetime] = []
    while len(starts) < count:
        start = next_start(rule, starts[-1] if starts else after, zone)
        if start is None:
            break
        starts.append(start)
    return starts


def _walls(rule: Rule, first: datetime, last: date) -> Iterator[datetime]:
    """The rule's wall-clock start times from `first` on, in order, on days up to `last`."""
    day = first.date()
    while day <= last:
        if day.month not in rule.months:
            # Skip the rest of the month at once: a yearly rule would otherwise walk ~330 idle days a year.
            if day.month == 12 and day.year == MAXYEAR:
                return
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            continue
        if _runs_on(rule, day):
            for hour in rule.hours:
                for minute in rule.minutes:
                    wall = datetime(day.year, day.month, day.day, hour, minute)
                    if wall >= first:
                        yield wall
        day += _ONE_DAY


def _runs_on(rule: Rule, day: date) -> bool:
    if day.month not in rule.months:
        return False
    by_date, by_weekday = day.day in rule.month_days, day.weekday() in rule.weekdays
    return (by_date or by_weekday) if rule.either_day else (by_date and by_weekday)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"Unknown time zone '{name}'.") from None


# --- words ------------------------------------------------------------------------------------------------------

def describe(rule: Rule) -> str:
    """The rule in words: "Every Tuesday and Thursday at 02:00 for 2 h", "Cron 0 3 * * 6 for 90 min"."""
    length = _duration(rule.duration)
    if rule.kind == "cron":
        return f"Cron {rule.expression} for {length}"
    return f"Every {_days(rule.weekdays)} at {rule.hours[0]:02d}:{rule.minutes[0]:02d} for {length}"


def _days(weekdays: tuple[int, ...]) -> str:
    if weekdays == tuple(range(7)):
        return "day"
    if weekdays == tuple(range(5)):
        return "weekday"
    names = [WEEKDAY_NAMES[day] for day in weekdays]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _duration(duration: timedelta) -> str:
    minutes = int(duration.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        return f"{minutes // 60} h"
    return f"{minutes} min"

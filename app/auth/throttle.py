"""The sign-in delay policy, over plain values: how long a key (an IP address or an account) must wait after
its failed attempts before the next attempt is considered at all.

The first few failures are free; after them each failure doubles the wait (1 s, 2 s, 4 s, … at most 15 min);
after ``LOCK_AFTER`` consecutive failures the key is locked for ``LOCK_FOR``. Only a success starts over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

FREE_FAILURES = 3
FIRST_DELAY = timedelta(seconds=1)
MAX_DELAY = timedelta(minutes=15)
LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)


@dataclass(frozen=True, slots=True)
class Counter:
    """One key's consecutive failures and the moment before which its next attempt is refused unseen."""

    failures: int = 0
    locked_until: datetime | None = None

    @property
    def locked(self) -> bool:
        """True once the failures reach the lock (not merely a delay)."""
        return self.failures >= LOCK_AFTER


def delay_after(failures: int) -> timedelta:
    """The wait that ``failures`` consecutive failures impose before the next attempt."""
    if failures >= LOCK_AFTER:
        return LOCK_FOR
    beyond = failures - FREE_FAILURES
    if beyond <= 0:
        return timedelta(0)
    return min(FIRST_DELAY * 2 ** (beyond - 1), MAX_DELAY)


def failed(counter: Counter, now: datetime) -> Counter:
    """The counter after one more failure at ``now``."""
    failures = counter.failures + 1
    wait = delay_after(failures)
    return Counter(failures, now + wait if wait else None)


def forgiven(counter: Counter) -> Counter:
    """The counter with one failure taken back (an attempt counted in advance that turned out not to fail)."""
    return Counter(max(counter.failures - 1, 0), None)


def wait_left(counter: Counter, now: datetime) -> timedelta:
    """How long the key must still wait; zero when its next attempt may be considered now."""
    if counter.locked_until is None or counter.locked_until <= now:
        return timedelta(0)
    return counter.locked_until - now


def minutes(wait: timedelta) -> int:
    """A wait in whole minutes for a person, rounded up, at least 1."""
    return max(1, math.ceil(wait.total_seconds() / 60))

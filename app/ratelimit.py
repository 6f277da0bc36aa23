"""A sliding-window limit per key (an IP address, an e-mail address), in memory.

Enough for the public subscribe form: it keeps one visitor from sending a stream of confirmation mails or
filling the table. It is per process and forgets on restart, which is fine for that purpose; sign-in uses the
database-backed throttle instead (app/auth/throttle.py), because there a restart must not reset an attack.
"""

from __future__ import annotations

from collections import deque


class SlidingWindow:
    def __init__(self, limit: int, window_seconds: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def retry_after(self, key: str, now: float) -> float:
        """0 when ``key`` may act now (and count it); else the seconds until it may."""
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.max_keys:  # bounded memory under a flood of distinct keys
                self._forget_idle(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return hits[0] + self.window - now
        hits.append(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window]:
            del self._hits[key]
        if len(self._hits) >= self.max_keys:
            self._hits.clear()

    def reset(self) -> None:
        self._hits.clear()

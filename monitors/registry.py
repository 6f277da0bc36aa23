"""Monitor kinds by name. Each family module registers its kinds here with ``@register``."""

from __future__ import annotations

from collections.abc import Callable

from monitors.base import Check

KINDS: dict[str, Check] = {}


def register(kind: str) -> Callable[[Check], Check]:
    def add(check: Check) -> Check:
        if kind in KINDS:
            raise ValueError(f"monitor kind {kind!r} registered twice")
        KINDS[kind] = check
        return check
    return add

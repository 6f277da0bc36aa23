"""Monitor kinds by name. Each family module registers its kinds here; ``load()`` imports them all."""

from __future__ import annotations

import importlib

from monitors.base import Kind

KINDS: dict[str, Kind] = {}

FAMILIES = ("http", "network", "dns", "databases", "queues", "infra", "mail", "script", "push")


def register(kind: Kind) -> Kind:
    if kind.name in KINDS:
        raise ValueError(f"monitor kind {kind.name!r} registered twice")
    KINDS[kind.name] = kind
    return kind


def load() -> dict[str, Kind]:
    """Import every family module (each registers its kinds on import) and return the registry."""
    for family in FAMILIES:
        try:
            importlib.import_module(f"monitors.{family}")
        except ModuleNotFoundError as exc:
            if exc.name != f"monitors.{family}":
                raise
    return KINDS


def get(name: str) -> Kind:
    load()
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown monitor kind {name!r}") from None

"""Input rules shared by services: each returns a message for a person, or None when the value is fine."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

RESERVED_SLUGS = frozenset({
    "admin", "api", "status", "login", "logout", "setup", "static", "badge", "metrics", "healthz",
    "up", "sw.js", "_nicegui", "assets", "uploads", "feed", "docs",
})
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def slug_problem(slug: str) -> str | None:
    if not slug:
        return "Enter a slug: it is the page's address, e.g. 'acme'."
    if " " in slug:
        return "A slug cannot contain spaces; use hyphens, e.g. 'acme-cloud'."
    if slug != slug.lower():
        return "A slug must be lowercase."
    if not _SLUG.match(slug):
        return "Use 1-64 lowercase letters, digits and hyphens, not starting or ending with a hyphen."
    if slug in RESERVED_SLUGS:
        return f"'{slug}' is reserved; choose another slug."
    return None


def text_problem(value: str, label: str, *, required: bool = True, max_length: int = 200) -> str | None:
    if required and not value.strip():
        return f"Enter a {label}."
    if len(value) > max_length:
        return f"The {label} can be at most {max_length} characters."
    if "\x00" in value:  # PostgreSQL cannot store NUL in text
        return f"The {label} cannot contain NUL characters."
    return None


MAX_ROW_ID = 2**31 - 1  # the integer primary keys of both SQLite and PostgreSQL schemas


def row_id(value: object) -> int | None:
    """The row id ``value`` names (int or decimal text), or None when it cannot name one."""
    if isinstance(value, bool):
        return None
    text = str(value).strip()
    if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_ROW_ID:
        return int(text)
    return None


def link_problem(value: str) -> str | None:
    # A link becomes an <a href> on the public page: only web addresses, never javascript: or data:.
    if len(value) > 500:
        return "A link can be at most 500 characters."
    if value and not value.lower().startswith(("http://", "https://")):
        return "Use an http:// or https:// address, or leave it empty."
    return None


_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def domain_problem(value: str | None) -> str | None:
    if not value:
        return None
    if not _HOSTNAME.match(value):
        return "Enter a host name such as status.example.com (no scheme, port or path)."
    return None


def collect(**problems: str | None) -> dict[str, str]:
    return {field: message for field, message in problems.items() if message}


def to_moment(value: object, zone: str = "UTC") -> datetime | None:
    """An aware datetime from a datetime or ISO 8601 text; a time without offset is read in ``zone`` (the page's
    time zone, as the people typing it think). None when ``value`` names no moment."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None:
        try:
            moment = moment.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# What a stored secret (a monitor's password, a channel's signing secret) looks like on its way out; the same
# text sent back on an edit means "keep the stored one".
SECRET_MASK = "••••"


def mask_secrets(config: dict[str, Any] | None, secret_names: Iterable[str]) -> dict[str, Any]:
    """``config`` with each non-empty secret replaced by ``SECRET_MASK`` (an empty one stays empty: "not set")."""
    hidden = set(secret_names)
    return {k: (SECRET_MASK if k in hidden and v else v) for k, v in (config or {}).items()}


def keep_masked_secrets(submitted: dict[str, Any], stored: dict[str, Any] | None,
                        secret_names: Iterable[str]) -> dict[str, Any]:
    """``submitted`` with every secret sent back as ``SECRET_MASK`` replaced by the stored value."""
    out = dict(submitted)
    for name in secret_names:
        if out.get(name) == SECRET_MASK:
            out[name] = (stored or {}).get(name, "")
    return out

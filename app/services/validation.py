"""Input rules shared by services: each returns a message for a person, or None when the value is fine."""

from __future__ import annotations

import re

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
    return None


def collect(**problems: str | None) -> dict[str, str]:
    return {field: message for field, message in problems.items() if message}

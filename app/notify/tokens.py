"""The secret links in subscriber messages, derived rather than stored: an HMAC of the subscriber's id and nonce
under the install's secret. Nothing in the database lets someone who reads it unsubscribe others, every message
can carry a fresh copy of the link, and changing a subscriber's nonce revokes all links sent before.

- A *manage* token opens the subscriber's page (choose components, unsubscribe); it does not expire, as mail
  providers show List-Unsubscribe for years.
- A *confirm* token carries its expiry inside the signature: the double opt-in link works for ``CONFIRM_HOURS``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

CONFIRM_HOURS = 48


def _sign(secret: str, *parts: object) -> str:
    message = ":".join(str(p) for p in parts).encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()[:18]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def manage_token(secret: str, subscriber_id: int, nonce: str) -> str:
    return f"{subscriber_id}.{_sign(secret, 'manage', subscriber_id, nonce)}"


def confirm_token(secret: str, subscriber_id: int, nonce: str, now: datetime) -> str:
    expires = int((now + timedelta(hours=CONFIRM_HOURS)).timestamp())
    return f"{subscriber_id}.{expires}.{_sign(secret, 'confirm', subscriber_id, nonce, expires)}"


@dataclass(frozen=True, slots=True)
class Claim:
    """What a token says before it is checked against the subscriber's nonce."""

    subscriber_id: int
    expires: datetime | None
    signature: str


def read(token: str) -> Claim | None:
    """Split a manage (``id.sig``) or confirm (``id.expires.sig``) token; None if it is not one."""
    parts = token.split(".")
    try:
        if len(parts) == 2:
            return Claim(int(parts[0]), None, parts[1])
        if len(parts) == 3:
            return Claim(int(parts[0]), datetime.fromtimestamp(int(parts[1]), UTC), parts[2])
    except (ValueError, OverflowError, OSError):
        return None
    return None


def valid(secret: str, claim: Claim, nonce: str, now: datetime) -> bool:
    """The claim was issued for this subscriber and nonce (and, for a confirm token, has not expired)."""
    if claim.expires is None:
        expected = _sign(secret, "manage", claim.subscriber_id, nonce)
    else:
        if claim.expires <= now:
            return False
        expected = _sign(secret, "confirm", claim.subscriber_id, nonce, int(claim.expires.timestamp()))
    return hmac.compare_digest(expected, claim.signature)

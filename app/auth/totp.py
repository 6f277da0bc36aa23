"""Two-factor sign-in: time-based one-time codes (RFC 6238, 6 digits, 30 s) and single-use recovery codes,
of which only SHA-256 digests are kept."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

import pyotp

ISSUER = "Beacon"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper without doubt


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` address an authenticator app imports (usually from a QR code of it)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def code_matches(secret: str, code: str, now: datetime) -> bool:
    """True for the 6-digit code of ``now``'s 30-second step or the step on either side (clock drift)."""
    code = "".join((code or "").split())
    if len(code) != 6 or not code.isdigit():
        return False
    return pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1)


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Codes such as ``k7dfq-2mxar``: 10 characters of a 31-letter alphabet (~50 bits) each."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    return codes


def recovery_digest(code: str) -> str:
    """The stored form of a recovery code; spaces, dashes and case do not matter."""
    normal = "".join(ch for ch in (code or "").lower() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()

"""Password hashing with argon2 through passlib's CryptContext (libpass), off the event loop."""

from __future__ import annotations

import asyncio

from passlib.context import CryptContext

_context = CryptContext(schemes=["argon2", "bcrypt"], deprecated="auto")

# Verified when the e-mail is unknown, so that a wrong e-mail costs as much time as a wrong password.
_DUMMY_HASH = _context.hash("beacon-dummy-password")

MIN_LENGTH = 10


def password_problem(password: str, email: str = "") -> str | None:
    """The password policy: a message for a person, or None when the password may be used."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if email and password.strip().lower() == email.strip().lower():
        return "The password cannot be your e-mail address."
    return None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_context.hash, password)


async def verify_password(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """(matches, new hash when the stored one should be upgraded)."""
    if stored_hash is None:
        await asyncio.to_thread(_context.verify, password, _DUMMY_HASH)
        return False, None
    return await asyncio.to_thread(_context.verify_and_update, password, stored_hash)

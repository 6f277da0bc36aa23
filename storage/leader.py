"""Which process does the work that must happen once per install: sending notifications, writing scheduled
notices. Several Beacon processes may share one PostgreSQL database (ARCHITECTURE.md); exactly one of them — the
one holding a session advisory lock on a connection of its own — does it. When that process dies its connection
closes, the lock goes with it, and another process takes over at its next look.

SQLite needs nothing: one file serves one server process (the CLI's short writes run no workers).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit, urlunsplit

from storage import db

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5.0


class Leadership:
    def __init__(self, name: str) -> None:
        self.name = name
        self._conn = None  # asyncpg connection holding the lock

    @property
    def held(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def acquire(self) -> bool:
        """True while this process leads: it holds the lock, or just took it. Never raises: a database that
        cannot be reached means "not now"."""
        if db.dialect(db.opened_url) != "postgres":
            return True
        if self.held:
            try:  # is the lock's connection still alive? (a dead one has lost the lock)
                async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
                    await self._conn.fetchval("SELECT 1")  # type: ignore[union-attr]
                return True
            except Exception:  # any failure (closed, timed out, server gone) means the lock is lost
                log.warning("leader.lost name=%s", self.name)
                await self.release()
        import asyncpg

        parts = urlsplit(db.opened_url)
        dsn = urlunsplit(parts._replace(scheme="postgresql", query=""))
        try:
            conn = await asyncpg.connect(dsn, timeout=CONNECT_TIMEOUT_SECONDS)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            log.warning("leader.connect_failed name=%s error=%s", self.name, exc)
            return False
        try:
            got = await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"beacon:{self.name}")
        except (OSError, asyncpg.PostgresError):
            got = False
        if not got:
            await conn.close()
            return False
        self._conn = conn
        log.info("leader.acquired name=%s", self.name)
        return True

    async def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            try:
                await conn.close(timeout=CONNECT_TIMEOUT_SECONDS)
            except Exception:  # closing a broken connection may fail in many ways; drop it hard
                conn.terminate()

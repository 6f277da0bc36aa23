"""Open and close the database: URL → tortoise config, SQLite pragmas, migrations before serving."""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from tortoise import Tortoise, connections
from tortoise.backends.base.executor import EXECUTOR_CACHE

from storage.migrations import migrate
from storage.models import MODEL_MODULES

log = logging.getLogger(__name__)

# Written as URL parameters because tortoise turns them into PRAGMAs on connect.
# WAL lets readers run beside the writer; the busy timeout absorbs a CLI or backup holding the file briefly.
SQLITE_PRAGMAS = {"journal_mode": "WAL", "foreign_keys": "ON", "busy_timeout": "5000", "synchronous": "NORMAL"}


def _harden_sqlite_transactions() -> None:
    """Two fixes to tortoise's SQLite transactions (checked against tortoise-orm 1.1.9):

    - ``BEGIN IMMEDIATE`` instead of ``BEGIN``: a transaction takes the write lock when it starts, waiting up to
      the busy timeout for another process (the CLI, a second Beacon) to finish. A deferred transaction that read
      first fails at once with "database is locked" when it then writes after the other process has written.
    - A transaction whose start fails or is cancelled releases the connection's lock; otherwise every later query
      of the process waits for ever (found by bench/monitors_scale.py at shutdown).
    """
    import sqlite3

    from tortoise.backends.sqlite import client
    from tortoise.connection import get_connections
    from tortoise.exceptions import TransactionManagementError

    if getattr(client, "_beacon_hardened", False):
        return

    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc

    async def enter(self):  # SqliteTransactionContext.__aenter__
        await self._trxlock.acquire()
        token = None
        try:
            await self.ensure_connection()
            token = self.token = get_connections().set(self.connection_name, self.connection)
            await self.connection.begin()
        except BaseException:
            if token is not None:
                get_connections().reset(token)
            self._trxlock.release()
            raise
        return self.connection

    client.SqliteTransactionWrapper.begin = begin
    client.SqliteTransactionContext.__aenter__ = enter
    client._beacon_hardened = True


_harden_sqlite_transactions()


opened_url = ""  # the database this process uses (storage/leader.py opens a connection of its own to it)


def normalise_url(url: str) -> str:
    """Accept the spellings of CONTRACT.md and add our SQLite pragmas unless the URL sets them."""
    parts = urlsplit(url)
    if parts.scheme in {"postgresql", "postgres"}:
        return urlunsplit(parts._replace(scheme="postgres"))
    if parts.scheme == "sqlite":
        query = dict(parse_qsl(parts.query))
        for key, value in SQLITE_PRAGMAS.items():
            query.setdefault(key, value)
        return urlunsplit(parts._replace(query=urlencode(query)))
    return url


def dialect(url: str) -> str:
    return "postgres" if urlsplit(url).scheme in {"postgres", "postgresql", "asyncpg"} else "sqlite"


def tortoise_config(url: str) -> dict:
    return {
        "connections": {"default": normalise_url(url)},
        "apps": {"models": {"models": MODEL_MODULES, "default_connection": "default"}},
        "use_tz": True,
        "timezone": "UTC",
    }


async def open_database(url: str, *, create_db: bool = False) -> None:
    """Connect, bring the schema up to date, and make the connection global for every task."""
    # tortoise caches generated SQL per connection name for the whole process; a process that reopens
    # on another database kind (tests, import/export between kinds) must not reuse the other dialect's SQL.
    EXECUTOR_CACHE.clear()
    if dialect(url) == "sqlite":
        path = urlsplit(url).netloc + urlsplit(url).path
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    await Tortoise.init(config=tortoise_config(url), _create_db=create_db, _enable_global_fallback=True)
    global opened_url
    opened_url = url
    await migrate(dialect(url))
    log.info("database.opened dialect=%s", dialect(url))


async def close_database() -> None:
    await Tortoise.close_connections()


async def ping() -> bool:
    """True when the database answers a trivial query."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:  # any driver error means "not healthy"; the caller only reports it
        log.warning("database.ping_failed", exc_info=True)
        return False
    return True

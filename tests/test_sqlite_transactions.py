"""SQLite transactions as storage/db.py hardens them: a start that is cancelled releases the connection, and a
write waits for another process's write instead of failing with "database is locked"."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from tortoise import connections
from tortoise.transactions import in_transaction

from storage.db import close_database, open_database
from storage.models import Team


async def test_a_transaction_cancelled_as_it_starts_leaves_the_database_usable(tmp_path: Path):
    await open_database(f"sqlite://{tmp_path / 'db.sqlite3'}")
    try:
        for delay in range(6):  # cancel at several points of the transaction's start
            async def write() -> None:
                async with in_transaction() as conn:
                    await conn.execute_query("SELECT 1")

            task = asyncio.get_running_loop().create_task(write())
            for _ in range(delay):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            async with asyncio.timeout(2):  # hung for ever before the fix
                assert await Team.all().count() == 0
    finally:
        await close_database()


async def test_a_write_waits_for_another_processs_write_instead_of_failing(tmp_path: Path):
    path = tmp_path / "db.sqlite3"
    await open_database(f"sqlite://{path}")
    try:
        await Team.create(name="First")
        held = threading.Event()

        def other_process() -> None:  # e.g. `python main.py demo` while the server runs
            db = sqlite3.connect(path, timeout=5, isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO teams (name, created_at) VALUES ('Other', '2026-11-23 00:00:00+00:00')")
            held.set()
            time.sleep(1.0)
            db.execute("COMMIT")
            db.close()

        thread = threading.Thread(target=other_process)
        thread.start()
        held.wait(5)
        started = time.monotonic()
        async with in_transaction() as conn:  # reads, then writes: the case a deferred BEGIN failed on
            await Team.all().using_db(conn).count()
            await Team.create(name="Mine", using_db=conn)
        waited = time.monotonic() - started
        thread.join()
        assert sorted(await Team.all().values_list("name", flat=True)) == ["First", "Mine", "Other"]
        assert waited >= 0.5  # it waited for the other writer rather than failing
        _, rows = await connections.get("default").execute_query("PRAGMA busy_timeout")
        assert rows[0][0] == 5000
    finally:
        await close_database()

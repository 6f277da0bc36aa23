"""Writes made by another process (the CLI while the server runs) reach the running server's pages."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from app import runtime
from app.snapshot import store

REPO_ROOT = Path(__file__).resolve().parents[1]


async def test_loading_the_demo_from_the_cli_while_serving_shows_the_demo_page(settings, monkeypatch):
    monkeypatch.setattr(runtime, "WATCH_SECONDS", 0.1)
    await runtime.start(settings)
    try:
        assert store.by_slug("demo") is None
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BEACON_", "NICEGUI_"))}
        env["BEACON_DATA_DIR"] = str(settings.data_dir)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "main.py", "demo", cwd=REPO_ROOT, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, stderr.decode()

        deadline = time.monotonic() + 10
        while store.by_slug("demo") is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

        snapshot = store.by_slug("demo")
        assert snapshot is not None, "the server never noticed the page written by the CLI"
        assert len(snapshot.all_components) == 30
    finally:
        await runtime.stop()


async def test_on_postgres_only_another_process_s_writes_make_the_server_reload(beacon):
    """PostgreSQL has no per-connection commit counter, so the watcher reads the audit chain's head, which this
    process's own writes move too: those must not reload every page (they are published as events already)."""
    from tortoise.transactions import in_transaction

    from app import audit
    from app.auth import Actor
    from app.services import pages
    from storage.models import AuditHead

    async def head() -> int:
        row = await AuditHead.filter(id=1).first()
        return row.seq if row else 0

    before = await head()
    await pages.create_page(Actor.system("test"), title="Ours", slug="ours")
    ours = await head()
    assert ours > before and not audit.written_elsewhere(before, ours)
    async with in_transaction() as conn:  # what another process's write looks like from here
        await audit.append(conn, actor=Actor.system("elsewhere"), action="page.update", entity_type="page",
                           entity_id=1, changes={})
    assert audit.written_elsewhere(ours, await head())

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

"""Shared fixtures: settings on a temporary data folder, a database on SQLite or PostgreSQL, the running
runtime, and NiceGUI's User bound to that runtime."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from nicegui.testing.user_plugin import user_simulation

from app import config, runtime
from app.config import Settings
from app.events import bus
from app.snapshot import store

# the real HTTP and SMTP receivers of the notification tests
pytest_plugins = ["tests.receivers"]

PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
IN_CI = os.environ.get("CI", "").lower() == "true"


async def _pg_admin():
    import asyncpg

    return await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/postgres", timeout=3)


_PG_PROBLEM: str | None | bool = False


async def postgres_problem() -> str | None:
    """None when PostgreSQL answers on 127.0.0.1:5432, else the reason it does not (asked once per process)."""
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        try:
            conn = await _pg_admin()
            await conn.close()
            _PG_PROBLEM = None
        except Exception as exc:  # any failure to connect is a reason to skip
            _PG_PROBLEM = f"PostgreSQL on 127.0.0.1:5432 is not reachable: {exc!r}"
    return _PG_PROBLEM  # type: ignore[return-value]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # tests drive the maintenance timer and the monitor engine with clocks of their own
    return config.use(Settings(data_dir=tmp_path / "data", secret="test-secret", port=8080,
                               maintenance_timer=False, monitors=False,
                               notifications=False))


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind. PostgreSQL: created and dropped by the test; skipped when the
    server is unreachable, except under CI=true where it must run."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'test.sqlite3'}"
        return
    async with fresh_postgres() as url:
        yield url


@asynccontextmanager
async def fresh_postgres(prefix: str = "beacon_test") -> AsyncIterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards; skips the test when PostgreSQL is unreachable,
    except under CI=true where it must run."""
    problem = await postgres_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {problem}")
        pytest.skip(problem)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = await _pg_admin()
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        admin = await _pg_admin()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def beacon(settings: Settings, database_url: str) -> AsyncIterator[Settings]:
    """The runtime started on a fresh database (both kinds): storage, snapshots and event wiring."""
    from dataclasses import replace

    running = config.use(replace(settings, database_url=database_url))
    await runtime.start(running)
    try:
        yield running
    finally:
        await runtime.stop()


@pytest.fixture
async def beacon_sqlite(settings: Settings) -> AsyncIterator[Settings]:
    """The runtime on SQLite only (UI and HTTP tests, where the database kind is not the point)."""
    await runtime.start(settings)
    try:
        yield settings
    finally:
        await runtime.stop()


@pytest.fixture
async def user(beacon_sqlite: Settings, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest):
    """NiceGUI's simulated user on the app of main.py, with the runtime already started."""
    main_file = Path(request.config.rootpath) / "main.py"
    async with user_simulation(main_file=main_file) as simulated:
        yield simulated
    errors = [r for r in caplog.get_records("call") if r.levelname == "ERROR"]
    if errors:
        pytest.fail(f"There were unexpected ERROR logs: {errors}", pytrace=False)


@pytest.fixture
async def client(beacon_sqlite: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP client for the cookie-free public routes, on an app built from their routers (PITFALLS.md: main.py's
    ``ui.run_with`` must not run again in tests), with the runtime started on SQLite."""
    from fastapi import FastAPI

    from app.api import assets, custom_metrics, feeds, problems, public, subscribe

    app = FastAPI()
    problems.install(app)
    for router in (public.router, assets.router, feeds.router, subscribe.router, custom_metrics.public_router):
        app.include_router(router)
    subscribe.FORM_LIMIT.reset()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as http:
        yield http


@pytest.fixture
async def published() -> AsyncIterator[list]:
    """Every event published while the test runs, in order."""
    seen: list = []

    async def record(event) -> None:
        seen.append(event)

    bus.subscribe(record)
    try:
        yield seen
    finally:
        bus.unsubscribe(record)


async def settle() -> None:
    """Wait until published events and the snapshot rebuilds they cause have finished."""
    await bus.drain()
    await store.settle()


@pytest.fixture
async def hung_port() -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that accepts connections and never sends or reads a byte."""
    held: list[asyncio.StreamWriter] = []

    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield port
    server.close()
    for w in held:
        w.close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connection refused)."""
    return _free_port()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

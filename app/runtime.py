"""Start-up and shut-down wiring: storage → first owner → snapshots and their event subscriptions."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from tortoise import connections

from app import audit, events
from app.config import Settings
from app.events import bus
from app.snapshot import store
from storage.db import close_database, dialect, open_database

log = logging.getLogger(__name__)
OUTBOX_GRACE_SECONDS = 3.0  # the delivery in flight may finish within this at shutdown


# How often to look for writes made by another process (the CLI, a second Beacon on the same database).
WATCH_SECONDS = 2.0


@dataclass
class State:
    """Process-wide facts derived from the database, cached so public routes never query it."""

    settings: Settings | None = None
    has_owner: bool = False
    started: bool = False
    watcher: asyncio.Task | None = None


state = State()


async def _on_user_changed(_: events.Event) -> None:
    from app.services.users import owner_exists

    state.has_owner = await owner_exists()


async def _data_version(dialect: str) -> int:
    """A number that changes when another process commits. SQLite counts other connections' commits
    itself; on PostgreSQL every service write appends to the audit chain, so its head moves."""
    conn = connections.get("default")
    if dialect == "sqlite":
        _, rows = await conn.execute_query("PRAGMA data_version")
        return int(rows[0][0])
    _, rows = await conn.execute_query("SELECT seq FROM audit_head WHERE id = 1")
    return int(rows[0]["seq"]) if rows else 0


async def _watch_other_processes(dialect: str) -> None:
    """Rebuild every snapshot when another process has written, e.g. ``python main.py demo`` while serving.
    (Several Beacon processes on one PostgreSQL will relay events with LISTEN/NOTIFY; this is the fallback.)"""
    from app.services.users import owner_exists

    last = await _data_version(dialect)
    while True:
        await asyncio.sleep(WATCH_SECONDS)
        try:
            version = await _data_version(dialect)
            # SQLite's data_version counts only other connections' commits; PostgreSQL's chain head moves with
            # ours too, so there a reload is needed only when another process appended
            elsewhere = version != last and (dialect == "sqlite" or audit.written_elsewhere(last, version))
            last = version
            if elsewhere:
                await store.load_all()
                state.has_owner = await owner_exists()
                from app.services.monitor_engine import engine

                if engine.running:
                    await engine.resync()
                log.info("runtime.reloaded_after_external_write version=%s", version)
        except Exception:
            log.warning("runtime.watch_failed", exc_info=True)


async def start(settings: Settings) -> None:
    from app.services import users

    await open_database(settings.effective_database_url)
    if settings.owner_email and settings.owner_password and not await users.owner_exists():
        await users.create_first_owner(email=settings.owner_email, password=settings.owner_password)
        log.info("setup.owner_created_from_environment email=%s", settings.owner_email)
    state.settings = settings
    state.has_owner = await users.owner_exists()
    store.reset(settings.effective_base_url)
    await store.load_all()
    bus.subscribe(store.on_event)
    bus.subscribe(_on_user_changed, [events.USER_CHANGED])
    store.start_rollover()
    if settings.maintenance_timer:
        from app.maintenance_timer import timer

        timer.start()
    if settings.notifications:
        from app.notify.outbox import outbox
        from app.services.notices import notices

        outbox.start()
        notices.start()  # uptime alerts and scheduled reports
    if settings.monitors:
        from app.services.monitor_engine import engine

        await engine.start(concurrency=settings.monitor_concurrency, retention_days=settings.heartbeat_retention_days)
    audit.forget_committed()
    state.watcher = asyncio.get_running_loop().create_task(
        _watch_other_processes(dialect(settings.effective_database_url)))
    state.started = True
    log.info("runtime.started pages=%s", len(store.by_id))


async def stop() -> None:
    if not state.started:
        return
    if state.watcher is not None:
        state.watcher.cancel()
        state.watcher = None
    store.stop_rollover()
    from app.maintenance_timer import timer
    from app.notify.outbox import outbox
    from app.services.monitor_engine import engine
    from app.services.notices import notices

    # side by side, so that their waits do not add up: SIGTERM to exit stays within 10 s (docs/deploy.md)
    results = await asyncio.gather(engine.stop(), notices.stop(), outbox.stop(grace=OUTBOX_GRACE_SECONDS),
                                   return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            log.error("runtime.stop_failed", exc_info=result)

    timer.stop()
    await bus.drain()
    await store.settle()
    bus.clear()
    state.started = False
    await close_database()
    log.info("runtime.stopped")

"""Start-up and shut-down wiring: storage → first owner → snapshots and their event subscriptions."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from app import events
from app.config import Settings
from app.events import bus
from app.snapshot import store
from storage.db import close_database, open_database

log = logging.getLogger(__name__)


@dataclass
class State:
    """Process-wide facts derived from the database, cached so public routes never query it."""

    settings: Settings | None = None
    has_owner: bool = False
    started: bool = False


state = State()


async def _on_user_changed(_: events.Event) -> None:
    from app.services.users import owner_exists

    state.has_owner = await owner_exists()


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
    state.started = True
    log.info("runtime.started pages=%s", len(store.by_id))


async def stop() -> None:
    if not state.started:
        return
    await bus.drain()
    await store.settle()
    bus.clear()
    state.started = False
    await close_database()
    log.info("runtime.stopped")

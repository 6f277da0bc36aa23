"""Fixtures of the API tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.api import custom_metrics, management, monitors, problems, public
from app.auth import Actor
from app.services import apikeys, users
from tests.api.management_client import Api


@pytest.fixture
async def api(beacon_sqlite) -> AsyncIterator[Api]:
    """The management API (on an app built from the routers, PITFALLS.md) with an owner's admin and read-only
    keys, the runtime started on SQLite."""
    owner = await users.create_first_owner(email="owner@example.com", password="correct horse")
    _, admin_key = await apikeys.create_api_key(Actor.system(), email=owner.email, name="deploy bot")
    _, read_only_key = await apikeys.create_api_key(Actor.system(), email=owner.email, name="dashboard",
                                                  role="READ_ONLY")
    app = FastAPI()
    problems.install(app)
    app.include_router(public.router)
    app.include_router(monitors.push_router)
    app.include_router(custom_metrics.public_router)
    management.include(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://test") as http:
        yield Api(http, admin_key, read_only_key)

"""Drafts and private pages on the public routes: 404 for visitors, the way to the staff preview for a browser
that has a NiceGUI session. Tested on a FastAPI app built from the routers (PITFALLS.md)."""

from __future__ import annotations

import httpx
import pytest

from app.auth import Actor
from app.runtime import state
from app.services import pages
from tests.conftest import settle

SYSTEM = Actor.system("test")
A_SESSION = {"session": "any-value"}  # the public side only looks at whether the cookie is there


@pytest.mark.parametrize("hidden", [{"public": False}, {"active": False}], ids=["private", "draft"])
async def test_a_browser_with_a_session_is_sent_to_the_preview_of_a_hidden_page(client: httpx.AsyncClient, hidden):
    await pages.create_page(SYSTEM, title="Launch", slug="launch", **hidden)
    await settle()

    anonymous = await client.get("/status/launch")
    with_session = await client.get("/status/launch", cookies=A_SESSION)

    assert anonymous.status_code == 404
    assert with_session.status_code == 307
    assert with_session.headers["location"] == "/admin/preview/launch"
    assert with_session.headers["cache-control"] == "no-store"


async def test_the_redirect_does_not_tell_a_hidden_page_from_a_missing_one(client: httpx.AsyncClient):
    await pages.create_page(SYSTEM, title="Launch", slug="launch", active=False)
    await settle()

    hidden = await client.get("/status/launch", cookies=A_SESSION)
    missing = await client.get("/status/nothing-here", cookies=A_SESSION)

    assert (hidden.status_code, missing.status_code) == (307, 307)
    assert missing.headers["location"] == "/admin/preview/nothing-here"


async def test_a_visible_page_is_served_as_usual_to_a_browser_with_a_session(client: httpx.AsyncClient):
    await pages.create_page(SYSTEM, title="Acme", slug="acme")
    await settle()

    response = await client.get("/status/acme", cookies=A_SESSION)

    assert response.status_code == 200
    assert "Preview" not in response.text


async def test_json_of_a_hidden_page_stays_404_even_with_a_session(client: httpx.AsyncClient):
    await pages.create_page(SYSTEM, title="Launch", slug="launch", public=False)
    await settle()

    response = await client.get("/status/launch/api/v2/summary.json", cookies=A_SESSION)

    assert response.status_code == 404


async def test_a_hidden_default_page_at_the_root_sends_staff_to_its_preview(client: httpx.AsyncClient, monkeypatch):
    monkeypatch.setattr(state, "has_owner", True)  # past first-run setup
    await pages.create_page(SYSTEM, title="Launch", slug="launch", active=False)
    await settle()

    anonymous = await client.get("/")
    with_session = await client.get("/", cookies=A_SESSION)

    assert anonymous.status_code == 404
    assert with_session.status_code == 307
    assert with_session.headers["location"] == "/admin/preview/launch"

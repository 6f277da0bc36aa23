"""Fixtures of the admin screens' User tests."""

from __future__ import annotations

import pytest
from nicegui import ui
from nicegui.testing import User


@pytest.fixture
async def signed_in(user: User) -> User:
    """The simulated user, signed in as the owner through the login form."""
    from app.runtime import state
    from app.services import users

    await users.create_first_owner(email="owner@example.com", password="correct horse")
    state.has_owner = True
    await user.open("/login")
    user.find("E-mail").type("owner@example.com")
    user.find("Password").type("correct horse")
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)
    return user

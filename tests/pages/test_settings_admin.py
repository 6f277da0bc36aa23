"""/admin/settings through NiceGUI's simulated user: the owner's backup download (a beacon-export document, audited)
and retention form (saved values, a bad value on its input, the audit anchor line), and an admin's refusal."""

from __future__ import annotations

import asyncio
import importlib
import json

import pytest
from nicegui.testing import User

from app.auth import Actor
from app.enums import Role
from app.services import retention, users
from storage.models import AuditEntryRow, InstallSetting
from tests.pages.screens import click, element, set_value

PASSWORD = "correct horse battery"


async def _error_on(user: User, marker: str) -> None:
    """Wait until the service's answer to the click lands on the input."""
    for _ in range(100):
        if element(user, marker).error:
            return
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def settings_screen(user: User) -> None:
    """The screen's module, until main.py's register_pages imports it (the harness forgets page modules)."""
    importlib.import_module("pages.admin.settings")


async def test_the_owner_sees_both_cards_and_downloads_an_audited_backup(signed_in: User):
    await signed_in.open("/admin/settings")
    await signed_in.should_see("Backup")
    await signed_in.should_see("Retention")
    await signed_in.should_see("keep it safe")

    click(signed_in, "Download backup")
    download = await signed_in.download.next(timeout=10)

    document = json.loads(download.content.decode())
    assert document["format"] == "beacon-export" and document["secrets"] is False
    entry = await AuditEntryRow.get(action="backup.export")
    assert entry.actor_label == "owner@example.com"
    assert entry.changes["credentials_included"] is False


async def test_the_owner_saves_retention_and_a_bad_value_shows_on_its_input(signed_in: User):
    await signed_in.open("/admin/settings")
    await signed_in.should_see("Retention")
    await signed_in.should_not_see(marker="audit_days")  # the audit trail is kept forever by default

    set_value(signed_in, "heartbeat_days", 0)
    click(signed_in, "Save retention")
    await _error_on(signed_in, "heartbeat_days")
    assert "between 1 and 3650" in element(signed_in, "heartbeat_days").error
    assert await InstallSetting.filter(key=retention.KEY).count() == 0

    set_value(signed_in, "heartbeat_days", 14)
    set_value(signed_in, "delivery_days", 90)
    set_value(signed_in, "audit_prune", True)
    await signed_in.should_see(marker="audit_days")
    set_value(signed_in, "audit_days", 10)
    click(signed_in, "Save retention")
    await _error_on(signed_in, "audit_days")
    assert "at least 30 days" in element(signed_in, "audit_days").error
    assert element(signed_in, "heartbeat_days").error is None

    set_value(signed_in, "audit_days", 400)
    click(signed_in, "Save retention")
    await signed_in.should_see("Retention saved")
    assert await retention.current() == retention.Retention(14, 90, 400)
    entry = await AuditEntryRow.get(action="settings.update", entity_id="retention")
    assert entry.changes["retention"]["audit_days"] == {"old": None, "new": 400}


async def test_the_audit_anchor_is_shown_after_pruning(signed_in: User):
    from datetime import UTC, datetime, timedelta

    await retention.set_retention(Actor.system(), heartbeat_days=30, delivery_days=30, audit_days=30)
    assert await retention.prune_audit(datetime.now(UTC) + timedelta(days=31)) > 0
    anchor = await retention.audit_anchor()

    await signed_in.open("/admin/settings")
    await signed_in.should_see(f"Entries before #{anchor['seq']} were pruned on")
    await signed_in.should_see("the chain is verified from there")


async def test_an_admin_reads_the_refusal(user: User):
    from nicegui import ui

    from app.runtime import state

    await users.create_first_owner(email="owner@example.com", password=PASSWORD)
    await users.create_user(Actor.system(), email="admin@example.com", password=PASSWORD, role=Role.ADMIN)
    state.has_owner = True
    await user.open("/login")
    user.find("E-mail").type("admin@example.com")
    user.find("Password").type(PASSWORD)
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)

    await user.open("/admin/settings")
    await user.should_see("You cannot change the install settings")
    await user.should_not_see("Download backup")
    assert await AuditEntryRow.filter(action="backup.export").count() == 0

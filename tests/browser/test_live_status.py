"""Journey: an admin changes a component's status and a visitor watching the public page sees it live."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import REPO_ROOT, BeaconServer, sign_in

pytestmark = pytest.mark.browser

# The promise: a visitor sees the change within a second, without reloading.
LIVE_UPDATE_SECONDS = 1.0
README_SCREENSHOT = REPO_ROOT / "docs" / "screenshot.png"


def create_page(admin: Page, title: str, slug: str) -> None:
    # Slug first: the dashboard suggests a slug from the title on the server, and that suggestion racing a slug
    # typed within a few milliseconds after the title can leave the field empty.
    admin.get_by_label("Slug").fill(slug)
    admin.get_by_label("Title").fill(title)
    expect(admin.get_by_label("Title")).to_have_value(title)
    expect(admin.get_by_label("Slug")).to_have_value(slug)
    admin.get_by_role("button", name="Create page").click()
    expect(admin.get_by_role("link", name=f"/status/{slug}")).to_be_visible()


def add_component(admin: Page, name: str) -> None:
    admin.get_by_label("New component name").fill(name)
    admin.get_by_role("button", name="Add component").click()
    expect(admin.get_by_label(f"Status of {name}")).to_be_visible()


def choose_status(admin: Page, component: str, label: str) -> None:
    admin.get_by_label(f"Status of {component}").click()
    admin.get_by_role("option", name=label, exact=True).click()


def test_visitor_sees_a_major_outage_within_a_second_without_reloading(
        beacon_server: BeaconServer, new_page, tmp_path: Path):
    admin = new_page()
    visitor = new_page(viewport=(960, 480))  # full-page screenshots grow to fit the content

    sign_in(admin, beacon_server)
    create_page(admin, "Acme Cloud", "acme-cloud")
    for name in ("Website", "API", "Database"):
        add_component(admin, name)

    visitor.goto("/status/acme-cloud")
    banner = visitor.locator("section.banner")
    api = visitor.locator("li.component").filter(has_text="API")
    expect(banner).to_have_text("All Systems Operational")
    expect(banner).to_have_attribute("data-indicator", "none")
    expect(api.locator(".pill")).to_have_text("Operational")
    expect(visitor.locator("li.component")).to_have_count(3)
    visitor.evaluate("window.__noReload = 1")

    choose_status(admin, "API", "Major outage")
    clicked = time.monotonic()
    expect(admin.get_by_text("API: Major outage")).to_be_visible()  # the service has committed the change
    confirmed = time.monotonic()

    timeout_ms = LIVE_UPDATE_SECONDS * 1000
    expect(api.locator(".pill")).to_have_text("Major outage", timeout=timeout_ms)
    expect(api).to_have_attribute("data-status", "MAJOR_OUTAGE", timeout=timeout_ms)
    expect(banner).to_have_text("Major System Outage", timeout=timeout_ms)
    expect(banner).to_have_attribute("data-indicator", "critical", timeout=timeout_ms)
    seen = time.monotonic()
    assert seen - confirmed < LIVE_UPDATE_SECONDS
    assert visitor.evaluate("window.__noReload") == 1, "the visitor's page was reloaded"
    for other in ("Website", "Database"):
        expect(visitor.locator("li.component").filter(has_text=other).locator(".pill")).to_have_text("Operational")
    print(f"live update: {seen - clicked:.3f} s after the click, {seen - confirmed:.3f} s after confirmation")

    expect(admin.get_by_role("listbox")).to_be_hidden()  # the status menu has finished closing
    admin.screenshot(path=tmp_path / "admin.png", full_page=True)
    visitor.screenshot(path=tmp_path / "visitor.png", full_page=True)
    if os.environ.get("BEACON_UPDATE_SCREENSHOT"):  # refresh the README's picture on request only
        shutil.copyfile(tmp_path / "visitor.png", README_SCREENSHOT)

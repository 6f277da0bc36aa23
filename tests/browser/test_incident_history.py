"""Journey: on the demo page a visitor follows the open incident to its timeline, then reads the history, filters
it by a component and opens a past incident's root-cause write-up."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import REPO_ROOT, BeaconServer, load_demo

pytestmark = pytest.mark.browser

INCIDENT_SCREENSHOT = REPO_ROOT / "docs" / "incident-page.png"
HISTORY_SCREENSHOT = REPO_ROOT / "docs" / "history-page.png"


def _keep(page: Page, tmp_path: Path, target: Path) -> None:
    page.screenshot(path=tmp_path / target.name, full_page=True)
    if os.environ.get("BEACON_UPDATE_SCREENSHOT"):  # refresh the docs' pictures on request only
        shutil.copyfile(tmp_path / target.name, target)


def test_a_visitor_follows_an_incident_and_searches_the_history(beacon_server: BeaconServer, new_page, tmp_path):
    load_demo(beacon_server)
    visitor = new_page()
    visitor.goto("/status/demo")
    open_incident = visitor.get_by_role("link", name="Elevated errors in Dublin")
    expect(open_incident).to_be_visible()

    open_incident.click()
    expect(visitor).to_have_url(re.compile(r"/status/demo/incidents/\d+$"))
    expect(visitor.get_by_role("heading", name="Elevated errors in Dublin")).to_be_visible()
    main = visitor.locator("main")
    expect(main).to_contain_text("A failed network switch")
    expect(main).to_contain_text("Some requests served from Dublin fail")
    expect(main.locator("strong", has_text="Dublin")).to_be_visible()  # Markdown rendered, not shown raw
    expect(main).to_contain_text("Dublin: Operational → Partial outage")
    expect(main).to_contain_text("UTC")  # times carry their zone

    visitor.get_by_role("link", name="Incident history").first.click()
    expect(visitor.get_by_role("heading", name="Incident history")).to_be_visible()
    for title in ("Email delivery delayed", "API unavailable", "Database upgrade", "Elevated errors in Dublin"):
        expect(visitor.get_by_role("link", name=title)).to_be_visible()
    _keep(visitor, tmp_path, HISTORY_SCREENSHOT)

    visitor.get_by_label("Component").select_option(label="Email delivery")
    visitor.get_by_role("button", name="Show").click()
    expect(visitor).to_have_url(re.compile(r"/status/demo/history\?component=\d+"))
    expect(visitor.get_by_role("link", name="Email delivery delayed")).to_be_visible()
    expect(visitor.get_by_role("link", name="API unavailable")).to_have_count(0)

    visitor.get_by_role("link", name="Email delivery delayed").click()
    expect(visitor.get_by_role("heading", name="Postmortem")).to_be_visible()
    expect(visitor.get_by_role("heading", name="What happened")).to_be_visible()
    updates = visitor.locator("main").get_by_text("Every queued message has been delivered.")
    expect(updates).to_be_visible()
    _keep(visitor, tmp_path, INCIDENT_SCREENSHOT)

"""The public status page in Chromium, with the demo page (``python main.py demo``): a phone without JavaScript
sees the whole current status without scrolling sideways, and a visitor's open and closed groups survive a
reload without the page jumping."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import BeaconServer, load_demo

pytestmark = pytest.mark.browser

PHONE = (390, 844)
# Records every layout shift from the first paint on; a page that restores state late would shift.
LAYOUT_SHIFTS = """window.__shifts = [];
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__shifts.push(e.value); })
  .observe({type: "layout-shift", buffered: true});"""


@pytest.fixture
def demo(beacon_server: BeaconServer) -> BeaconServer:
    """The running server with the demo page loaded by the CLI, as a newcomer would do it."""
    load_demo(beacon_server)
    return beacon_server


def group(page: Page, name: str):
    return page.locator("li.group").filter(has=page.locator(f"summary:has-text('{name}')")).first


def test_a_phone_without_javascript_sees_every_status_and_30_days_of_bars_without_scrolling_sideways(
        browser, demo: BeaconServer):
    context = browser.new_context(base_url=demo.base_url, java_script_enabled=False,
                                  viewport={"width": PHONE[0], "height": PHONE[1]})
    try:
        page = context.new_page()
        page.goto("/status/demo")

        expect(page.locator("section.banner")).to_have_text("Partial System Outage")
        expect(page.locator("li.group summary .pill")).to_have_count(5)  # collapsed groups still say their status
        dublin = page.locator("li.component").filter(has_text="Dublin")
        expect(dublin.locator(".pill")).to_have_text("Partial outage")
        bars = dublin.locator("ol.bars > li")
        expect(bars).to_have_count(90)
        assert sum(bars.nth(i).is_visible() for i in range(90)) == 30
        expect(dublin.locator(".uptime-legend")).to_contain_text("30 days ago")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
        page.locator("li.group summary", has_text="Data").click()  # <details> opens without any script
        expect(page.locator("li.component").filter(has_text="Payments")).to_be_visible()
    finally:
        context.close()


def test_a_visitors_open_and_closed_groups_survive_a_reload_without_the_page_jumping(browser, demo: BeaconServer):
    context = browser.new_context(base_url=demo.base_url, viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto("/status/demo")
        website, api = group(page, "Website"), group(page, "API")
        expect(website.locator("details")).not_to_have_attribute("open", "")  # all operational: collapsed
        expect(api.locator("details")).to_have_attribute("open", "")  # something is wrong: open

        website.locator("summary").first.click()
        api.locator("summary").first.click()
        expect(api.locator("li.component").first).to_be_hidden()
        page.add_init_script(LAYOUT_SHIFTS)
        page.reload()

        expect(website.locator("li.component").first).to_be_visible()
        expect(api.locator("li.component").first).to_be_hidden()
        page.wait_for_load_state("load")
        assert page.evaluate("window.__shifts") == []
    finally:
        context.close()

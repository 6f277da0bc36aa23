"""Journey: an admin opens a monitor of the demo and reads its response-time chart, which only a browser draws
(ECharts on a canvas): 24 hours of points, then 90 days after a click on the range; "Check now" records a check.
The screenshot in docs/monitors.md is taken here."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import REPO_ROOT, BeaconServer, load_demo, sign_in

pytestmark = pytest.mark.browser

DOCS_SCREENSHOT = REPO_ROOT / "docs" / "monitor-page.png"

# Distinct colours in the chart's canvas: an empty chart is one or two (background, axis); a drawn line many more.
CANVAS_COLOURS_JS = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const seen = new Set();
  for (let i = 0; i < data.length; i += 16) seen.add(data[i] + ',' + data[i+1] + ',' + data[i+2] + ',' + data[i+3]);
  return seen.size;
}"""


def test_the_monitor_page_draws_its_response_time_chart(new_page, beacon_server: BeaconServer):
    admin = new_page()
    sign_in(admin, beacon_server)
    load_demo(beacon_server)
    admin.goto("/admin/monitors")
    # follow the link by its address: the list may redraw under a click while the demo's writes arrive
    href = admin.get_by_role("link", name="Email delivery check").get_attribute("href")
    assert href and href.startswith("/admin/monitors/")
    admin.goto(href)
    expect(admin.get_by_text("Response time", exact=True)).to_be_visible()
    chart = admin.locator(".nicegui-echart canvas").first
    expect(chart).to_be_visible()
    admin.wait_for_timeout(800)  # ECharts animates the first drawing
    assert chart.evaluate(CANVAS_COLOURS_JS) > 20, "the 24-hour chart is empty"

    admin.get_by_role("button", name="90d").click()
    admin.wait_for_timeout(800)
    assert chart.evaluate(CANVAS_COLOURS_JS) > 20, "the 90-day chart is empty"
    # the 95-minute outage 12 days ago is in the 90-day figure, not in the 24-hour one
    expect(admin.get_by_text("UPTIME, 24 HOURS", exact=False)).to_be_visible()
    figures = admin.locator("text=/\\d+(\\.\\d+)? %/").all_inner_texts()
    assert "100 %" in figures and any(f != "100 %" for f in figures), figures
    admin.screenshot(path=str(DOCS_SCREENSHOT), full_page=True)

    admin.get_by_role("button", name="Check now").click()
    expect(admin.get_by_text("Last check: just now")).to_be_visible()

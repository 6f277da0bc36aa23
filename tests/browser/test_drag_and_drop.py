"""Journey: an admin drags a component into another, nested group with a real mouse; the new order is stored, and a
visitor who had the public page open sees the component inside its new group without reloading."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import REPO_ROOT, BeaconServer, load_demo, sign_in

pytestmark = pytest.mark.browser

LIVE_UPDATE_SECONDS = 1.0  # the promise: public pages follow within a second
PAGE_READY_SECONDS = 15.0  # the server notices the demo loaded by another process within a few seconds
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "structure-editor.png"

# Both the editor and the public page mark rows with data-group-id / data-component-id: the tree as ids, top to
# bottom, each item under the nearest group around it.
OUTLINE_JS = """() => {
  const items = [...document.querySelectorAll('[data-group-id],[data-component-id]')];
  const build = (parent) => items.filter(el => el.parentElement.closest('[data-group-id]') === parent)
    .map(el => el.dataset.groupId ? ['group ' + el.dataset.groupId, build(el)] : 'component ' + el.dataset.componentId);
  return build(null);
}"""


def open_when_published(visitor: Page, path: str) -> None:
    deadline = time.monotonic() + PAGE_READY_SECONDS
    while (response := visitor.goto(path)) is None or response.status != 200:
        assert time.monotonic() < deadline, f"{path} still answers {response and response.status}"
        visitor.wait_for_timeout(200)


def row_id(handle: Locator, kind: str) -> str:
    """The id of the component or group a drag handle belongs to."""
    value = handle.locator(f"xpath=ancestor::*[@data-{kind}-id][1]").get_attribute(f"data-{kind}-id")
    assert value
    return value


def drag(page: Page, handle: Locator, target: Locator, fraction: float) -> None:
    """Press on ``handle``, move the mouse in small steps to ``fraction`` of ``target``'s height and release there.
    SortableJS follows the pointer through the moves in between; a jump straight to the target would not drag."""
    start, end = handle.bounding_box(), target.bounding_box()
    assert start and end
    x, y = start["x"] + start["width"] / 2, start["y"] + start["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x, y + 10, steps=5)  # past the distance after which a press becomes a drag
    to_x, to_y = end["x"] + 80, end["y"] + end["height"] * fraction
    page.mouse.move(to_x, to_y, steps=30)
    page.mouse.move(to_x, to_y + 2, steps=2)  # one more move where it is: the drop place settles
    page.mouse.up()


def test_a_component_dragged_into_a_nested_group_stays_there_and_visitors_see_it_live(
        beacon_server: BeaconServer, new_page, tmp_path: Path):
    page_id = load_demo(beacon_server)
    visitor = new_page(viewport=(1000, 900))
    admin = new_page(viewport=(1280, 1100))

    open_when_published(visitor, "/status/demo")
    visitor.evaluate("window.__noReload = 1")
    sign_in(admin, beacon_server)
    admin.goto(f"/admin/pages/{page_id}/structure")
    expect(admin.get_by_text("Structure of Acme Cloud", exact=True)).to_be_visible()
    # fold away the groups this journey does not touch, as an admin would, so that both ends of the drag show
    for name in ("Website", "Data"):
        admin.get_by_label(f"Collapse {name}").click()
        expect(admin.get_by_label(f"Expand {name}")).to_be_visible()

    search = row_id(admin.get_by_label("Drag Search API"), "component")
    api = row_id(admin.get_by_label("Drag API", exact=True), "group")
    europe = row_id(admin.get_by_label("Drag Europe"), "group")
    europe_box = admin.locator(f'[data-group-id="{europe}"]')
    expect(europe_box.get_by_text("4 inside")).to_be_visible()
    on_public_page = visitor.locator(f'[data-group-id="{europe}"] [data-component-id="{search}"]')
    expect(on_public_page).to_have_count(0)
    expect(visitor.locator(f'[data-group-id="{api}"]')).to_have_attribute("data-status", "DEGRADED")

    # "5 inside" is drawn from the database once the move is stored (SortableJS alone cannot change it). On a
    # loaded machine the synthetic mouse can outrun SortableJS and the drop does not register: drag again then,
    # as a person would (twice seen in ~10 runs of the whole suite on 2 busy cores).
    for attempt in range(3):
        drag(admin, admin.get_by_label("Drag Search API"), europe_box.locator("[data-component-id]").nth(1), 0.5)
        try:
            expect(europe_box.get_by_text("5 inside")).to_be_visible()
            break
        except AssertionError:
            if attempt == 2:
                raise
    confirmed = time.monotonic()
    expect(europe_box.locator(f'[data-component-id="{search}"]')).to_have_count(1)
    stored = admin.evaluate(OUTLINE_JS)

    timeout_ms = LIVE_UPDATE_SECONDS * 1000
    expect(on_public_page).to_have_count(1, timeout=timeout_ms)
    # the group it left is all operational now
    expect(visitor.locator(f'[data-group-id="{api}"]')).to_have_attribute("data-status", "OPERATIONAL",
                                                                          timeout=timeout_ms)
    seen = time.monotonic()
    assert seen - confirmed < LIVE_UPDATE_SECONDS
    assert visitor.evaluate("window.__noReload") == 1, "the visitor's page was reloaded"
    assert visitor.evaluate(OUTLINE_JS) == stored, "the public page shows another order than the one stored"
    print(f"public page followed {seen - confirmed:.3f} s after the editor showed the stored move")

    admin.mouse.move(0, 0)  # no hover highlight in the picture
    admin.screenshot(path=tmp_path / "structure-editor.png", full_page=True)
    if os.environ.get("BEACON_UPDATE_SCREENSHOT"):  # refresh the docs' picture on request only
        shutil.copyfile(tmp_path / "structure-editor.png", DOCS_SCREENSHOT)

    admin.reload()
    expect(admin.locator(f'[data-group-id="{europe}"]').get_by_text("5 inside")).to_be_visible()
    assert admin.evaluate(OUTLINE_JS) == stored, "the order did not hold across a reload"

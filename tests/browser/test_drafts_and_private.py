"""Journeys in Chromium: drafts and private pages are hidden from visitors and previewed for staff; a custom
domain serves its page at the root; the page editor with its live preview."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import REPO_ROOT, BeaconServer, sign_in
from tests.images import logo

pytestmark = pytest.mark.browser

EDITOR_SCREENSHOT = REPO_ROOT / "docs" / "page-editor.png"
HTTP_TIMEOUT_SECONDS = 5.0


def create_page(admin: Page, title: str, slug: str) -> None:
    admin.goto("/admin")
    # slug first: the dashboard suggests a slug when the title is left (see test_live_status.py)
    admin.get_by_label("Slug").fill(slug)
    admin.get_by_label("Title").fill(title)
    expect(admin.get_by_label("Slug")).to_have_value(slug)
    admin.get_by_role("button", name="Create page").click()
    # the dashboard lists the new page with a link to it (whatever the link's wording)
    expect(admin.locator(f'a[href="/status/{slug}"]').first).to_be_visible()


def open_editor(admin: Page, slug: str) -> None:
    admin.goto(f"/admin/pages/{slug}")
    expect(admin.get_by_text("Appearance", exact=True)).to_be_visible()


def save(admin: Page) -> None:
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_text("Page settings saved")).to_be_visible()


def assert_hidden_from(visitor: Page, slug: str) -> None:
    page = visitor.goto(f"/status/{slug}")
    assert page is not None and page.status == 404
    expect(visitor.get_by_role("heading", name="Page not found")).to_be_visible()
    assert visitor.request.get(f"/status/{slug}/api/v2/summary.json").status == 404


def test_drafts_and_private_pages_are_404_to_visitors_and_previewed_for_staff(
        beacon_server: BeaconServer, new_page):
    admin, visitor = new_page(), new_page()
    sign_in(admin, beacon_server)
    create_page(admin, "Launch", "launch")
    create_page(admin, "Internal", "internal")

    open_editor(admin, "launch")
    admin.get_by_role("button", name="Back to draft").click()
    expect(admin.get_by_text("A draft is visible only to signed-in staff")).to_be_visible()
    open_editor(admin, "internal")
    admin.get_by_role("switch", name=re.compile("Public")).click()
    save(admin)

    assert_hidden_from(visitor, "launch")
    assert_hidden_from(visitor, "internal")

    admin.goto("/status/launch")
    expect(admin).to_have_url(re.compile(r"/admin/preview/launch$"))
    expect(admin.get_by_role("note")).to_have_text(
        "Preview — this page is a draft: visitors cannot see it until it is activated.")
    expect(admin.get_by_role("heading", name="Launch")).to_be_visible()
    admin.goto("/status/internal")
    expect(admin.get_by_role("note")).to_have_text("Preview — this page is private: only signed-in staff can see it.")

    open_editor(admin, "launch")
    admin.get_by_role("button", name="Activate").click()
    expect(admin.get_by_text("'Launch' is active")).to_be_visible()
    published = visitor.goto("/status/launch")
    assert published is not None and published.status == 200
    expect(visitor.get_by_role("heading", name="Launch")).to_be_visible()
    expect(visitor.get_by_role("note")).to_have_count(0)  # no preview banner for visitors


def test_a_custom_domain_serves_its_page_at_the_root_and_its_api(beacon_server: BeaconServer, new_page):
    admin = new_page()
    sign_in(admin, beacon_server)
    create_page(admin, "Acme Cloud", "acme")  # the first page is the default one
    create_page(admin, "Acme Payments", "payments")
    open_editor(admin, "payments")
    admin.get_by_label("Custom domain").fill("status.example.com")
    save(admin)

    with httpx.Client(base_url=beacon_server.base_url, timeout=HTTP_TIMEOUT_SECONDS) as http:
        bound = http.get("/", headers={"Host": "status.example.com"})
        bound_api = http.get("/api/v2/summary.json", headers={"Host": "status.example.com"})
        default = http.get("/")

    assert bound.status_code == 200
    assert "<h1>Acme Payments</h1>" in bound.text
    assert bound_api.json()["page"]["name"] == "Acme Payments"
    assert bound_api.json()["page"]["url"] == "https://status.example.com/"
    assert "<h1>Acme Cloud</h1>" in default.text


def test_the_editor_brands_the_page_and_previews_it_live(beacon_server: BeaconServer, new_page, tmp_path: Path):
    # tall enough for the whole editor: a full-page capture would paint NiceGUI's fixed header mid-page
    admin, visitor = new_page(viewport=(1280, 1560)), new_page()
    sign_in(admin, beacon_server)
    create_page(admin, "Acme Cloud", "acme")
    open_editor(admin, "acme")

    uploader = admin.locator(".q-uploader").filter(has_text="Upload logo")
    uploader.locator("input[type=file]").set_input_files(
        files=[{"name": "logo.png", "mimeType": "image/png", "buffer": logo(160, 48)}])
    expect(admin.get_by_text("Logo uploaded")).to_be_visible()
    admin.get_by_label("Header colour").fill("#0f172a")
    admin.get_by_label("Description").fill("Cloud services for Acme customers")
    admin.get_by_label("Footer text").fill("© Acme Inc. · support@acme.test")

    preview = admin.frame_locator("iframe[title='Preview of the status page']")
    expect(preview.get_by_text("Cloud services for Acme customers")).to_be_visible()
    expect(preview.locator("header.branded img.logo")).to_have_js_property("naturalWidth", 160)
    visitor.goto("/status/acme")
    expect(visitor.get_by_text("Cloud services for Acme customers")).to_have_count(0)  # not saved yet

    save(admin)
    expect(admin.get_by_text("Page settings saved")).to_be_hidden()  # no notification over the screenshot
    admin.screenshot(path=tmp_path / "page-editor.png")
    if os.environ.get("BEACON_UPDATE_SCREENSHOT"):  # refresh the docs' picture on request only
        shutil.copyfile(tmp_path / "page-editor.png", EDITOR_SCREENSHOT)

    visitor.reload()  # revalidates: the page's earlier copy may be fresh in the browser cache for 10 s
    header = visitor.locator("header")
    expect(header.get_by_role("img", name="Acme Cloud")).to_have_js_property("naturalWidth", 160)
    expect(header).to_have_css("background-color", "rgb(15, 23, 42)")
    expect(header.get_by_role("heading", name="Acme Cloud")).to_have_css("color", "rgb(255, 255, 255)")
    expect(visitor.get_by_text("© Acme Inc. · support@acme.test")).to_be_visible()

"""The subscriber's journey in Chromium against the real server and a real SMTP server (aiosmtpd): an admin sets the
mail server for subscriber mail; a visitor subscribes to two components from the public page, reads the confirmation
mail, opens its link and confirms, then leaves through the unsubscribe link of the mail that follows.

Screenshots of the form and of the confirmation mail go to docs/ for docs/notifications.md."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import REPO_ROOT, BeaconServer, load_demo, sign_in

pytestmark = pytest.mark.browser

FORM_SCREENSHOT = REPO_ROOT / "docs" / "subscribe-form.png"
MAIL_SCREENSHOT = REPO_ROOT / "docs" / "subscribe-mail.png"
MAIL_DEADLINE_SECONDS = 20.0


def wait_for_mail(received: list, count: int) -> None:
    """The outbox worker sends within a few seconds of the change."""
    deadline = time.monotonic() + MAIL_DEADLINE_SECONDS
    while len(received) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} mail(s) expected within {MAIL_DEADLINE_SECONDS:.0f} s, {len(received)} arrived",
                        pytrace=False)
        time.sleep(0.2)


def set_mail_server(admin: Page, port: int) -> None:
    admin.goto("/admin/subscribers")
    expect(admin.get_by_text("Subscriber mail", exact=True)).to_be_visible()
    admin.get_by_label("SMTP host *").fill("127.0.0.1")
    admin.get_by_label("Port").fill(str(port))
    admin.get_by_label("Security").click()
    admin.get_by_role("option", name=re.compile("None")).click()
    admin.get_by_label("From address *").fill("status@acme.example")
    admin.get_by_role("button", name="Save mail server").click()
    expect(admin.get_by_text("Mail server saved")).to_be_visible()


def test_subscribe_confirm_by_mail_and_unsubscribe(beacon_server: BeaconServer, new_page, mailbox):
    port, received = mailbox
    admin, visitor = new_page(), new_page(viewport=(900, 1000))
    sign_in(admin, beacon_server)
    set_mail_server(admin, port)
    load_demo(beacon_server)

    visitor.goto("/status/demo")
    visitor.get_by_role("link", name="Subscribe to updates").click()
    expect(visitor.get_by_role("heading", name="Subscribe to updates")).to_be_visible()
    form = visitor.locator("form", has=visitor.get_by_role("heading", name="By e-mail"))
    form.get_by_label("E-mail address").fill("visitor@example.org")
    form.get_by_label("REST API", exact=True).check()
    form.get_by_label("Marketing site", exact=True).check()
    visitor.screenshot(path=str(FORM_SCREENSHOT), full_page=False)
    form.get_by_role("button", name="Subscribe by e-mail").click()
    expect(visitor.get_by_role("heading", name="Check your inbox")).to_be_visible()

    wait_for_mail(received, 1)
    to, confirmation = received[0]
    assert to == ["visitor@example.org"] and confirmation["Subject"] == "[Acme Cloud] Confirm your subscription"
    html = confirmation.get_body(("html",)).get_content()
    mail_view = new_page(viewport=(700, 520))
    mail_view.set_content(html)
    expect(mail_view.get_by_role("link", name="Confirm subscription")).to_be_visible()
    mail_view.screenshot(path=str(MAIL_SCREENSHOT))
    confirm_url = mail_view.get_by_role("link", name="Confirm subscription").get_attribute("href")
    assert confirm_url and "/status/demo/confirm/" in confirm_url

    visitor.goto(confirm_url)
    visitor.get_by_role("button", name="Confirm subscription").click()
    expect(visitor.get_by_role("heading", name="You are subscribed")).to_be_visible()
    visitor.get_by_role("link", name="Manage your subscription").click()
    expect(visitor.get_by_label("REST API", exact=True)).to_be_checked()
    expect(visitor.get_by_label("Marketing site", exact=True)).to_be_checked()

    # staff see the confirmed subscriber
    admin.goto("/admin/subscribers")
    expect(admin.get_by_text("visitor@example.org")).to_be_visible()
    expect(admin.get_by_text("Confirmed", exact=True)).to_be_visible()

    visitor.get_by_role("button", name="Unsubscribe").click()
    expect(visitor.get_by_role("heading", name="Unsubscribed")).to_be_visible()
    admin.reload()
    expect(admin.get_by_text("visitor@example.org")).to_have_count(0)

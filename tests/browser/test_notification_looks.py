"""What notifications look like to the people who get them, in Chromium: the Discord embed (drawn the way Discord
lays an embed out: colour bar, linked title, description, inline fields, footer) and the incident e-mail's HTML part.
The screenshots are the pictures in docs/notifications.md."""

from __future__ import annotations

import re
from html import escape
from typing import Any

import pytest
from playwright.sync_api import expect

from app.notify import payloads
from tests.browser.conftest import REPO_ROOT
from tests.test_notify_payloads import NOW, incident_event, incident_snapshot

pytestmark = pytest.mark.browser

DISCORD_SCREENSHOT = REPO_ROOT / "docs" / "discord-embed.png"
EMAIL_SCREENSHOT = REPO_ROOT / "docs" / "email-notice.png"


def bold(text: str) -> str:
    """Discord renders Markdown in a description; **bold** is all the example uses."""
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)


def discord_html(payload: dict[str, Any]) -> str:
    """A Discord message with one embed, laid out as Discord's dark theme does."""
    embed = payload["embeds"][0]
    e = escape
    fields = "".join(
        f'<div class="field{" inline" if f["inline"] else ""}"><div class="name">{e(f["name"])}</div>'
        f'<div class="value">{e(f["value"])}</div></div>' for f in embed["fields"])
    return f"""<!doctype html><meta charset="utf-8"><style>
    body {{ background:#313338; color:#dbdee1; font:16px/1.375 "gg sans","Noto Sans",Helvetica,Arial,sans-serif;
           margin:0; padding:24px; }}
    .author {{ font-weight:600; color:#f2f3f5; }} .bot {{ background:#5865f2; color:#fff; font-size:10px;
           border-radius:3px; padding:1px 4px; margin-left:4px; vertical-align:middle; }}
    .embed {{ margin-top:6px; max-width:520px; background:#2b2d31; border-left:4px solid #{embed["color"]:06x};
           border-radius:4px; padding:8px 16px 16px 12px; }}
    .title a {{ color:#00a8fc; font-weight:600; text-decoration:none; }}
    .description {{ margin-top:8px; font-size:14px; white-space:pre-wrap; }}
    .fields {{ display:grid; grid-template-columns:repeat(3, 1fr); gap:8px; margin-top:8px; }}
    .field {{ grid-column:1 / -1; }} .field.inline {{ grid-column:auto; }}
    .name {{ font-size:14px; font-weight:600; color:#f2f3f5; }} .value {{ font-size:14px; white-space:pre-wrap; }}
    .footer {{ margin-top:8px; font-size:12px; color:#b5bac1; }}
    </style>
    <div class="author">{e(payload.get("username", "Beacon"))}<span class="bot">APP</span></div>
    <div class="embed" data-testid="embed">
      <div class="title"><a href="{e(embed["url"])}">{e(embed["title"])}</a></div>
      <div class="description">{bold(e(embed.get("description", "")))}</div>
      <div class="fields">{fields}</div>
      <div class="footer">{e(embed["footer"]["text"])} • {e(embed["timestamp"][:16].replace("T", " "))} UTC</div>
    </div>"""


def test_the_discord_embed_and_the_email_look_right(browser):
    snapshot, event = incident_snapshot(), incident_event()
    discord = payloads.discord_payload(event, snapshot, username="Acme status", avatar_url=None, now=NOW)
    assert discord is not None
    context = browser.new_context(viewport={"width": 640, "height": 220})
    try:
        page = context.new_page()
        page.set_content(discord_html(discord))
        expect(page.get_by_role("link", name="API unavailable")).to_be_visible()
        expect(page.get_by_text("Affected components")).to_be_visible()
        expect(page.get_by_text("API: Partial outage")).to_be_visible()
        page.screenshot(path=str(DISCORD_SCREENSHOT))

        parts = payloads.email_parts(event, snapshot, unsubscribe_url="https://status.example/status/acme/"
                                     "unsubscribe/1.example", now=NOW)
        assert parts is not None
        page.set_viewport_size({"width": 640, "height": 260})
        page.set_content(parts[2])
        expect(page.get_by_role("heading", name="API unavailable")).to_be_visible()
        expect(page.get_by_role("link", name="View the incident")).to_be_visible()
        expect(page.get_by_role("link", name="Unsubscribe")).to_be_visible()
        page.screenshot(path=str(EMAIL_SCREENSHOT))
    finally:
        context.close()

"""Journey: an attacker-controlled (or careless) incident title, update and write-up full of script payloads is
posted through the API; visitors open the status page, the incident page and the history in Chromium, and no
script runs and no dialog opens — while the text itself is still shown."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import REPO_ROOT, BeaconServer, _server_environment

pytestmark = pytest.mark.browser

# Each payload, if it ever ran, would set window.__pwned or open a dialog.
PAYLOADS = [
    "<script>window.__pwned = 'script'</script>",
    "<img src=x onerror=\"window.__pwned='img'\">",
    "<svg onload=\"window.__pwned='svg'\"><circle r=5></circle></svg>",
    "[click me](javascript:window.__pwned='link')",
    "<a href=\"javascript:alert('a')\">plain link</a>",
    "<iframe src=\"javascript:alert('iframe')\"></iframe>",
    "<details open ontoggle=\"window.__pwned='details'\">x</details>",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<style>body{display:none}</style>",
    "</textarea><script>alert('break out')</script>",
]
TITLE = "Outage <img src=x onerror=alert('title')> <script>alert('title')</script>"


def _api_key(server: BeaconServer) -> str:
    env = _server_environment(server.data_dir, 0, server.owner_email, server.owner_password)
    result = subprocess.run([sys.executable, "main.py", "apikey", "create", "--email", server.owner_email,
                             "--name", "xss test"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    return result.stdout.strip().splitlines()[-1]


def _post(server: BeaconServer, key: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(f"{server.base_url}{path}", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_script_payloads_in_incidents_are_shown_as_text_and_never_run(beacon_server: BeaconServer, new_page):
    key = _api_key(beacon_server)
    _post(beacon_server, key, "/api/v1/pages", {"title": "Acme", "slug": "acme"})
    component = _post(beacon_server, key, "/api/v1/components", {"name": "API <b>bold</b>", "pages": ["acme"]})
    body = "\n\n".join(PAYLOADS)
    incident = _post(beacon_server, key, "/api/v1/incidents", {
        "name": TITLE, "impact": "MAJOR", "status": "INVESTIGATING", "body": body, "page": "acme",
        "components": {component["id"]: "MAJOR_OUTAGE"}})
    _post(beacon_server, key, f"/api/v1/incidents/{incident['id']}/updates",
          {"status": "IDENTIFIED", "body": body})
    _post(beacon_server, key, "/api/v1/maintenance", {
        "name": TITLE, "body": body, "page": "acme", "components": [component["id"]],
        "starts_at": "2030-01-01T02:00:00Z", "ends_at": "2030-01-01T03:00:00Z"})

    visitor = new_page()
    dialogs: list[str] = []
    visitor.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    for path in ("/status/acme", f"/status/acme/incidents/{incident['id']}", "/status/acme/history"):
        visitor.goto(path)
        # the title is shown as the text that was typed
        expect(visitor.get_by_text("Outage <img src=x", exact=False).first).to_be_visible()
        visitor.wait_for_timeout(300)  # give an injected handler (onerror, onload, ontoggle) its chance to fire
        assert visitor.evaluate("window.__pwned") is None, f"a payload ran on {path}"
        assert visitor.locator("main script, main iframe, main svg, main img, main style").count() == 0, path
        hrefs = visitor.locator("main a").evaluate_all("links => links.map(a => a.getAttribute('href') || '')")
        assert not [h for h in hrefs if h.strip().lower().startswith(("javascript:", "data:"))], path
        assert visitor.locator("body").is_visible()  # the injected <style> did not hide the page

    visitor.goto(f"/status/acme/incidents/{incident['id']}")
    timeline = visitor.locator("main")
    expect(timeline).to_contain_text("<script>window.__pwned = 'script'</script>")  # shown, not swallowed
    expect(timeline).to_contain_text("click me")  # the words of a refused link survive
    expect(timeline).to_contain_text("plain link")
    for name in ("click me", "plain link", "data"):  # whatever became of them, clicking runs nothing
        links = timeline.get_by_role("link", name=name, exact=True)
        if links.count():
            links.first.click()
            visitor.wait_for_timeout(200)
    assert visitor.evaluate("window.__pwned") is None
    assert dialogs == []

"""Fixtures for end-to-end journeys in Debian's Chromium: the real server as a subprocess, and a browser.

The server is started exactly as an operator starts it (``python main.py``) on a fresh data folder and a
free port, with the OWNER created from the environment and the monitor scheduler off. Its output goes to a
file that is attached to the report of a failing test.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
STARTUP_DEADLINE_SECONDS = 30.0
SERVER_LOG_KEY = pytest.StashKey[Path]()


@dataclass(frozen=True, slots=True)
class BeaconServer:
    base_url: str
    owner_email: str
    owner_password: str
    data_dir: Path
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no output)"


def sign_in(admin: Page, server: BeaconServer) -> None:
    """Sign the owner in through the login form, as a person would."""
    admin.goto("/login")
    admin.get_by_label("E-mail").fill(server.owner_email)
    admin.get_by_label("Password").fill(server.owner_password)
    admin.get_by_role("button", name="Sign in").click()
    expect(admin.get_by_text("Status pages", exact=True)).to_be_visible()


# The demo's last write (app/demo.py): once the public page shows it, the server has reloaded everything the CLI
# wrote, and no later reload will change the page under a test.
DEMO_LAST_WRITE = "Primary database upgrade"


def load_demo(server: BeaconServer) -> int:
    """``python main.py demo`` on the server's data folder while it runs, as an operator would; returns the page's
    id once the running server shows all of it (it notices other processes' writes within seconds, possibly
    half-way through them)."""
    env = _server_environment(server.data_dir, 0, server.owner_email, server.owner_password)
    done = subprocess.run([sys.executable, "main.py", "demo"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, f"python main.py demo failed:\n{done.stdout}\n{done.stderr[-3000:]}"
    found = re.search(r"\(id (\d+)\)", done.stdout)
    assert found, done.stdout + done.stderr
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while True:
        try:
            with urllib.request.urlopen(f"{server.base_url}/status/demo", timeout=1) as response:
                body = response.read().decode()
                if body.count('class="component"') >= 30 and "% uptime" in body and DEMO_LAST_WRITE in body:
                    return int(found.group(1))
        except urllib.error.HTTPError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("the demo page did not appear complete on the running server", pytrace=False)
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_environment(data_dir: Path, port: int, email: str, password: str) -> dict[str, str]:
    # Nothing from the developer's shell or from NiceGUI's User fixture (which sets NICEGUI_USER_SIMULATION
    # in this process) may change how the server starts.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEACON_", "NICEGUI_"))}
    env.update({
        # NiceGUI keeps per-browser storage in ./.nicegui of the working directory, here the repository.
        "NICEGUI_STORAGE_PATH": str(data_dir.parent / ".nicegui"),
        "BEACON_HOST": "127.0.0.1",
        "BEACON_PORT": str(port),
        "BEACON_DATA_DIR": str(data_dir),
        "BEACON_OWNER_EMAIL": email,
        "BEACON_OWNER_PASSWORD": password,
        "BEACON_MONITORS": "off",
        "PYTHONUNBUFFERED": "1",
    })
    return env


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@pytest.fixture
def beacon_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[BeaconServer]:
    """``python main.py`` on a fresh SQLite data folder, ready when ``/healthz`` answers 200."""
    port = _free_port()
    server = BeaconServer(
        base_url=f"http://127.0.0.1:{port}",
        owner_email="owner@example.com",
        owner_password="correct horse battery",
        data_dir=tmp_path / "data",
        log_path=tmp_path / "server.log",
    )
    request.node.stash[SERVER_LOG_KEY] = server.log_path
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "main.py"], cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            env=_server_environment(server.data_dir, port, server.owner_email, server.owner_password),
        )
    try:
        deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
        while not _healthy(f"{server.base_url}/healthz"):
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode} before it was ready:\n{server.output()}",
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"/healthz did not answer 200 within {STARTUP_DEADLINE_SECONDS:.0f} s:\n"
                            f"{server.output()}", pytrace=False)
            time.sleep(0.1)
        yield server
    finally:
        _stop(process)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Attach the server's output to the report of a test that failed while the server ran."""
    outcome = yield
    report = outcome.get_result()
    log_path = item.stash.get(SERVER_LOG_KEY, None)
    if report.failed and log_path is not None and log_path.exists():
        report.sections.append(("beacon server output", log_path.read_text(errors="replace")))


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless. Skipped when it is missing, except under CI=true."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or run .ci/run"
        if IN_CI:
            pytest.fail(f"CI=true requires Chromium: {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser, beacon_server: BeaconServer):
    """Open a page in a browser context of its own (own cookies: one per person in the journey).

    Contexts are closed before the server stops, so that no live-update stream holds its shutdown up.
    """
    contexts = []

    def open_page(viewport: tuple[int, int] = (1280, 800)):
        context = browser.new_context(base_url=beacon_server.base_url,
                                      viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()

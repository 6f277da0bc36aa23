"""SIGTERM on the real server (``python main.py``) with work in flight ends cleanly within 10 s.

The server runs with the monitors on: one monitor checks a fast local HTTP server every 5 s (completed checks,
whose heartbeats and rollups may still be in the engine's in-memory batch at the signal), one checks a server that
never answers (a check in flight, with a timeout longer than the scheduler's grace). A webhook channel points at a
receiver that takes ``RECEIVER_HOLD_SECONDS`` to answer, and an incident makes a delivery to it (in flight at the
signal). After SIGTERM the process must exit with 0 within 10 s, every check that completed must be in the
database, the delivery must be sent or still pending (never lost), and the log must say the runtime stopped.

Two scenarios: ``quiet`` (no open connection; the receiver answers within the outbox's grace) and ``worst``
(a visitor's live-update stream is open, so uvicorn first waits ``timeout_graceful_shutdown`` for it, and the
receiver answers only after every grace has passed). Run with ``-s`` to see the timings.
"""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.browser.conftest import REPO_ROOT, _free_port, _healthy, _server_environment

EMAIL, PASSWORD = "owner@example.com", "correct horse battery"
SHUTDOWN_LIMIT_SECONDS = 10.0
STARTUP_SECONDS = 30.0
# seconds the webhook receiver takes: longer than the hung check's cancellation (3 s), within the outbox's grace;
# or longer than every grace (the delivery is left unsent, and must stay pending)
HOLD_SECONDS = {"quiet": 6.0, "worst": 30.0}


class Local:
    """A local HTTP server in a thread: ``fast`` answers at once, ``hang`` holds every request until the test
    ends, ``slow`` reads a POST and answers after ``hold`` seconds. Counts what it saw."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.hold = 0.0
        self.started = 0  # requests received
        self.answered = 0  # requests answered
        self.bodies: list[bytes] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        local = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                with local.lock:
                    local.started += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if local.mode == "hang":
                    local.release.wait(60)
                    return
                if local.mode == "slow":
                    local.bodies.append(body)
                    local.release.wait(local.hold)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    return  # the client went away
                with local.lock:
                    local.answered += 1

            do_GET = do_POST = do_HEAD = _handle

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def locals_() -> Iterator[dict[str, Local]]:
    servers = {mode: Local(mode) for mode in ("fast", "hang", "slow")}
    try:
        yield servers
    finally:
        for server in servers.values():
            server.close()


def _api(base: str, key: str, method: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(f"{base}{path}", method=method, data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def _wait(condition, seconds: float, what: str, output) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {seconds:.0f} s:\n{output()}", pytrace=False)
        time.sleep(0.05)


def _timings(log: str, signalled_at: datetime) -> dict[str, float]:
    """Seconds from the signal to each shutdown step the log shows (its lines start with a local timestamp)."""
    steps = {"connections closed": "timeout graceful shutdown exceeded", "monitors stopped": "monitors.stopped",
             "runtime stopped": "runtime.stopped"}
    found = {}
    for line in log.splitlines():
        stamp = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", line)
        for step, text in steps.items():
            if stamp and text in line:
                at = datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f")
                found[step] = round((at - signalled_at).total_seconds(), 2)
    return found


@pytest.mark.parametrize("scenario", ["quiet", "worst"])
def test_sigterm_finishes_work_in_flight_and_exits_0_within_10_s(tmp_path: Path, locals_: dict[str, Local],
                                                                 scenario: str):
    fast, hang, slow = locals_["fast"], locals_["hang"], locals_["slow"]
    slow.hold = HOLD_SECONDS[scenario]
    data_dir = tmp_path / "data"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = _server_environment(data_dir, port, EMAIL, PASSWORD)
    env["BEACON_MONITORS"] = "on"
    log_path = tmp_path / "server.log"

    def output() -> str:
        return log_path.read_text(errors="replace") if log_path.exists() else "(no output)"

    stream = None
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "main.py"], cwd=REPO_ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _healthy(f"{base}/healthz") or process.poll() is not None, STARTUP_SECONDS,
              "/healthz did not answer 200", output)
        assert process.poll() is None, output()
        made = subprocess.run([sys.executable, "main.py", "apikey", "create", "--email", EMAIL, "--role", "ADMIN",
                               "--name", "shutdown"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip().split()[-1]

        _api(base, key, "POST", "/api/v1/pages", {"title": "Acme", "slug": "acme", "public": True})
        channel = _api(base, key, "POST", "/api/v1/channels", {
            "name": "Slow hook", "kind": "webhook", "config": {"url": slow.url + "hook"},
            "events": ["incident.created"]})
        quick = _api(base, key, "POST", "/api/v1/monitors", {
            "name": "Fast", "kind": "http", "interval": 5, "timeout": 2, "config": {"url": fast.url}})
        _api(base, key, "POST", "/api/v1/monitors", {
            "name": "Hung", "kind": "http", "interval": 10, "timeout": 10, "config": {"url": hang.url}})
        # completed: at least one fast check; in flight: the hung check, then the delivery (the receiver holds it)
        _wait(lambda: fast.answered >= 1, 20, "the fast monitor was not checked", output)
        _wait(lambda: hang.started >= 1, 20, "the hung monitor's check did not start", output)
        _api(base, key, "POST", "/api/v1/incidents", {
            "name": "API unavailable", "impact": "MAJOR", "status": "INVESTIGATING", "body": "Looking into it.",
            "page": "acme"})
        _wait(lambda: slow.started >= 1, 20, "the webhook delivery did not arrive", output)
        time.sleep(0.2)  # the last fast result reaches the engine's batch (written every 5 s: maybe not yet)
        assert slow.answered == 0 and process.poll() is None
        if scenario == "worst":  # a visitor's live updates: a stream that stays open
            _api(base, key, "POST", "/api/v1/pages/acme/activate")
            stream = urllib.request.urlopen(f"{base}/status/acme/live", timeout=30)
            assert stream.status == 200 and stream.readline() == b"retry: 2000\n"

        signalled_at = datetime.now()
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=SHUTDOWN_LIMIT_SECONDS)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {SHUTDOWN_LIMIT_SECONDS:.0f} s after SIGTERM:\n{output()}", pytrace=False)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        if stream is not None:
            stream.close()

    logged = output()
    print(f"\n[{scenario}] SIGTERM → exit {took:.2f} s; steps {_timings(logged, signalled_at)}; "
          f"fast checks answered {fast.answered}; delivery answered {slow.answered}")
    assert code == 0, f"exit status {code} after SIGTERM:\n{logged}"
    assert took < SHUTDOWN_LIMIT_SECONDS
    assert "monitors.stopped" in logged and "runtime.stopped" in logged, logged
    if scenario == "quiet":
        assert "Traceback" not in logged, logged

    db = sqlite3.connect(data_dir / "beacon.sqlite3")
    try:
        # every check that completed is counted once in the rollups (the last batch was written at shutdown)
        (counted,) = db.execute(
            "SELECT COALESCE(SUM(up + down + degraded + maintenance), 0) FROM monitor_rollups_minute "
            "WHERE monitor_id = ?", (int(quick["id"]),)).fetchone()
        assert counted == fast.answered >= 1
        (beats,) = db.execute("SELECT COUNT(*) FROM heartbeats WHERE monitor_id = ?", (int(quick["id"]),)).fetchone()
        assert beats >= 1
        (last_check,) = db.execute("SELECT last_check_at FROM monitors WHERE id = ?", (int(quick["id"]),)).fetchone()
        assert last_check is not None
        # the delivery in flight is confirmed sent, or still pending to be sent again: never lost
        rows = db.execute("SELECT status, attempts FROM deliveries WHERE channel_id = ?",
                          (int(channel["id"]),)).fetchall()
        assert len(rows) == 1, rows
        status, attempts = rows[0]
        assert status in ("sent", "pending"), rows
        assert (status == "sent") == (slow.answered == 1), (rows, slow.answered)
        if status == "pending":
            assert attempts == 0
    finally:
        db.close()

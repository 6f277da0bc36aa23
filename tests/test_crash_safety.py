"""Crash safety: the real server (``python main.py`` on SQLite) doing steady work — five monitors checking a local
HTTP server (one check a second in all), incidents opened through the API, each notified to a webhook — is killed
with SIGKILL at a random moment ten times. After each restart:

- the audit chain verifies;
- every incident that was answered 201 exists;
- no notification the database had confirmed as sent is received again (a receiver records each delivery's
  ``X-Beacon-Delivery`` id; one in flight at the kill may come twice, which receivers can tell by that id);

and at the end the outbox has delivered every incident's notice, the monitors are still checking, and the
maintenance window scheduled during the run was started on time.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import REPO_ROOT, _free_port, _healthy, _server_environment

EMAIL, PASSWORD = "owner@example.com", "correct horse battery"
KILLS = 10
STARTUP_SECONDS = 30.0


@dataclass
class Receiver:
    url: str = ""
    deliveries: list[tuple[str, str]] = field(default_factory=list)  # (X-Beacon-Delivery, incident name)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def handle(self) -> None:
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):  # the server was killed mid-request: expected
                pass

        def do_GET(self) -> None:  # the monitors' target
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def do_POST(self) -> None:  # the webhook channel
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(random.uniform(0, 0.1))  # now and then a delivery is still in flight at the kill
            name = json.loads(body).get("incident", {}).get("name", "")
            with rec.lock:
                rec.deliveries.append((self.headers.get("X-Beacon-Delivery", ""), name))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield rec
    server.shutdown()
    server.server_close()


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = _free_port()
        self.env = {**_server_environment(data_dir, self.port, EMAIL, PASSWORD), "BEACON_MONITORS": "on"}
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / "server.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "main.py"], cwd=REPO_ROOT, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _healthy(f"{self.base}/healthz"):
            assert self.process.poll() is None, f"the server exited:\n{self.log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"no /healthz within {STARTUP_SECONDS:.0f} s"
            time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no shutdown code runs
        self.process.wait(timeout=10)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "main.py", *args], cwd=REPO_ROOT, env=self.env, capture_output=True,
                              text=True, timeout=60)


def incident_names(api: httpx.Client) -> dict[str, str]:
    """Every incident's id and name, through the API's pages."""
    found: dict[str, str] = {}
    params: dict[str, object] = {"limit": 200}
    while True:
        answer = api.get("/api/v1/incidents", params=params)
        assert answer.status_code == 200, answer.text
        found.update({i["id"]: i["name"] for i in answer.json()})
        cursor = answer.headers.get("x-next-cursor")
        if not cursor:
            return found
        params = {"limit": 200, "cursor": cursor}


def sent_ids(api: httpx.Client) -> set[str]:
    answer = api.get("/api/v1/deliveries", params={"status": "sent", "limit": 200})
    assert answer.status_code == 200, answer.text
    return {d["id"] for d in answer.json()}


@pytest.mark.slow
def test_ten_sigkills_lose_nothing_and_resend_nothing_confirmed(tmp_path: Path, receiver: Receiver):
    server = Server(tmp_path / "data")
    server.start()
    made = server.cli("apikey", "create", "--email", EMAIL, "--role", "ADMIN", "--name", "crash test")
    assert made.returncode == 0, made.stderr
    auth = {"Authorization": f"Bearer {made.stdout.strip().split()[-1]}"}

    def client() -> httpx.Client:
        return httpx.Client(base_url=server.base, headers=auth, timeout=10)

    with client() as api:
        assert api.post("/api/v1/pages", json={"title": "Acme", "slug": "acme"}).status_code == 201
        component = api.post("/api/v1/components", json={"name": "API", "pages": ["acme"]}).json()
        for n in range(5):
            monitor = api.post("/api/v1/monitors", json={
                "name": f"Check {n}", "kind": "http", "interval": 5, "timeout": 2, "retries": 0,
                "component_id": component["id"], "config": {"url": f"{receiver.url}/health"}})
            assert monitor.status_code == 201, monitor.text
        channel = api.post("/api/v1/channels", json={"name": "Hook", "kind": "webhook", "events": ["incident.created"],
                                                     "config": {"url": f"{receiver.url}/hook"}})
        assert channel.status_code == 201, channel.text
        starts = datetime.now(UTC) + timedelta(seconds=20)
        window = api.post("/api/v1/maintenance", json={
            "name": "Switch upgrade", "page": "acme", "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=1)).isoformat(), "components": [component["id"]]}).json()

    rng = random.Random(7)
    accepted: list[str] = []  # incidents answered 201
    # delivery id → how many receipts the receiver had when the database was seen saying "sent": a receipt of
    # that id at or after that position would be a confirmed notification sent again
    confirmed_at: dict[str, int] = {}

    def observe_confirmed(api: httpx.Client) -> None:
        ids = sent_ids(api)
        with receiver.lock:
            seen = len(receiver.deliveries)  # a delivery is received before the server can record it sent
        for delivery_id in ids:
            confirmed_at.setdefault(delivery_id, seen)

    def resent() -> list[str]:
        with receiver.lock:
            return [d for i, (d, _) in enumerate(receiver.deliveries) if d in confirmed_at and i >= confirmed_at[d]]

    for round_ in range(KILLS):
        with client() as api:
            deadline = time.monotonic() + rng.uniform(0.3, 1.5)
            while time.monotonic() < deadline:
                name = f"Incident {round_}-{len(accepted)}"
                try:
                    answer = api.post("/api/v1/incidents", json={"name": name, "impact": "MINOR", "body": "Looking.",
                                                                 "page": "acme"})
                except httpx.HTTPError:
                    continue
                if answer.status_code == 201:
                    accepted.append(answer.json()["id"])
                time.sleep(0.1)  # a steady stream, not a flood: the webhook gets one delivery at a time
            observe_confirmed(api)
        time.sleep(rng.uniform(0, 0.5))  # the kill lands anywhere: mid-request, mid-delivery, mid-flush
        server.kill()
        server.start()
        with client() as api:
            verdict = api.get("/api/v1/audit/verify").json()  # what `python main.py audit verify` checks
            assert verdict["intact"], f"round {round_}: the audit chain broke: {verdict}"
            stored = incident_names(api)
            missing = [i for i in accepted if i not in stored]
            assert not missing, f"round {round_}: incidents {missing} were answered 201 and are gone"
            observe_confirmed(api)
        assert not resent(), f"round {round_}: confirmed deliveries {resent()} were sent again"

    # the outbox resumes everything: each accepted incident is notified, none confirmed is sent again
    with client() as api:
        deadline = time.monotonic() + 60
        while True:
            names = {name for _, name in receiver.deliveries}
            stored = incident_names(api)
            wanted = {stored[i] for i in accepted}
            if wanted <= names:
                break
            assert time.monotonic() < deadline, f"never notified: {sorted(wanted - names)[:5]}"
            time.sleep(0.5)
        time.sleep(2)
        observe_confirmed(api)
        assert not resent()
        with receiver.lock:
            ids = [d for d, _ in receiver.deliveries]
        repeats = len(ids) - len(set(ids))
        assert repeats <= KILLS  # at least once: only a delivery in flight at a kill may come twice
        assert len(accepted) >= KILLS  # the run did real work

        # the monitors carry on after the last restart, and the maintenance started on time
        time.sleep(5.5)  # one monitor interval after the last restart
        results = api.get("/api/v1/monitors").json()
        assert all(m["last_check_at"] for m in results), results
        last = max(datetime.fromisoformat(m["last_check_at"]) for m in results)
        assert datetime.now(UTC) - last < timedelta(seconds=15)
        state = api.get(f"/api/v1/maintenance/{window['id']}").json()["state"]
        assert state == "IN_PROGRESS"
    server.kill()

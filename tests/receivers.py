"""Real receivers on 127.0.0.1 for notification tests: an HTTP server that records what it is sent (and can fail or
stall on purpose), an SMTP server (aiosmtpd) that keeps the mails, and a Web Push service with the browser side
of a subscription (its private key, to decrypt what arrives)."""

from __future__ import annotations

import asyncio
import base64
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from multidict import CIMultiDict


@dataclass
class Receiver:
    """Records every request; answers 500 to the first ``fail_first`` ones, and waits ``delay`` before answering."""

    url: str = ""
    requests: list[dict] = field(default_factory=list)
    fail_first: int = 0
    delay: float = 0.0
    seen: int = 0

    def accepted(self) -> list[dict]:
        return [r for r in self.requests if r["answered"] == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rec.seen += 1
            status = 500 if rec.seen <= rec.fail_first else 200
            if rec.delay:
                time.sleep(rec.delay)
            rec.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                 "body": body, "answered": status})
            self.send_response(status)
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


@pytest.fixture
def mailbox():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""
    import email
    from email.policy import default

    from aiosmtpd.controller import Controller

    from tests.conftest import _free_port

    received: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content, policy=default)))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield controller.port, received
    controller.stop()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class PushService:
    """What the push service answers next (a status code, or "never") and every request it got."""
    port: int
    answer: int | str = 201
    body: str = ""
    requests: list[tuple[str, CIMultiDict[str], bytes]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
async def push_service() -> AsyncIterator[PushService]:
    state: PushService

    async def receive(request: web.Request) -> web.Response:
        # header names are case-insensitive; pywebpush sends them in lower case
        state.requests.append((request.path, CIMultiDict(request.headers), await request.read()))
        if state.answer == "never":
            await state.release.wait()
        return web.Response(status=int(state.answer) if state.answer != "never" else 201, text=state.body)

    app = web.Application()
    app.router.add_post("/push/{token}", receive)
    runner = web.AppRunner(app, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state = PushService(port=site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    try:
        yield state
    finally:
        state.release.set()
        await runner.cleanup()


@dataclass
class Browser:
    key: ec.EllipticCurvePrivateKey
    auth: bytes
    subscription: dict


def browser(endpoint: str) -> Browser:
    """A subscription as ``PushSubscription.toJSON()`` gives it, with the private key the browser keeps."""
    key = ec.generate_private_key(ec.SECP256R1())
    auth = os.urandom(16)
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return Browser(key, auth, {"endpoint": endpoint, "expirationTime": None,
                               "keys": {"p256dh": b64url(point), "auth": b64url(auth)}})

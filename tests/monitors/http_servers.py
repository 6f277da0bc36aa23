"""Real HTTP(S) servers for the HTTP-family tests: the standard library's ``ThreadingHTTPServer`` on 127.0.0.1
(port 0), optionally behind TLS with certificates from a throwaway ``trustme`` CA, and a real GraphQL executor
(graphql-core) behind ``/graphql``.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    graphql_sync,
)

PAGE = "<html><body><h1>Beacon test page</h1><p>All systems OK. Version 1.2.3</p></body></html>"
HEALTH = {
    "status": "ok",
    "version": "1.2.3",
    "count": 3,
    "ratio": "0.75",
    "healthy": True,
    "checks": {"database": {"status": "ok", "latency_ms": 12}, "cache": {"status": "degraded"}},
    "services": [{"name": "api", "status": "ok"}, {"name": "worker", "status": "ok"}],
    "tags": ["eu", "prod"],
}
USERNAME, PASSWORD, TOKEN = "ada", "correct horse", "t0ken"

_USER = GraphQLObjectType("User", {"name": GraphQLField(GraphQLString), "age": GraphQLField(GraphQLInt)})
SCHEMA = GraphQLSchema(GraphQLObjectType("Query", {
    "status": GraphQLField(GraphQLString, resolve=lambda *_: "ok"),
    "user": GraphQLField(_USER, args={"id": GraphQLArgument(GraphQLNonNull(GraphQLInt))},
                         resolve=lambda _, __, id: {"name": f"user{id}", "age": 30 + id}),
    "users": GraphQLField(GraphQLList(_USER), resolve=lambda *_: [{"name": "ada", "age": 36}, {"name": "bob"}]),
    "nothing": GraphQLField(GraphQLString, resolve=lambda *_: None),
}))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: str | bytes = b"", content_type: str = "text/plain; charset=utf-8",
              headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value), "application/json")

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        parts = path.strip("/").split("/")
        if path in ("/", "/ok"):
            self._send(200, PAGE, "text/html; charset=utf-8")
        elif parts[0] == "status" and len(parts) == 2:
            self._send(int(parts[1]), f"status {parts[1]}")
        elif parts[0] == "redirect" and len(parts) == 2:
            left = int(parts[1])
            self._send(302, "", headers={"Location": f"/redirect/{left - 1}" if left > 1 else "/ok"})
        elif path == "/loop":
            self._send(302, "", headers={"Location": "/loop"})
        elif path == "/health":
            self._json(200, HEALTH)
        elif path == "/echo":
            self._json(200, {"method": self.command, "body": body.decode(errors="replace"),
                             "headers": {k.lower(): v for k, v in self.headers.items()}})
        elif path == "/auth/basic":
            expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
            ok = self.headers.get("Authorization") == expected
            self._send(200 if ok else 401, "welcome" if ok else "who are you?",
                       headers={} if ok else {"WWW-Authenticate": 'Basic realm="test"'})
        elif path == "/auth/bearer":
            ok = self.headers.get("Authorization") == f"Bearer {TOKEN}"
            self._send(200 if ok else 401, "welcome" if ok else "who are you?")
        elif path == "/graphql" and self.command == "POST":
            request = json.loads(body)
            result = graphql_sync(SCHEMA, request["query"], variable_values=request.get("variables"),
                                  operation_name=request.get("operationName"))
            self._json(200 if result.data is not None or not result.errors else 400, result.formatted)
        else:
            self._send(404, "not found")

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext | None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls = tls

    def finish_request(self, request, client_address) -> None:  # runs in the request's own thread
        if self.tls is None:
            return super().finish_request(request, client_address)
        request.settimeout(5)
        request = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            request.do_handshake()
        except (ssl.SSLError, OSError):  # a failed handshake is the client's problem to report
            _linger(request)
            return
        try:
            super().finish_request(request, client_address)
        finally:
            request.close()


def _linger(tls_socket: ssl.SSLSocket) -> None:
    """Close like a careful server: stop writing, then read until the client hangs up, so that the TLS alert
    already sent is not lost to a TCP reset (which closing with the client's request unread would cause)."""
    raw = socket.socket(fileno=tls_socket.detach())
    try:
        raw.shutdown(socket.SHUT_WR)
        raw.settimeout(2)
        while raw.recv(65536):
            pass
    except OSError:
        pass
    finally:
        raw.close()


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Run the test server in a thread; yields its base URL, e.g. ``https://127.0.0.1:41234``."""
    server = _Server(tls)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""Protocol fakes for the databases tests, for servers that cannot run on the test machine.

* ``FakeMongo`` speaks the documented MongoDB wire protocol
  (https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/): OP_MSG (opcode 2013) requests answered
  with OP_MSG, and the legacy OP_QUERY (opcode 2004) ``isMaster`` handshake answered with OP_REPLY (opcode 1). It
  answers ``hello``/``isMaster``, ``ping``, ``buildInfo`` and ``endSessions`` with BSON documents (the ``bson``
  package that ships with pymongo), and can be told to fail a command with ``{ok: 0, errmsg, code}`` the way a
  real server reports an error.
* ``FakeElasticsearch`` is a small HTTP/1.1 server returning the documented ``GET /_cluster/health`` JSON
  (https://www.elastic.co/guide/en/elasticsearch/reference/current/cluster-health.html), and Elasticsearch's 401
  ``security_exception`` body when the Authorization header is not the expected one.

Both listen on 127.0.0.1 port 0 inside the test's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import ssl
import struct
from typing import Any, Self

import bson

OP_REPLY = 1
OP_QUERY = 2004
OP_MSG = 2013


class _Server:
    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self.handle(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class FakeMongo(_Server):
    """A MongoDB server as far as a driver's handshake, ``ping`` and ``buildInfo`` go.

    ``writable=False`` makes it report itself as a replica-set secondary; ``failures`` maps a command name to
    the error document (``{"ok": 0, "errmsg": ..., "code": ...}``) it answers that command with."""

    def __init__(self, *, writable: bool = True, version: str = "7.0.14",
                 failures: dict[str, dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.writable = writable
        self.version = version
        self.failures = failures or {}
        self.commands: list[str] = []
        self._request_id = 0

    def _hello(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "helloOk": True,
            "ismaster": self.writable,
            "isWritablePrimary": self.writable,
            "maxBsonObjectSize": 16 * 1024 * 1024,
            "maxMessageSizeBytes": 48_000_000,
            "maxWriteBatchSize": 100_000,
            "localTime": datetime.datetime.now(datetime.UTC),
            "logicalSessionTimeoutMinutes": 30,
            "connectionId": 1,
            "minWireVersion": 0,
            "maxWireVersion": 17,
            "readOnly": False,
        }
        if not self.writable:  # a secondary always belongs to a replica set
            doc.update(secondary=True, setName="rs0", hosts=[f"127.0.0.1:{self.port}"],
                       me=f"127.0.0.1:{self.port}")
        return doc

    def reply_to(self, command: dict[str, Any]) -> dict[str, Any]:
        name = next(iter(command))
        self.commands.append(name)
        if name in self.failures:
            return {"ok": 0.0, **self.failures[name]}
        lowered = name.lower()
        if lowered in ("hello", "ismaster"):
            return {**self._hello(), "ok": 1.0}
        if lowered == "ping" or lowered == "endsessions":
            return {"ok": 1.0}
        if lowered == "buildinfo":
            return {"version": self.version, "versionArray": [int(p) for p in self.version.split(".")] + [0],
                    "gitVersion": "0" * 40, "bits": 64, "maxBsonObjectSize": 16 * 1024 * 1024, "ok": 1.0}
        return {"ok": 0.0, "errmsg": f"no such command: '{name}'", "code": 59, "codeName": "CommandNotFound"}

    def _next_id(self) -> int:
        self._request_id += 1
        return self._request_id

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            header = await reader.readexactly(16)
            length, request_id, _, opcode = struct.unpack("<iiii", header)
            body = await reader.readexactly(length - 16)
            if opcode == OP_MSG:
                flags = struct.unpack_from("<I", body)[0]
                end = len(body) - (4 if flags & 1 else 0)  # checksumPresent
                pos, command = 4, None
                while pos < end:
                    kind = body[pos]
                    pos += 1
                    size = struct.unpack_from("<i", body, pos)[0]
                    if kind == 0:
                        command = bson.decode(body[pos:pos + size])
                    pos += size  # kind 1 (document sequences) are not needed by these commands
                assert command is not None
                reply = self.reply_to(command)
                if flags & 2:  # moreToCome: the client expects no answer
                    continue
                payload = struct.pack("<I", 0) + b"\x00" + bson.encode(reply)
                writer.write(struct.pack("<iiii", 16 + len(payload), self._next_id(), request_id, OP_MSG) + payload)
            elif opcode == OP_QUERY:
                pos = 4
                pos = body.index(b"\x00", pos) + 1  # fullCollectionName, e.g. "admin.$cmd"
                pos += 8  # numberToSkip, numberToReturn
                size = struct.unpack_from("<i", body, pos)[0]
                command = bson.decode(body[pos:pos + size])
                if "$query" in command:
                    command = command["$query"]
                document = bson.encode(self.reply_to(command))
                payload = struct.pack("<iqii", 0, 0, 0, 1) + document
                writer.write(struct.pack("<iiii", 16 + len(payload), self._next_id(), request_id, OP_REPLY) + payload)
            else:
                return
            await writer.drain()


def cluster_health(status: str = "green", *, nodes: int = 3, unassigned: int = 0,
                   name: str = "beacon-test") -> dict[str, Any]:
    """The body of ``GET /_cluster/health`` as Elasticsearch 8 documents it."""
    return {
        "cluster_name": name, "status": status, "timed_out": False, "number_of_nodes": nodes,
        "number_of_data_nodes": nodes, "active_primary_shards": 10, "active_shards": 20 - unassigned,
        "relocating_shards": 0, "initializing_shards": 0, "unassigned_shards": unassigned,
        "unassigned_primary_shards": 0, "delayed_unassigned_shards": 0, "number_of_pending_tasks": 0,
        "number_of_in_flight_fetch": 0, "task_max_waiting_in_queue_millis": 0,
        "active_shards_percent_as_number": 100.0 * (20 - unassigned) / 20,
    }


class FakeElasticsearch(_Server):
    """``GET /_cluster/health`` answering ``health``; 401 unless the request carries ``expect_auth``
    (e.g. ``"Basic ..."`` or ``"ApiKey ..."``) when that is set. Records each request's headers."""

    def __init__(self, health: dict[str, Any] | None = None, *, expect_auth: str | None = None,
                 status: int = 200) -> None:
        super().__init__()
        self.health = health or cluster_health()
        self.expect_auth = expect_auth
        self.status = status
        self.requests: list[tuple[str, dict[str, str]]] = []

    @staticmethod
    def basic(username: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_line = (await reader.readline()).decode("latin-1").strip()
        headers: dict[str, str] = {}
        while (line := (await reader.readline()).decode("latin-1").strip()):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        method, target, _ = request_line.split(" ", 2)
        self.requests.append((target, headers))
        if self.expect_auth is not None and headers.get("authorization") != self.expect_auth:
            status, reason = 401, "Unauthorized"
            body: dict[str, Any] = {
                "error": {"root_cause": [{"type": "security_exception",
                                          "reason": "unable to authenticate user [elastic] for REST request "
                                                    "[/_cluster/health]"}],
                          "type": "security_exception",
                          "reason": "unable to authenticate user [elastic] for REST request [/_cluster/health]"},
                "status": 401}
        elif method == "GET" and target.split("?")[0].endswith("/_cluster/health") and self.status == 200:
            status, reason, body = 200, "OK", self.health
        elif self.status != 200:
            status, reason = self.status, "Service Unavailable"
            body = {"error": {"type": "master_not_discovered_exception", "reason": None}, "status": self.status}
        else:
            status, reason = 404, "Not Found"
            body = {"error": "no handler found", "status": 404}
        data = json.dumps(body).encode()
        writer.write(f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
                     f"content-length: {len(data)}\r\nconnection: close\r\n\r\n".encode() + data)
        await writer.drain()

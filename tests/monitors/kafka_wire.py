"""A Kafka broker fake for the tests of the ``kafka`` kind: no Kafka can run on this machine.

It speaks the documented Kafka wire protocol (https://kafka.apache.org/protocol) on 127.0.0.1 over TCP:
big-endian messages prefixed with their int32 size; requests carry request header v1 (api_key int16,
api_version int16, correlation_id int32, client_id nullable string), responses response header v0
(correlation_id). It answers ApiVersions (api key 18, v0) and Metadata (api key 3, v1 and v4, the layouts
of the protocol guide: v4 adds throttle_time_ms, cluster_id and the allow_auto_topic_creation flag) from the
cluster description it is given, and records every request it parsed.
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from dataclasses import dataclass, field


@dataclass
class Partition:
    leader: int = 1
    replicas: tuple[int, ...] = (1,)
    isr: tuple[int, ...] = (1,)
    error: int = 0


@dataclass
class Topic:
    partitions: list[Partition] = field(default_factory=lambda: [Partition()])
    error: int = 0
    internal: bool = False


@dataclass
class Request:
    api_key: int
    api_version: int
    client_id: str | None
    topics: list[str] | None = None
    allow_auto_topic_creation: bool | None = None


def _string(text: str | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    raw = text.encode()
    return struct.pack(">h", len(raw)) + raw


def _int32s(values: tuple[int, ...]) -> bytes:
    return struct.pack(">i", len(values)) + b"".join(struct.pack(">i", v) for v in values)


class _Body:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str | None:
        length = self.take(">h")
        if length < 0:
            return None
        text = self.data[self.pos:self.pos + length].decode()
        self.pos += length
        return text


@dataclass
class KafkaFake:
    """One broker of a cluster whose metadata is ``brokers`` and ``topics``. ``metadata_versions`` is the
    (min, max) Metadata version it announces: (0, 7) is Kafka 2.1, (4, 12) Kafka 4.0, (0, 2) Kafka 0.10."""

    topics: dict[str, Topic] = field(default_factory=dict)
    brokers: list[tuple[int, str, int]] = field(default_factory=lambda: [(1, "127.0.0.1", 9092)])
    metadata_versions: tuple[int, int] = (0, 7)
    requests: list[Request] = field(default_factory=list)
    tls: ssl.SSLContext | None = None  # a TLS listener (Kafka's SSL security protocol) with this server context
    port: int = 0
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> KafkaFake:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                (size,) = struct.unpack(">i", await reader.readexactly(4))
                body = _Body(await reader.readexactly(size))
                api_key, version, correlation = body.take(">h"), body.take(">h"), body.take(">i")
                request = Request(api_key, version, body.string())
                self.requests.append(request)
                if api_key == 18:
                    answer = self._api_versions()
                elif api_key == 3 and self.metadata_versions[0] <= version <= self.metadata_versions[1] \
                        and version in (1, 4):
                    answer = self._metadata(request, body)
                else:
                    break  # a real broker closes the connection on a request it cannot parse
                response = struct.pack(">i", correlation) + answer
                writer.write(struct.pack(">i", len(response)) + response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def _api_versions(self) -> bytes:
        keys = [(18, 0, 3), (3, *self.metadata_versions), (0, 0, 9), (1, 0, 13)]
        return struct.pack(">hi", 0, len(keys)) + b"".join(struct.pack(">hhh", *k) for k in keys)

    def _metadata(self, request: Request, body: _Body) -> bytes:
        count = body.take(">i")
        request.topics = None if count < 0 else [body.string() or "" for _ in range(count)]
        if request.api_version >= 4:
            request.allow_auto_topic_creation = bool(body.take(">b"))
        version = request.api_version
        out = b""
        if version >= 3:
            out += struct.pack(">i", 0)  # throttle_time_ms
        out += struct.pack(">i", len(self.brokers))
        for node, host, port in self.brokers:
            out += struct.pack(">i", node) + _string(host) + struct.pack(">i", port) + _string(None)
        if version >= 2:
            out += _string("fake-cluster")
        out += struct.pack(">i", self.brokers[0][0])  # controller_id
        names = list(self.topics) if request.topics is None else request.topics
        out += struct.pack(">i", len(names))
        for name in names:
            topic = self.topics.get(name)
            if topic is None:
                out += struct.pack(">h", 3) + _string(name) + struct.pack(">bi", 0, 0)
                continue
            out += struct.pack(">h", topic.error) + _string(name) + struct.pack(">b", topic.internal)
            out += struct.pack(">i", len(topic.partitions))
            for index, p in enumerate(topic.partitions):
                out += struct.pack(">hii", p.error, index, p.leader) + _int32s(p.replicas) + _int32s(p.isr)
        return out

"""Message brokers: RabbitMQ (AMQP 0-9-1), Kafka, MQTT and NATS.

Each check opens a fresh connection, asks the broker one meaningful question and closes again. Kafka has no
client library here: the few requests needed (ApiVersions, Metadata) are spoken directly over asyncio streams,
following the documented Kafka protocol (https://kafka.apache.org/protocol).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import ssl
import struct
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiomqtt
import aiormq
import aiormq.exceptions as amqp_errors
import nats.errors as nats_errors
from nats.aio.client import Client as NATS
from yarl import URL

from monitors.base import CheckResult, Field, Kind, degraded, down, up
from monitors.registry import register
from monitors.tls import client_context

log = logging.getLogger(__name__)
# A refused or failed AMQP connection is what the rabbitmq check reports, as DOWN with the reason; aiormq would also
# log each one at ERROR level, filling the server's log with the outages of the services it watches.
logging.getLogger("aiormq.connection").setLevel(logging.CRITICAL)

_HOST_RE = re.compile(r"^[A-Za-z0-9._\-:\[\]%]+$")


def _tls_context(verify: bool) -> ssl.SSLContext:
    return client_context(verify)


def _deadline(timeout: float) -> float:
    """Our own time budget: a little under the runner's, so that our timeout message (which says what was
    being waited for) wins over the runner's generic one."""
    return max(timeout * 0.9, timeout - 0.25)


def _host_error(host: str) -> str | None:
    if "://" in host or "/" in host:
        return "must be a host name or IP address only (no scheme or path), e.g. broker.internal"
    if not _HOST_RE.match(host):
        return "must be a host name or IP address, e.g. broker.internal"
    return None


def _refused(exc: BaseException, where: str) -> str | None:
    """A clear message for the socket errors every broker check meets, or None for other errors."""
    if isinstance(exc, ConnectionRefusedError):
        return f"Connection refused by {where}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate of {where} not trusted: {exc.verify_message or exc.reason}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake with {where} failed: {exc.reason or exc}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"Cannot connect to {where}: {exc.strerror}"
    return None


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# --------------------------------------------------------------------------------------------------- RabbitMQ


async def _rabbitmq(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, tls = config["host"], config["tls"]
    port = config.get("port") or (5671 if tls else 5672)
    where = f"{host}:{port}"
    vhost = config["vhost"]
    url = URL.build(
        scheme="amqps" if tls else "amqp", host=host, port=port,
        user=config["username"], password=config.get("password") or "",
        path="/" if vhost == "/" else "/" + vhost,
        # heartbeat 0: the connection lives for one check only
        query={"timeout": str(max(1, int(timeout))), "heartbeat": "0", "name": "beacon uptime check"})
    connection = aiormq.Connection(url, context=_tls_context(config["verify_tls"]) if tls else None)
    phase = f"connecting to {where}"
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_deadline(timeout)):
            await connection.connect()
            connected_ms = _ms(started)
            queue = config.get("queue")
            if not queue:
                server = connection.server_properties or {}
                product = server.get("product", "AMQP broker")
                version = server.get("version", "")
                return up(f"Connected to {product} {version}".strip(), latency_ms=connected_ms)
            phase = f"checking queue '{queue}'"
            channel = await connection.channel()
            ok = await channel.queue_declare(queue, passive=True, timeout=timeout)
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s {phase}")
    except amqp_errors.ChannelNotFoundEntity:
        return down(f"Queue '{config['queue']}' does not exist in vhost '{vhost}'")
    except amqp_errors.ChannelAccessRefused:
        return down(f"Access to queue '{config['queue']}' refused for user '{config['username']}'")
    except amqp_errors.ProbableAuthenticationError:
        return down(f"Login refused by {where}: wrong username or password for '{config['username']}'")
    except amqp_errors.ConnectionNotAllowed:
        return down(f"User '{config['username']}' may not access vhost '{vhost}'")
    except amqp_errors.AMQPError as exc:
        if len(exc.args) == 2 and isinstance(exc.args[0], int):  # the socket's errno and words
            return down(_refused(OSError(*exc.args), where) or f"Cannot connect to {where}: {exc.args[1]}")
        text = str(exc.args[0] if exc.args else exc) or type(exc).__name__
        if "Connection.Close" in text and "OpenOk" in text:  # the broker closed instead of opening the vhost
            return down(f"Vhost '{vhost}' does not exist or user '{config['username']}' may not use it")
        if "ACCESS_REFUSED" in text:
            return down(f"Login refused by {where}: {text}")
        return down(f"AMQP error from {where}: {text}")
    except OSError as exc:
        return down(_refused(exc, where) or f"Cannot connect to {where}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await connection.close()
    messages, consumers = ok.message_count, ok.consumer_count
    facts = {"messages": messages, "consumers": consumers}
    text = f"Queue '{queue}': {messages} message{'s' * (messages != 1)}, {consumers} consumer{'s' * (consumers != 1)}"
    max_messages, min_consumers = config.get("max_messages"), config.get("min_consumers")
    if max_messages is not None and messages > max_messages:
        return degraded(f"{text} (more than {max_messages})", latency_ms=connected_ms, **facts)
    if min_consumers is not None and consumers < min_consumers:
        return degraded(f"{text} (fewer than {min_consumers})", latency_ms=connected_ms, **facts)
    return up(text, latency_ms=connected_ms, **facts)


def _validate_rabbitmq(config: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if message := _host_error(config["host"]):
        errors["host"] = message
    for name in ("max_messages", "min_consumers"):
        if config.get(name) is not None and not config.get("queue"):
            errors[name] = "needs a queue to watch"
    return errors


register(Kind(
    name="rabbitmq", label="RabbitMQ", family="queues", library="aiormq (aio-pika's AMQP 0-9-1 client)",
    summary="UP when the broker accepts the login (and the queue exists); DEGRADED when the queue holds more "
            "messages than allowed or has too few consumers; DOWN when the broker is unreachable, the login is "
            "refused or the queue does not exist.",
    fields=(
        Field("host", "Host", required=True, placeholder="rabbitmq.internal"),
        Field("port", "Port", "int", min=1, max=65535, help="Defaults to 5672, or 5671 with TLS."),
        Field("username", "Username", default="guest"),
        Field("password", "Password", "secret"),
        Field("vhost", "Virtual host", default="/"),
        Field("tls", "Use TLS (amqps)", "bool", default=False),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True),
        Field("queue", "Queue", help="Optional: a queue that must exist. Looked up passively, never created.",
              placeholder="orders"),
        Field("max_messages", "Max messages", "int", min=0,
              help="DEGRADED when the queue holds more ready messages than this."),
        Field("min_consumers", "Min consumers", "int", min=0,
              help="DEGRADED when fewer consumers than this are attached to the queue."),
    ),
    check=_rabbitmq, validate=_validate_rabbitmq,
    notes="""Logs in over AMQP 0-9-1 with a fresh connection. Without a **queue** the check is UP once the login
succeeds and reports the broker's product and version.

With a **queue**, the queue is declared *passively*: it is never created, and a missing queue is DOWN
("Queue 'orders' does not exist"). **max_messages** turns a growing backlog (ready messages) into DEGRADED,
**min_consumers** does the same when the workers that should drain the queue are gone.

Use a dedicated user with the `monitoring` tag or at least *configure* permission on the queue; the
default `guest` user can only log in from localhost.

```json
{"host": "rabbitmq.internal", "username": "beacon", "password": "…", "vhost": "/",
 "queue": "orders", "max_messages": 1000, "min_consumers": 1}
```""",
))


# ------------------------------------------------------------------------------------------------------ Kafka

_KAFKA_ERRORS = {
    -1: "UNKNOWN_SERVER_ERROR", 3: "UNKNOWN_TOPIC_OR_PARTITION", 5: "LEADER_NOT_AVAILABLE",
    6: "NOT_LEADER_OR_FOLLOWER", 7: "REQUEST_TIMED_OUT", 8: "BROKER_NOT_AVAILABLE", 9: "REPLICA_NOT_AVAILABLE",
    17: "INVALID_TOPIC_EXCEPTION", 19: "NOT_ENOUGH_REPLICAS", 29: "TOPIC_AUTHORIZATION_FAILED",
    31: "CLUSTER_AUTHORIZATION_FAILED", 33: "UNSUPPORTED_SASL_MECHANISM", 35: "UNSUPPORTED_VERSION",
    56: "KAFKA_STORAGE_ERROR",
}
_API_VERSIONS, _METADATA = 18, 3
_CLIENT_ID = b"beacon"
_MAX_RESPONSE = 64 * 1024 * 1024


class KafkaProtocolError(Exception):
    pass


def _kafka_error(code: int) -> str:
    return f"{_KAFKA_ERRORS.get(code, 'error')} ({code})"


class _Reader:
    """Big-endian primitives of the Kafka protocol over one response body."""

    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def _take(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise KafkaProtocolError("truncated response")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def boolean(self) -> bool:
        return bool(self._take(">b"))

    def string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        if self.pos + length > len(self.data):
            raise KafkaProtocolError("truncated response")
        text = self.data[self.pos:self.pos + length].decode("utf-8", "replace")
        self.pos += length
        return text

    def array(self, item: Any) -> list[Any]:
        count = self.int32()
        if count < 0:
            return []
        if count > len(self.data):  # each item is at least one byte
            raise KafkaProtocolError("malformed array length")
        return [item() for _ in range(count)]


def _kafka_string(text: str | bytes | None) -> bytes:
    if text is None:
        return struct.pack(">h", -1)
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack(">h", len(raw)) + raw


@dataclass
class _Partition:
    error: int
    index: int
    leader: int
    replicas: list[int]
    isr: list[int]


@dataclass
class _Topic:
    error: int
    name: str
    internal: bool
    partitions: list[_Partition]


@dataclass
class _Metadata:
    brokers: list[tuple[int, str, int]]
    controller: int
    topics: list[_Topic]
    version: int


class _KafkaConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.correlation = itertools.count(1)

    async def request(self, api_key: int, version: int, body: bytes) -> _Reader:
        correlation = next(self.correlation)
        # request header v1: api_key, api_version, correlation_id, client_id (nullable string)
        message = struct.pack(">hhi", api_key, version, correlation) + _kafka_string(_CLIENT_ID) + body
        self.writer.write(struct.pack(">i", len(message)) + message)
        await self.writer.drain()
        (size,) = struct.unpack(">i", await self.reader.readexactly(4))
        if not 4 <= size <= _MAX_RESPONSE:
            raise KafkaProtocolError(f"implausible response size {size}; is this a Kafka broker?")
        data = _Reader(await self.reader.readexactly(size))
        if data.int32() != correlation:  # response header v0: correlation_id
            raise KafkaProtocolError("response does not match the request (wrong correlation id)")
        return data

    async def api_versions(self) -> dict[int, tuple[int, int]]:
        data = await self.request(_API_VERSIONS, 0, b"")
        error = data.int16()
        versions = {key: (low, high) for key, low, high in data.array(
            lambda: (data.int16(), data.int16(), data.int16()))}
        if error and not versions:
            raise KafkaProtocolError(f"ApiVersions failed: {_kafka_error(error)}")
        return versions

    async def metadata(self, version: int, topics: list[str] | None) -> _Metadata:
        if topics is None:
            body = struct.pack(">i", -1)  # null array: every topic
        else:
            body = struct.pack(">i", len(topics)) + b"".join(_kafka_string(t) for t in topics)
        if version >= 4:
            body += b"\x00"  # allow_auto_topic_creation = false: a monitor must never create topics
        data = await self.request(_METADATA, version, body)
        if version >= 3:
            data.int32()  # throttle_time_ms

        def broker() -> tuple[int, str, int]:
            node, host, port = data.int32(), data.string() or "", data.int32()
            data.string()  # rack
            return node, host, port

        brokers = data.array(broker)
        if version >= 2:
            data.string()  # cluster_id
        controller = data.int32()

        def partition() -> _Partition:
            error, index, leader = data.int16(), data.int32(), data.int32()
            return _Partition(error, index, leader, data.array(data.int32), data.array(data.int32))

        def topic() -> _Topic:
            error, name, internal = data.int16(), data.string() or "", data.boolean()
            return _Topic(error, name, internal, data.array(partition))

        return _Metadata(brokers, controller, data.array(topic), version)


def _split_server(server: str) -> tuple[str, int]:
    """'host:port', '[v6]:port' or a bare host (port 9092) → (host, port); ValueError with a reason."""
    match = re.fullmatch(r"\[([0-9A-Fa-f:.%a-zA-Z]+)\](?::(\d+))?|([^:\[\]/\s]+)(?::(\d+))?", server.strip())
    if not match:
        raise ValueError(f"'{server}' must look like host:port, e.g. kafka-1.internal:9092")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4) or 9092)
    if not 1 <= port <= 65535:
        raise ValueError(f"'{server}': the port must be between 1 and 65535")
    return host, port


async def _kafka_metadata(host: str, port: int, config: Mapping[str, Any]) -> tuple[_Metadata, float]:
    tls = config["tls"]
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(
        host, port, ssl=_tls_context(config["verify_tls"]) if tls else None,
        server_hostname=host if tls else None)
    try:
        kafka = _KafkaConnection(reader, writer)
        versions = await kafka.api_versions()
        low, high = versions.get(_METADATA, (0, 0))
        topic = config.get("topic")
        if low <= 4 <= high:  # Kafka >= 1.0: can ask for one topic without creating it
            metadata = await kafka.metadata(4, [topic] if topic else None)
        elif low <= 1 <= high:  # older brokers: v1 with every topic, as naming one could auto-create it
            metadata = await kafka.metadata(1, None)
        else:
            raise KafkaProtocolError(f"the broker supports Metadata versions {low}-{high} only; this check "
                                     "speaks versions 1 and 4")
        return metadata, _ms(started)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(0.5):
                await writer.wait_closed()


def _kafka_verdict(metadata: _Metadata, topic_name: str | None, latency_ms: float) -> CheckResult:
    brokers = len(metadata.brokers)
    user_topics = [t for t in metadata.topics if not t.internal]
    facts = {"brokers": brokers}
    if not topic_name:
        offline = sum(1 for t in metadata.topics for p in t.partitions if p.leader < 0)
        text = f"{brokers} broker{'s' * (brokers != 1)}, {len(user_topics)} topic{'s' * (len(user_topics) != 1)}"
        facts["topics"] = len(user_topics)
        if offline:
            return degraded(f"{text}; {offline} partition{'s have' if offline != 1 else ' has'} no leader",
                            latency_ms, offline_partitions=offline, **facts)
        return up(text, latency_ms, **facts)
    topic = next((t for t in metadata.topics if t.name == topic_name), None)
    if topic is None or topic.error == 3:
        return down(f"Topic '{topic_name}' does not exist", latency_ms, **facts)
    if topic.error:
        return down(f"Topic '{topic_name}': {_kafka_error(topic.error)}", latency_ms, **facts)
    if not topic.partitions:
        return down(f"Topic '{topic_name}' has no partitions", latency_ms, **facts)
    leaderless = [p.index for p in topic.partitions if p.leader < 0]
    if leaderless:
        listed = ", ".join(map(str, sorted(leaderless)[:10]))
        return down(f"Topic '{topic_name}': partition{'s' * (len(leaderless) != 1)} {listed} "
                    f"{'have' if len(leaderless) != 1 else 'has'} no leader", latency_ms, **facts)
    # REPLICA_NOT_AVAILABLE (9) only says a follower is missing: the partition still works
    failing = [p for p in topic.partitions if p.error not in (0, 9)]
    if failing:
        first = failing[0]
        return down(f"Topic '{topic_name}': partition {first.index} reports {_kafka_error(first.error)}",
                    latency_ms, **facts)
    partitions = len(topic.partitions)
    text = f"{brokers} broker{'s' * (brokers != 1)}, topic '{topic_name}': {partitions} " \
           f"partition{'s' * (partitions != 1)}"
    facts["partitions"] = partitions
    under = [p.index for p in topic.partitions if len(p.isr) < len(p.replicas)]
    if under:
        return degraded(f"{text}, {len(under)} under-replicated", latency_ms, under_replicated=len(under), **facts)
    return up(text, latency_ms, **facts)


async def _kafka(config: Mapping[str, Any], timeout: float) -> CheckResult:
    servers = [_split_server(s) for s in config["bootstrap_servers"]]
    errors: list[str] = []

    async def ask(host: str, port: int) -> tuple[_Metadata, float]:
        where = f"{host}:{port}"
        try:
            return await _kafka_metadata(host, port, config)
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
            errors.append(f"{where} closed the connection (not Kafka, or TLS/SASL required?)")
        except KafkaProtocolError as exc:
            errors.append(f"{where}: {exc}")
        except OSError as exc:
            errors.append(_refused(exc, where) or f"{where}: {exc}")
        raise LookupError

    # every bootstrap server at once: the first answer wins, like a Kafka client's bootstrap
    tasks = [asyncio.create_task(ask(host, port)) for host, port in servers]
    try:
        async with asyncio.timeout(_deadline(timeout)):
            for next_done in asyncio.as_completed(tasks):
                with contextlib.suppress(LookupError):
                    metadata, latency = await next_done
                    return _kafka_verdict(metadata, config.get("topic"), latency)
    except TimeoutError:
        waiting = [f"{h}:{p}" for (h, p), t in zip(servers, tasks, strict=True) if not t.done()]
        errors.append(f"Timed out after {timeout:g} s waiting for {', '.join(waiting)}")
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return down("; ".join(errors) or "No bootstrap server answered")


def _validate_kafka(config: Mapping[str, Any]) -> dict[str, str]:
    problems = []
    for server in config["bootstrap_servers"]:
        try:
            _split_server(server)
        except ValueError as exc:
            problems.append(str(exc))
    return {"bootstrap_servers": "; ".join(problems)} if problems else {}


register(Kind(
    name="kafka", label="Kafka", family="queues", library="built-in Kafka protocol client (asyncio streams)",
    summary="UP when a bootstrap broker answers with cluster metadata (and the topic has a leader for every "
            "partition); DEGRADED when partitions are under-replicated or leaderless elsewhere; DOWN when no "
            "broker answers, the topic is missing or a partition of it has no leader.",
    fields=(
        Field("bootstrap_servers", "Bootstrap servers", "list", required=True,
              help="host:port, one per line; port 9092 when left out.", placeholder="kafka-1.internal:9092"),
        Field("topic", "Topic", help="Optional: a topic that must exist with a leader for every partition.",
              placeholder="orders"),
        Field("tls", "Use TLS", "bool", default=False),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True),
    ),
    check=_kafka, validate=_validate_kafka,
    notes="""Asks the cluster for its metadata the way every Kafka client starts: an `ApiVersions` request,
then `Metadata` (version 4 on Kafka 1.0 and later, version 1 on older brokers). All bootstrap servers are
tried at once and the first answer counts, so one broker being down does not make the check fail.

* Without a **topic**: UP with "3 brokers, 42 topics"; DEGRADED when some partition of the cluster has no
  leader.
* With a **topic**: DOWN when the topic does not exist, reports an error, or a partition has no leader
  (leader -1: nobody can produce to or consume from it); DEGRADED when a partition's in-sync replicas are
  fewer than its replicas. The topic is never created, even with `auto.create.topics.enable`.

Listeners that require SASL authentication are not supported (the connection is closed by the broker and the
check is DOWN); a plain or TLS listener reachable from Beacon is needed.

```json
{"bootstrap_servers": ["kafka-1.internal:9092", "kafka-2.internal:9092"], "topic": "orders"}
```""",
))


# ------------------------------------------------------------------------------------------------------- MQTT

_CONNACK = {
    1: "unacceptable protocol version", 2: "client identifier rejected", 3: "server unavailable",
    4: "bad username or password", 5: "not authorised",
}


def _mqtt_refusal(exc: Exception) -> str:
    rc = getattr(exc, "rc", None)
    value = getattr(rc, "value", rc)  # paho 2 turns MQTT 3.1.1 CONNACK codes into MQTT 5 reason codes
    if value in (4, 5, 134, 135):
        return "not authorized (wrong username or password?)"
    if isinstance(value, int) and value in _CONNACK:
        return _CONNACK[value]
    if hasattr(rc, "getName"):
        return rc.getName()
    return str(exc) or type(exc).__name__


async def _mqtt(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, tls = config["host"], config["tls"]
    port = config.get("port") or (8883 if tls else 1883)
    where = f"{host}:{port}"
    client = aiomqtt.Client(
        host, port, username=config.get("username") or None, password=config.get("password") or None,
        identifier=config.get("client_id") or f"beacon-{uuid.uuid4().hex[:12]}", clean_session=True,
        tls_context=_tls_context(config["verify_tls"]) if tls else None, timeout=timeout,
        keepalive=max(5, int(timeout) * 2), logger=log)
    client._client.connect_timeout = timeout  # paho's blocking TCP connect (run in a thread by aiomqtt)
    try:
        return await _mqtt_session(client, config, timeout, where)
    finally:
        # aiomqtt leaves paho's socket open (and watched by the loop) when connecting times out or is cancelled:
        # a hung broker would keep one descriptor per check forever. Close it, and paho's wake-up socket pair.
        with contextlib.suppress(Exception):
            client._client._reset_sockets()


async def _mqtt_session(client: Any, config: Mapping[str, Any], timeout: float, where: str) -> CheckResult:
    topic = config.get("topic")
    phase = f"connecting to {where}"
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _deadline(timeout)
    started = time.perf_counter()
    try:
        async with asyncio.timeout_at(deadline):
            async with client:
                connected_ms = _ms(started)
                if not topic:
                    return up(f"Connected to {where}", latency_ms=connected_ms)
                phase = f"subscribing to '{topic}'"
                granted = await client.subscribe(topic, qos=0, timeout=timeout)
                codes = [getattr(code, "value", code) for code in granted]
                if any(code >= 0x80 for code in codes):
                    return down(f"Subscription to '{topic}' refused by the broker (not authorised?)")
                if not config["expect_message"]:
                    return up(f"Connected, subscribed to '{topic}'", latency_ms=_ms(started))
                expected = config.get("expected_payload")
                last = None
                phase = f"waiting for a message on '{topic}'"
                try:
                    async with asyncio.timeout_at(deadline - 0.05):
                        async for message in client.messages:
                            payload = bytes(message.payload or b"") if not isinstance(message.payload, str) \
                                else message.payload.encode()
                            text = payload.decode("utf-8", "replace")
                            if not expected or expected in text:
                                return up(f"Message on '{message.topic}': {_preview(text)}",
                                          latency_ms=_ms(started))
                            last = text
                except TimeoutError:
                    waited = f"within {timeout:g} s"
                    if last is not None:
                        return down(f"No message on '{topic}' contained '{expected}' {waited} "
                                    f"(last: {_preview(last)})")
                    return down(f"No message on '{topic}' {waited}")
                return down(f"Disconnected from {where} while waiting for a message")
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s {phase}")
    except aiomqtt.MqttCodeError as exc:
        if phase.startswith("connecting"):
            return down(f"Connection to {where} refused: {_mqtt_refusal(exc)}")
        return down(f"MQTT error {phase}: {exc}")
    except aiomqtt.MqttError as exc:
        text = str(exc)
        if "Connection refused" in text or "Errno 111" in text:
            return down(f"Connection refused by {where}")
        if "timed out" in text.lower():
            return down(f"Timed out after {timeout:g} s {phase}")
        return down(f"MQTT error {phase}: {text}")
    except OSError as exc:
        return down(_refused(exc, where) or f"Cannot connect to {where}: {exc}")


def _preview(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit - 1] + "…")


def _validate_mqtt(config: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if message := _host_error(config["host"]):
        errors["host"] = message
    if config["expect_message"] and not config.get("topic"):
        errors["topic"] = "is required to wait for a message"
    if config.get("expected_payload") and not config["expect_message"]:
        errors["expected_payload"] = "only applies when waiting for a message (turn on Expect a message)"
    if (topic := config.get("topic")) and (("#" in topic and not topic.endswith("#")) or "\x00" in topic):
        errors["topic"] = "'#' may only be the last character of a topic filter"
    return errors


register(Kind(
    name="mqtt", label="MQTT broker", family="queues", library="aiomqtt (paho-mqtt)",
    summary="UP when the broker accepts the connection (and, when asked, a message arrives on the topic); DOWN "
            "when it is unreachable, refuses the login or subscription, or no (matching) message arrives "
            "within the timeout.",
    fields=(
        Field("host", "Host", required=True, placeholder="mqtt.internal"),
        Field("port", "Port", "int", min=1, max=65535, help="Defaults to 1883, or 8883 with TLS."),
        Field("username", "Username"),
        Field("password", "Password", "secret"),
        Field("tls", "Use TLS", "bool", default=False),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True),
        Field("client_id", "Client ID", help="Leave empty for a random one per check (recommended: two clients "
                                             "with the same ID disconnect each other)."),
        Field("topic", "Topic", help="Optional: subscribe to this topic (wildcards + and # allowed).",
              placeholder="sensors/+/status"),
        Field("expect_message", "Expect a message", "bool", default=False,
              help="Wait for a message on the topic (a retained one arrives at once)."),
        Field("expected_payload", "Expected payload", help="Text the message must contain."),
    ),
    check=_mqtt, validate=_validate_mqtt,
    notes="""Connects with MQTT 3.1.1 and a clean session, then disconnects. With a **topic**, the check also
subscribes and fails when the broker refuses the subscription (an ACL problem).

With **expect_message**, the check waits for a message on the topic until shortly before the timeout: a
*retained* message arrives at once, so point it at a topic your devices publish with the retain flag (for
example a heartbeat or `status` topic), or at a topic that gets live traffic more often than the timeout.
**expected_payload** must then appear in the message text (e.g. `online`); messages that do not contain it
are skipped.

```json
{"host": "mqtt.internal", "username": "beacon", "password": "…", "topic": "plant/line1/status",
 "expect_message": true, "expected_payload": "online"}
```""",
))


# ------------------------------------------------------------------------------------------------------- NATS


async def _nats(config: Mapping[str, Any], timeout: float) -> CheckResult:
    servers = config["servers"]
    where = ", ".join(s.split("@")[-1] for s in servers)  # never show credentials inside a URL
    tls = any(s.startswith("tls://") for s in servers)

    failures: list[BaseException] = []

    async def on_error(exc: BaseException) -> None:  # instead of nats-py's default, which logs every failure
        failures.append(exc)

    async def ignore(*_: Any) -> None:
        return None

    # our own Client object, so that a connection cut short by the timeout can still be closed below
    client = NATS()
    phase = f"connecting to {where}"
    started = time.perf_counter()
    try:
        async with asyncio.timeout(_deadline(timeout)):
            await client.connect(
                servers, name="beacon uptime check", connect_timeout=max(1, round(timeout)),
                # nats-py retries a server forever with max_reconnect_attempts=0: 1 means "try each server
                # twice at most, without waiting", then NoServersError
                allow_reconnect=False, max_reconnect_attempts=1, reconnect_time_wait=0, dont_randomize=True,
                user=config.get("user") or None, password=config.get("password") or None,
                token=config.get("token") or None, tls=_tls_context(config["verify_tls"]) if tls else None,
                error_cb=on_error, disconnected_cb=ignore, closed_cb=ignore, ping_interval=3600)
            server = client.connected_server_version
            version = f"{server.major}.{server.minor}.{server.patch}"
            subject = config.get("subject")
            if not subject:
                phase = "waiting for the PONG"
                flush_started = time.perf_counter()
                await client.flush(timeout=max(0.1, timeout))
                rtt = _ms(flush_started)
                return up(f"Round trip {rtt:.1f} ms (nats-server {version})", latency_ms=rtt, rtt_ms=round(rtt, 2))
            phase = f"waiting for a reply on '{subject}'"
            request_started = time.perf_counter()
            payload = (config.get("payload") or "").encode()
            remaining = max(0.1, _deadline(timeout) - (time.perf_counter() - started) - 0.05)
            try:
                reply = await client.request(subject, payload, timeout=remaining)
            except nats_errors.NoRespondersError:
                return down(f"No responders on subject '{subject}'")
            except nats_errors.TimeoutError:
                return down(f"No reply on '{subject}' within {timeout:g} s")
            rtt = _ms(request_started)
            text = reply.data.decode("utf-8", "replace")
            expected = config.get("expected_reply")
            if expected and expected not in text:
                return down(f"Reply on '{subject}' does not contain '{expected}' (got {_preview(text)})",
                            latency_ms=rtt)
            return up(f"Reply in {rtt:.1f} ms: {_preview(text)}", latency_ms=rtt, rtt_ms=round(rtt, 2))
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s {phase}")
    except nats_errors.NoServersError:
        last = failures[-1] if failures else None
        if isinstance(last, OSError):
            return down(_refused(last, where) or f"Cannot connect to {where}: {last}")
        if isinstance(last, nats_errors.AuthorizationError):
            return down(f"Login refused by {where}: authorization violation")
        if isinstance(last, TimeoutError):
            return down(f"Timed out after {timeout:g} s {phase}")
        return down(f"Cannot connect to {where}" + (f": {last}" if last and str(last) else ""))
    except nats_errors.Error as exc:
        text = str(exc) or type(exc).__name__
        if "authorization" in text.lower():
            return down(f"Login refused by {where}: authorization violation")
        return down(f"NATS error {phase}: {text.removeprefix('nats: ')}")
    except OSError as exc:
        return down(_refused(exc, where) or f"Cannot connect to {where}: {exc}")
    finally:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await client.close()


def _validate_nats(config: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    bad = [s for s in config["servers"] if not re.fullmatch(r"(nats|tls)://[^\s/]+", s.rstrip("/"))]
    if bad:
        errors["servers"] = f"'{bad[0]}' must look like nats://host:4222 (or tls://host:4222)"
    if config.get("token") and (config.get("user") or config.get("password")):
        errors["token"] = "use either a token or a user and password, not both"
    if config.get("password") and not config.get("user"):
        errors["user"] = "is required with a password"
    subject = config.get("subject")
    if subject and (any(c.isspace() for c in subject) or "*" in subject or ">" in subject):
        errors["subject"] = "must be a plain subject without spaces or wildcards, e.g. health.orders"
    for name in ("payload", "expected_reply"):
        if config.get(name) and not subject:
            errors[name] = "needs a subject to send the request to"
    return errors


register(Kind(
    name="nats", label="NATS", family="queues", library="nats-py",
    summary="UP when the server completes a PING/PONG round trip (or a request on the subject gets a reply); "
            "DOWN when no server is reachable, the login is refused, nobody answers on the subject or the reply "
            "lacks the expected text.",
    fields=(
        Field("servers", "Servers", "list", required=True, help="nats:// or tls:// URLs, one per line.",
              placeholder="nats://nats.internal:4222"),
        Field("user", "User"),
        Field("password", "Password", "secret"),
        Field("token", "Token", "secret", help="Instead of a user and password."),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True, help="For tls:// servers."),
        Field("subject", "Subject", help="Optional: send a request here and wait for a reply.",
              placeholder="health.orders"),
        Field("payload", "Request payload", help="Sent with the request; empty by default."),
        Field("expected_reply", "Expected reply", help="Text the reply must contain."),
    ),
    check=_nats, validate=_validate_nats,
    notes="""Connects without reconnecting (servers are tried in the order given) and measures the round trip
of a PING. The round trip is the latency and is shown in the message.

With a **subject**, the check sends a request there and waits for the reply instead: this proves that a
service behind NATS is alive, not only the server. Your service subscribes to the subject and answers each
request (any reply counts, unless **expected_reply** is set). Nobody listening is DOWN "No responders on
subject ..." at once (nats-server 2.2 or later).

```json
{"servers": ["nats://nats-1.internal:4222", "nats://nats-2.internal:4222"], "user": "beacon",
 "password": "…", "subject": "health.orders", "expected_reply": "ok"}
```""",
))

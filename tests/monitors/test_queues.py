"""The queues family against real brokers on 127.0.0.1: the local RabbitMQ (5672, guest/guest), Mosquitto (1883)
and NATS (4222), plus private nats-server / mosquitto processes with a login where a wrong password is tested.
Kafka cannot run here: its tests use ``kafka_wire.KafkaFake``, which speaks the documented Kafka wire protocol."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import aiormq
import nats
import pytest
import trustme

from monitors import registry, schema
from tests.monitors.conftest import assert_times_out, check, free_port
from tests.monitors.kafka_wire import KafkaFake, Partition, Topic


def config_errors(kind: str, raw: dict) -> dict[str, str]:
    with pytest.raises(schema.ConfigError) as info:
        schema.validate(registry.get(kind), raw)
    return info.value.errors


def unique(prefix: str) -> str:
    return f"beacon-test-{prefix}-{uuid.uuid4().hex[:10]}"


async def wait_for_port(port: int, deadline: float = 5.0) -> None:
    stop = time.monotonic() + deadline
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > stop:
                raise
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


@contextlib.contextmanager
def process(*args: str) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(5)


# ---------------------------------------------------------------------------------------------------- RabbitMQ

RABBIT = {"host": "127.0.0.1", "username": "guest", "password": "guest"}


@pytest.fixture
async def rabbit_queue() -> AsyncIterator[str]:
    """A fresh queue on the local RabbitMQ holding 3 messages and no consumer."""
    name = unique("queue")
    connection = aiormq.Connection("amqp://guest:guest@127.0.0.1:5672/")
    await connection.connect()
    channel = await connection.channel()
    await channel.queue_declare(name)
    for n in range(3):
        await channel.basic_publish(f"message {n}".encode(), routing_key=name)
    yield name
    await channel.queue_delete(name)
    await connection.close()


async def test_rabbitmq_up_without_queue() -> None:
    result = await check("rabbitmq", RABBIT)
    assert result.outcome == "up", result
    assert result.message.startswith("Connected to RabbitMQ")


async def test_rabbitmq_queue_depth(rabbit_queue: str) -> None:
    result = await check("rabbitmq", {**RABBIT, "queue": rabbit_queue, "max_messages": 5})
    assert result.outcome == "up", result
    assert result.message == f"Queue '{rabbit_queue}': 3 messages, 0 consumers"
    assert result.details == {"messages": 3, "consumers": 0}

    result = await check("rabbitmq", {**RABBIT, "queue": rabbit_queue, "max_messages": 2})
    assert result.outcome == "degraded", result
    assert result.message == f"Queue '{rabbit_queue}': 3 messages, 0 consumers (more than 2)"

    result = await check("rabbitmq", {**RABBIT, "queue": rabbit_queue, "min_consumers": 1})
    assert result.outcome == "degraded", result
    assert result.message.endswith("(fewer than 1)")


async def test_rabbitmq_missing_queue_is_down() -> None:
    name = unique("missing")
    result = await check("rabbitmq", {**RABBIT, "queue": name})
    assert result.outcome == "down", result
    assert result.message == f"Queue '{name}' does not exist in vhost '/'"


async def test_rabbitmq_wrong_password_and_vhost_are_down() -> None:
    result = await check("rabbitmq", {**RABBIT, "password": "wrong"})
    assert result.outcome == "down", result
    assert result.message == "Login refused by 127.0.0.1:5672: wrong username or password for 'guest'"

    result = await check("rabbitmq", {**RABBIT, "vhost": unique("vhost")})
    assert result.outcome == "down", result
    assert "does not exist or user 'guest' may not use it" in result.message


async def test_rabbitmq_closed_port_is_down(closed_port: int) -> None:
    result = await check("rabbitmq", {**RABBIT, "port": closed_port})
    assert result.outcome == "down", result
    assert result.message == f"Connection refused by 127.0.0.1:{closed_port}"


async def test_rabbitmq_hung_server_times_out(hung_port: int) -> None:
    result = await assert_times_out("rabbitmq", {**RABBIT, "port": hung_port})
    assert f"connecting to 127.0.0.1:{hung_port}" in result.message


def test_rabbitmq_config_errors() -> None:
    assert config_errors("rabbitmq", {"host": "rabbit", "port": 70000, "max_messages": -1}) == {
        "port": "must be at most 65535", "max_messages": "must be at least 0"}
    assert config_errors("rabbitmq", {"host": "amqp://guest@rabbit", "max_messages": 10}) == {
        "host": "must be a host name or IP address only (no scheme or path), e.g. broker.internal",
        "max_messages": "needs a queue to watch"}


# ------------------------------------------------------------------------------------------------------ Kafka


async def test_kafka_up_lists_brokers_and_topics_on_an_old_broker() -> None:
    """Kafka 0.10-style broker (Metadata up to v2): the check asks for all topics with Metadata v1."""
    topics = {"orders": Topic(), "payments": Topic(), "__consumer_offsets": Topic(internal=True)}
    brokers = [(1, "k1", 9092), (2, "k2", 9092)]
    async with KafkaFake(topics=topics, brokers=brokers, metadata_versions=(0, 2)) as kafka:
        result = await check("kafka", {"bootstrap_servers": [f"127.0.0.1:{kafka.port}"]})
    assert result.outcome == "up", result
    assert result.message == "2 brokers, 2 topics"
    assert [(r.api_key, r.api_version) for r in kafka.requests] == [(18, 0), (3, 1)]
    assert kafka.requests[1].topics is None and kafka.requests[1].client_id == "beacon"


async def test_kafka_topic_up_on_a_modern_broker_without_auto_creation() -> None:
    """Kafka 4.0-style broker (Metadata v4-v12): one topic is asked for with auto-creation off."""
    topics = {"orders": Topic([Partition(1, (1, 2), (1, 2)), Partition(2, (2, 1), (2, 1))])}
    async with KafkaFake(topics=topics, brokers=[(1, "k1", 9092), (2, "k2", 9092), (3, "k3", 9092)],
                         metadata_versions=(4, 12)) as kafka:
        result = await check("kafka", {"bootstrap_servers": [f"127.0.0.1:{kafka.port}"], "topic": "orders"})
    assert result.outcome == "up", result
    assert result.message == "3 brokers, topic 'orders': 2 partitions"
    metadata = kafka.requests[1]
    assert (metadata.api_version, metadata.topics, metadata.allow_auto_topic_creation) == (4, ["orders"], False)


@pytest.mark.parametrize("versions", [(0, 2), (0, 7)])
async def test_kafka_missing_topic_is_down(versions: tuple[int, int]) -> None:
    async with KafkaFake(topics={"orders": Topic()}, metadata_versions=versions) as kafka:
        result = await check("kafka", {"bootstrap_servers": [f"127.0.0.1:{kafka.port}"], "topic": "invoices"})
    assert result.outcome == "down", result
    assert result.message == "Topic 'invoices' does not exist"


async def test_kafka_partition_without_leader_is_down_and_errors_are_named() -> None:
    topics = {
        "orders": Topic([Partition(1), Partition(-1, (2,), (), error=5), Partition(1)]),
        "secret": Topic([], error=29),
        "lagging": Topic([Partition(1, (1, 2, 3), (1,)), Partition(2, (2, 3), (2, 3))]),
    }
    async with KafkaFake(topics=topics) as kafka:
        servers = [f"127.0.0.1:{kafka.port}"]
        leaderless = await check("kafka", {"bootstrap_servers": servers, "topic": "orders"})
        denied = await check("kafka", {"bootstrap_servers": servers, "topic": "secret"})
        lagging = await check("kafka", {"bootstrap_servers": servers, "topic": "lagging"})
        cluster = await check("kafka", {"bootstrap_servers": servers})
    assert leaderless.outcome == "down", leaderless
    assert leaderless.message == "Topic 'orders': partition 1 has no leader"
    assert denied.outcome == "down", denied
    assert denied.message == "Topic 'secret': TOPIC_AUTHORIZATION_FAILED (29)"
    assert lagging.outcome == "degraded", lagging
    assert lagging.message == "1 broker, topic 'lagging': 2 partitions, 1 under-replicated"
    assert cluster.outcome == "degraded", cluster
    assert cluster.message == "1 broker, 3 topics; 1 partition has no leader"


async def test_kafka_first_answering_bootstrap_server_wins(closed_port: int, hung_port: int) -> None:
    async with KafkaFake(topics={"orders": Topic()}) as kafka:
        started = time.monotonic()
        result = await check("kafka", {"bootstrap_servers": [f"127.0.0.1:{hung_port}", f"127.0.0.1:{closed_port}",
                                                             f"127.0.0.1:{kafka.port}"]}, timeout=2)
    assert result.outcome == "up", result
    assert result.message == "1 broker, 1 topic"
    assert time.monotonic() - started < 1


async def test_kafka_unreachable_or_not_kafka_is_down(closed_port: int) -> None:
    result = await check("kafka", {"bootstrap_servers": [f"127.0.0.1:{closed_port}"]})
    assert result.outcome == "down", result
    assert result.message == f"Connection refused by 127.0.0.1:{closed_port}"

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        result = await check("kafka", {"bootstrap_servers": [f"127.0.0.1:{port}"]})
    assert result.outcome == "down", result
    assert result.message == f"127.0.0.1:{port} closed the connection (not Kafka, or TLS/SASL required?)"

    async with KafkaFake(metadata_versions=(0, 0)) as kafka:
        result = await check("kafka", {"bootstrap_servers": [f"127.0.0.1:{kafka.port}"]})
    assert result.outcome == "down", result
    assert "supports Metadata versions 0-0 only" in result.message


async def test_kafka_tls_listener() -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    async with KafkaFake(topics={"orders": Topic()}, tls=server_context) as kafka:
        servers = [f"127.0.0.1:{kafka.port}"]
        untrusted = await check("kafka", {"bootstrap_servers": servers, "tls": True})
        unverified = await check("kafka", {"bootstrap_servers": servers, "tls": True, "verify_tls": False})
        plain = await check("kafka", {"bootstrap_servers": servers})
    assert untrusted.outcome == "down", untrusted
    assert untrusted.message.startswith(f"TLS certificate of 127.0.0.1:{kafka.port} not trusted")
    assert unverified.outcome == "up", unverified
    assert unverified.message == "1 broker, 1 topic"
    assert plain.outcome == "down", plain
    assert "closed the connection" in plain.message or "Timed out" in plain.message


async def test_kafka_hung_server_times_out(hung_port: int) -> None:
    result = await assert_times_out("kafka", {"bootstrap_servers": [f"127.0.0.1:{hung_port}"]})
    assert f"waiting for 127.0.0.1:{hung_port}" in result.message


def test_kafka_config_errors() -> None:
    errors = config_errors("kafka", {"bootstrap_servers": ["kafka-1:9092", "http://kafka-2:9092", "k3:99999"]})
    assert errors["bootstrap_servers"] == ("'http://kafka-2:9092' must look like host:port, e.g. "
                                           "kafka-1.internal:9092; 'k3:99999': the port must be between 1 and 65535")
    assert config_errors("kafka", {"topic": "orders"}) == {"bootstrap_servers": "is required"}
    assert schema.validate(registry.get("kafka"), {"bootstrap_servers": "[::1]:9093\nkafka"})[
        "bootstrap_servers"] == ["[::1]:9093", "kafka"]


# ------------------------------------------------------------------------------------------------------- MQTT

MQTT = {"host": "127.0.0.1", "port": 1883}


async def test_mqtt_up_on_connect_and_subscribe() -> None:
    result = await check("mqtt", MQTT)
    assert result.outcome == "up", result
    assert result.message == "Connected to 127.0.0.1:1883"
    topic = unique("mqtt") + "/#"
    result = await check("mqtt", {**MQTT, "topic": topic})
    assert result.outcome == "up", result
    assert result.message == f"Connected, subscribed to '{topic}'"


async def test_mqtt_retained_message_and_expected_payload() -> None:
    topic = unique("mqtt") + "/status"
    async with aiomqtt.Client("127.0.0.1", 1883) as client:
        await client.publish(topic, b"device online", qos=1, retain=True)
    try:
        result = await check("mqtt", {**MQTT, "topic": topic, "expect_message": True,
                                      "expected_payload": "online"}, timeout=2)
        assert result.outcome == "up", result
        assert result.message == f"Message on '{topic}': 'device online'"

        result = await check("mqtt", {**MQTT, "topic": topic, "expect_message": True,
                                      "expected_payload": "offline"}, timeout=1)
        assert result.outcome == "down", result
        assert result.message == f"No message on '{topic}' contained 'offline' within 1 s (last: 'device online')"
    finally:
        async with aiomqtt.Client("127.0.0.1", 1883) as client:
            await client.publish(topic, b"", qos=1, retain=True)  # clears the retained message


async def test_mqtt_live_message_and_silence() -> None:
    topic = unique("mqtt") + "/live"
    result = await check("mqtt", {**MQTT, "topic": topic, "expect_message": True}, timeout=1)
    assert result.outcome == "down", result
    assert result.message == f"No message on '{topic}' within 1 s"

    waiting = asyncio.create_task(check("mqtt", {**MQTT, "topic": topic, "expect_message": True}, timeout=3))
    async with aiomqtt.Client("127.0.0.1", 1883) as client:
        for _ in range(40):  # publish until the check has subscribed and received one
            await client.publish(topic, b"tick", qos=0)
            await asyncio.sleep(0.05)
            if waiting.done():
                break
    result = await waiting
    assert result.outcome == "up", result
    assert result.message == f"Message on '{topic}': 'tick'"


@pytest.fixture
async def mosquitto_with_login() -> AsyncIterator[int]:
    """A private Mosquitto that requires the login beacon / s3cret."""
    if not (shutil.which("mosquitto") and shutil.which("mosquitto_passwd")):
        pytest.skip("mosquitto is not installed")
    # started as root, mosquitto drops to its own user: its files must be readable by others
    with tempfile.TemporaryDirectory(prefix="beacon-mosquitto-") as folder:
        os.chmod(folder, 0o755)
        passwords = Path(folder) / "passwd"
        make = await asyncio.create_subprocess_exec("mosquitto_passwd", "-b", "-c", str(passwords), "beacon",
                                                    "s3cret", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert await make.wait() == 0
        passwords.chmod(0o644)
        port = free_port()
        conf = Path(folder) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\n"
                        "persistence false\n")
        with process("mosquitto", "-c", str(conf)):
            await wait_for_port(port)
            yield port


async def test_mqtt_login(mosquitto_with_login: int) -> None:
    config = {"host": "127.0.0.1", "port": mosquitto_with_login, "username": "beacon"}
    result = await check("mqtt", {**config, "password": "s3cret"})
    assert result.outcome == "up", result
    result = await check("mqtt", {**config, "password": "wrong"})
    assert result.outcome == "down", result
    assert result.message == (f"Connection to 127.0.0.1:{mosquitto_with_login} refused: "
                              "not authorized (wrong username or password?)")


async def test_mqtt_closed_port_is_down(closed_port: int) -> None:
    result = await check("mqtt", {"host": "127.0.0.1", "port": closed_port})
    assert result.outcome == "down", result
    assert result.message == f"Connection refused by 127.0.0.1:{closed_port}"


async def test_mqtt_hung_server_times_out(hung_port: int) -> None:
    result = await assert_times_out("mqtt", {"host": "127.0.0.1", "port": hung_port})
    assert f"connecting to 127.0.0.1:{hung_port}" in result.message


def test_mqtt_config_errors() -> None:
    assert config_errors("mqtt", {"host": "mqtt.internal", "expect_message": True}) == {
        "topic": "is required to wait for a message"}
    errors = config_errors("mqtt", {"host": "mqtt://broker", "topic": "a/#/b", "expected_payload": "x"})
    assert errors == {"host": "must be a host name or IP address only (no scheme or path), e.g. broker.internal",
                      "topic": "'#' may only be the last character of a topic filter",
                      "expected_payload": "only applies when waiting for a message (turn on Expect a message)"}


# ------------------------------------------------------------------------------------------------------- NATS

NATS = {"servers": ["nats://127.0.0.1:4222"]}


async def test_nats_up_with_round_trip() -> None:
    result = await check("nats", NATS)
    assert result.outcome == "up", result
    assert result.message.startswith("Round trip ") and "nats-server 2." in result.message
    assert result.details["rtt_ms"] == pytest.approx(result.latency_ms, abs=0.01)


async def test_nats_request_reply() -> None:
    subject = unique("nats").replace("-", ".")
    responder = await nats.connect("nats://127.0.0.1:4222")

    async def answer(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(b"orders ok: " + msg.data)

    await responder.subscribe(subject, cb=answer)
    await responder.flush()
    try:
        result = await check("nats", {**NATS, "subject": subject, "payload": "ping", "expected_reply": "ok"})
        assert result.outcome == "up", result
        assert result.message.startswith("Reply in ") and result.message.endswith(": 'orders ok: ping'")

        result = await check("nats", {**NATS, "subject": subject, "expected_reply": "healthy"})
        assert result.outcome == "down", result
        assert result.message == f"Reply on '{subject}' does not contain 'healthy' (got 'orders ok:')"
    finally:
        await responder.close()


async def test_nats_no_responders_is_down() -> None:
    subject = unique("nats").replace("-", ".")
    result = await check("nats", {**NATS, "subject": subject})
    assert result.outcome == "down", result
    assert result.message == f"No responders on subject '{subject}'"


@pytest.fixture
async def nats_with_login() -> AsyncIterator[int]:
    """A private nats-server that requires the login beacon / s3cret."""
    if not shutil.which("nats-server"):
        pytest.skip("nats-server is not installed")
    port = free_port()
    with process("nats-server", "-a", "127.0.0.1", "-p", str(port), "--user", "beacon", "--pass", "s3cret"):
        await wait_for_port(port)
        yield port


async def test_nats_login(nats_with_login: int) -> None:
    config = {"servers": [f"nats://127.0.0.1:{nats_with_login}"], "user": "beacon"}
    result = await check("nats", {**config, "password": "s3cret"})
    assert result.outcome == "up", result
    result = await check("nats", {**config, "password": "wrong"})
    assert result.outcome == "down", result
    assert result.message == f"Login refused by nats://127.0.0.1:{nats_with_login}: authorization violation"


async def test_nats_closed_port_is_down_and_next_server_is_used(closed_port: int) -> None:
    result = await check("nats", {"servers": [f"nats://127.0.0.1:{closed_port}"]})
    assert result.outcome == "down", result
    assert result.message == f"Connection refused by nats://127.0.0.1:{closed_port}"
    result = await check("nats", {"servers": [f"nats://127.0.0.1:{closed_port}", "nats://127.0.0.1:4222"]})
    assert result.outcome == "up", result


async def test_nats_hung_server_times_out(hung_port: int) -> None:
    result = await assert_times_out("nats", {"servers": [f"nats://127.0.0.1:{hung_port}"]})
    assert "connecting to nats://127.0.0.1:" in result.message


def test_nats_config_errors() -> None:
    errors = config_errors("nats", {"servers": ["http://nats:4222"], "token": "t", "user": "u", "password": "p"})
    assert errors == {"servers": "'http://nats:4222' must look like nats://host:4222 (or tls://host:4222)",
                      "token": "use either a token or a user and password, not both"}
    assert config_errors("nats", {"servers": "nats://n:4222", "subject": "a.*", "expected_reply": "ok"}) == {
        "subject": "must be a plain subject without spaces or wildcards, e.g. health.orders"}
    assert config_errors("nats", {"servers": "nats://n:4222", "expected_reply": "ok"}) == {
        "expected_reply": "needs a subject to send the request to"}

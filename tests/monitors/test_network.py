"""The network kinds (tcp, udp, icmp, websocket, grpc, ssh) against real servers on 127.0.0.1, started here:
an asyncio TCP server, a UDP echo server, the kernel's own ICMP echo, a websockets server, a grpcio server with
the standard health servicer and an asyncssh server. TLS variants use a throwaway CA from trustme."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncssh
import grpc
import pytest
import trustme
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Response

from monitors import registry, schema
from tests.monitors.conftest import assert_times_out, check

ROOT = Path(__file__).resolve().parents[2]


def config_errors(kind: str, raw: dict) -> dict[str, str]:
    with pytest.raises(schema.ConfigError) as err:
        schema.validate(registry.get(kind), raw)
    return err.value.errors


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("127.0.0.1", "localhost")


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


# ------------------------------------------------------------------------------------------------------- tcp


@pytest.fixture
async def tcp_port() -> AsyncIterator[int]:
    async def serve_one(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(serve_one, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


@pytest.fixture
def backlog_full_port() -> Iterator[int]:
    """A listening socket whose accept queue is full: the kernel drops further SYNs, so a connect hangs
    (what a firewall that silently drops packets looks like)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    time.sleep(0.05)
    yield port
    for s in fillers:
        s.close()
    listener.close()


async def test_tcp_up(tcp_port: int) -> None:
    result = await check("tcp", {"host": "127.0.0.1", "port": tcp_port}, 2)
    assert result.outcome == "up", result
    assert result.message.startswith(f"Connected to 127.0.0.1:{tcp_port} in ")
    assert result.latency_ms is not None and result.latency_ms < 500


async def test_tcp_refused_and_unresolvable(closed_port: int) -> None:
    result = await check("tcp", {"host": "127.0.0.1", "port": closed_port}, 2)
    assert (result.outcome, result.message) == ("down", f"Connection refused by 127.0.0.1:{closed_port}")
    result = await check("tcp", {"host": "no-such-host.invalid", "port": 80}, 2)
    assert result.outcome == "down"
    assert result.message.startswith("Cannot resolve no-such-host.invalid")


async def test_tcp_connect_that_hangs_times_out(backlog_full_port: int) -> None:
    result = await assert_times_out("tcp", {"host": "127.0.0.1", "port": backlog_full_port})
    assert result.message == f"Timed out after 1 s connecting to 127.0.0.1:{backlog_full_port}"


def test_tcp_invalid_config() -> None:
    assert config_errors("tcp", {"host": "http://db", "port": 0}) == {"port": "must be at least 1"}
    assert config_errors("tcp", {"port": "x"}) == {"host": "is required", "port": "must be a whole number"}
    assert config_errors("tcp", {"host": "http://db/x", "port": 5432}) == {
        "host": "must be a host name or IP address (no scheme, path or spaces), e.g. db.internal or 10.0.0.5"}


# ------------------------------------------------------------------------------------------------------- udp


class _Echo(asyncio.DatagramProtocol):
    """Echoes each datagram back, prefixed with "echo:"; answers "wrong" to "bad"."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self.transport.sendto(b"wrong" if data == b"bad" else b"echo:" + data, addr)


@pytest.fixture
async def udp_echo_port() -> AsyncIterator[int]:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        _Echo, local_addr=("127.0.0.1", 0))
    yield transport.get_extra_info("sockname")[1]
    transport.close()


@pytest.fixture
def silent_udp_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


async def test_udp_up_with_and_without_expected_reply(udp_echo_port: int) -> None:
    base = {"host": "127.0.0.1", "port": udp_echo_port, "payload": "ping"}
    result = await check("udp", {**base, "expected_reply": "echo:ping"}, 2)
    assert result.outcome == "up", result
    assert result.message.startswith("Reply of 9 bytes in ")
    assert (await check("udp", base, 2)).outcome == "up"


async def test_udp_hex_payload(udp_echo_port: int) -> None:
    config = {"host": "127.0.0.1", "port": udp_echo_port, "payload_hex": True, "payload": "00 ff 10",
              "expected_reply": "3a 00ff10"}
    result = await check("udp", config, 2)
    assert result.outcome == "up", result
    result = await check("udp", {**config, "expected_reply": "ee"}, 2)
    assert (result.outcome, result.message) == ("down", "Reply does not contain ee; got 65 63 68 6f 3a 00 ff 10")


async def test_udp_wrong_reply(udp_echo_port: int) -> None:
    result = await check("udp", {"host": "127.0.0.1", "port": udp_echo_port, "payload": "bad",
                                 "expected_reply": "echo"}, 2)
    assert (result.outcome, result.message) == ("down", "Reply does not contain 'echo'; got 'wrong'")


async def test_udp_port_unreachable(closed_port: int) -> None:
    result = await check("udp", {"host": "127.0.0.1", "port": closed_port, "payload": "ping"}, 2)
    assert result.outcome == "down"
    assert result.message == (f"Port {closed_port} unreachable on 127.0.0.1 "
                              "(ICMP port unreachable: nothing listens there)")


async def test_udp_no_reply_times_out(silent_udp_port: int) -> None:
    result = await assert_times_out("udp", {"host": "127.0.0.1", "port": silent_udp_port, "payload": "ping"})
    assert result.message == f"Timed out after 1 s: no reply from 127.0.0.1:{silent_udp_port}"


def test_udp_invalid_config() -> None:
    assert config_errors("udp", {"host": "h", "port": 53, "payload_hex": True, "payload": "zz"}) == {
        "payload": "must be hexadecimal bytes (e.g. 0a ff 10) because “Payload is hex” is on"}


# ------------------------------------------------------------------------------------------------------ icmp


async def test_icmp_localhost_up() -> None:
    result = await check("icmp", {"host": "127.0.0.1", "count": 2}, 2)
    assert result.outcome == "up", result
    assert result.message.startswith("2/2 replies from 127.0.0.1, avg ")
    assert result.details["packet_loss_percent"] == 0
    result = await check("icmp", {"host": "localhost", "count": 1}, 2)
    assert result.outcome == "up", result
    assert result.message.startswith("1/1 replies from localhost (")


async def test_icmp_slow_is_degraded() -> None:
    result = await check("icmp", {"host": "127.0.0.1", "count": 1, "degrade_ms": 0.000001}, 2)
    assert result.outcome == "degraded", result
    assert result.message.endswith(", above 1e-06 ms")


async def test_icmp_unknown_host_down() -> None:
    result = await check("icmp", {"host": "no-such-host.invalid"}, 2)
    assert result.outcome == "down"
    assert result.message.startswith("Cannot resolve no-such-host.invalid")


_IN_NETNS = """
ip link set lo up && ip tuntap add tun0 mode tun && ip addr add 10.99.0.1/24 dev tun0 && ip link set tun0 up \
&& exec "$0" -c "$1"
"""
_RUN_CHECK = """
import asyncio, json, time
from tests.monitors.conftest import check
async def main():
    t = time.monotonic()
    r = await check("icmp", {"host": "10.99.0.2", "count": 2}, 1.0)
    print(json.dumps({"outcome": r.outcome, "message": r.message, "elapsed": time.monotonic() - t}))
asyncio.run(main())
"""


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"),
                    reason="needs root, unshare and ip for a private network namespace")
def test_icmp_no_reply_down_within_timeout() -> None:
    """A host that never answers, without leaving the machine: in a fresh network namespace (unshare -n),
    10.99.0.2 routes to a TUN device nobody reads, so every echo request is silently dropped."""
    proc = subprocess.run(["unshare", "-n", "sh", "-c", _IN_NETNS, sys.executable, _RUN_CHECK], cwd=ROOT,
                          capture_output=True, text=True, timeout=20)
    if proc.returncode and "Operation not permitted" in proc.stderr:
        pytest.skip(f"cannot create a network namespace here: {proc.stderr.strip()}")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["outcome"] == "down"
    assert result["message"] == "No reply from 10.99.0.2: 2 of 2 pings timed out (100% loss)"
    assert result["elapsed"] < 2.0


def test_icmp_invalid_config() -> None:
    assert config_errors("icmp", {"host": "h", "count": 21, "max_loss_percent": 101}) == {
        "count": "must be at most 20", "max_loss_percent": "must be at most 100"}


# ------------------------------------------------------------------------------------------------- websocket


async def _ws_handler(ws: ServerConnection) -> None:
    path = ws.request.path
    if path == "/greet":
        await ws.send("hello from server")
        await ws.wait_closed()
        return
    if path == "/silent":
        await ws.wait_closed()
        return
    async for message in ws:
        await ws.send("nope" if path == "/wrong" else f"echo:{message}")


def _ws_gate(ws: ServerConnection, request) -> Response | None:  # noqa: ANN001
    if request.path == "/private" and request.headers.get("Authorization") != "Bearer t0ken":
        return ws.respond(403, "Forbidden\n")
    return None


@pytest.fixture
async def ws_port() -> AsyncIterator[int]:
    async with serve(_ws_handler, "127.0.0.1", 0, process_request=_ws_gate) as server:
        yield server.sockets[0].getsockname()[1]


@pytest.fixture
async def wss_port(server_cert: trustme.LeafCert) -> AsyncIterator[int]:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(ctx)
    async with serve(_ws_handler, "127.0.0.1", 0, ssl=ctx) as server:
        yield server.sockets[0].getsockname()[1]


async def test_websocket_handshake_and_echo_up(ws_port: int) -> None:
    url = f"ws://127.0.0.1:{ws_port}/echo"
    result = await check("websocket", {"url": url}, 2)
    assert result.outcome == "up", result
    assert result.message.startswith("WebSocket opened in ")
    result = await check("websocket", {"url": url, "send": "ping", "expected_reply": "echo:ping"}, 2)
    assert result.outcome == "up", result
    assert result.message.startswith("Reply of 9 characters in ")


async def test_websocket_server_greeting_and_headers(ws_port: int) -> None:
    result = await check("websocket", {"url": f"ws://127.0.0.1:{ws_port}/greet", "expected_reply": "hello"}, 2)
    assert result.outcome == "up", result
    result = await check("websocket", {"url": f"ws://127.0.0.1:{ws_port}/private",
                                       "headers": "Authorization: Bearer t0ken"}, 2)
    assert result.outcome == "up", result


async def test_websocket_wrong_reply_and_refused_upgrade(ws_port: int) -> None:
    result = await check("websocket", {"url": f"ws://127.0.0.1:{ws_port}/wrong", "send": "ping",
                                       "expected_reply": "echo:ping"}, 2)
    assert (result.outcome, result.message) == ("down", "Reply does not contain 'echo:ping'; got 'nope'")
    result = await check("websocket", {"url": f"ws://127.0.0.1:{ws_port}/private"}, 2)
    assert (result.outcome, result.message) == ("down", "Server refused the WebSocket upgrade: HTTP 403 Forbidden")


async def test_websocket_no_reply_times_out(ws_port: int) -> None:
    result = await assert_times_out("websocket", {"url": f"ws://127.0.0.1:{ws_port}/silent", "send": "ping"})
    assert result.message == "Timed out after 1 s waiting for a message"


async def test_websocket_hung_server_times_out(hung_port: int) -> None:
    result = await assert_times_out("websocket", {"url": f"ws://127.0.0.1:{hung_port}/"})
    assert result.message == "Timed out after 1 s opening the WebSocket"


async def test_websocket_refused(closed_port: int) -> None:
    result = await check("websocket", {"url": f"ws://127.0.0.1:{closed_port}/"}, 2)
    assert (result.outcome, result.message) == ("down", f"Connection refused by 127.0.0.1:{closed_port}")


async def test_websocket_tls(wss_port: int, ca_file: str) -> None:
    url = f"wss://127.0.0.1:{wss_port}/echo"
    result = await check("websocket", {"url": url, "send": "x", "expected_reply": "echo:x", "ca_file": ca_file}, 2)
    assert result.outcome == "up", result
    result = await check("websocket", {"url": url}, 2)
    assert result.outcome == "down"
    assert result.message.startswith("TLS certificate not trusted: ")
    assert (await check("websocket", {"url": url, "verify_tls": False}, 2)).outcome == "up"


def test_websocket_invalid_config() -> None:
    assert config_errors("websocket", {"url": "ws://x/", "headers": "no colon"}) == {
        "headers": 'line 1 must look like "Name: value"'}
    assert config_errors("websocket", {"url": "http://example.com/"}) == {
        "url": "must be a ws:// or wss:// URL, e.g. wss://example.com/socket"}
    assert config_errors("websocket", {"url": "ws://example.com:99999/"}) == {
        "url": "is not a valid URL: Port out of range 0-65535"}


# ------------------------------------------------------------------------------------------------------ grpc


async def _grpc_server(credentials: grpc.ServerCredentials | None) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    await servicer.set("shop.Orders", health_pb2.HealthCheckResponse.SERVING)
    await servicer.set("shop.Billing", health_pb2.HealthCheckResponse.NOT_SERVING)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    return server, port


@pytest.fixture
async def grpc_port() -> AsyncIterator[int]:
    server, port = await _grpc_server(None)
    yield port
    await server.stop(None)


@pytest.fixture
async def grpc_tls_port(server_cert: trustme.LeafCert) -> AsyncIterator[int]:
    creds = grpc.ssl_server_credentials(
        [(server_cert.private_key_pem.bytes(), b"".join(p.bytes() for p in server_cert.cert_chain_pems))])
    server, port = await _grpc_server(creds)
    yield port
    await server.stop(None)


async def test_grpc_serving_up(grpc_port: int) -> None:
    result = await check("grpc", {"host": "127.0.0.1", "port": grpc_port}, 2)
    assert (result.outcome, result.message) == ("up", "SERVING (server)")
    result = await check("grpc", {"host": "127.0.0.1", "port": grpc_port, "service": "shop.Orders"}, 2)
    assert (result.outcome, result.message) == ("up", "SERVING (service 'shop.Orders')")


async def test_grpc_not_serving_and_unknown_down(grpc_port: int) -> None:
    result = await check("grpc", {"host": "127.0.0.1", "port": grpc_port, "service": "shop.Billing"}, 2)
    assert (result.outcome, result.message) == ("down", "NOT_SERVING (service 'shop.Billing')")
    result = await check("grpc", {"host": "127.0.0.1", "port": grpc_port, "service": "shop.Nope"}, 2)
    assert (result.outcome, result.message) == (
        "down", "SERVICE_UNKNOWN: the health server does not know service 'shop.Nope'")


async def test_grpc_refused_and_hung(closed_port: int, hung_port: int) -> None:
    result = await check("grpc", {"host": "127.0.0.1", "port": closed_port}, 2)
    assert (result.outcome, result.message) == ("down", f"Connection refused by 127.0.0.1:{closed_port}")
    result = await assert_times_out("grpc", {"host": "127.0.0.1", "port": hung_port})
    assert result.message == f"Timed out after 1 s waiting for the health check of 127.0.0.1:{hung_port}"


async def test_grpc_tls(grpc_tls_port: int, ca_file: str) -> None:
    base = {"host": "127.0.0.1", "port": grpc_tls_port, "tls": True}
    result = await check("grpc", {**base, "ca_file": ca_file}, 2)
    assert (result.outcome, result.message) == ("up", "SERVING (server)")
    result = await check("grpc", base, 2)
    assert result.outcome == "down"
    assert result.message.startswith(f"TLS certificate not trusted by 127.0.0.1:{grpc_tls_port}: "), result
    result = await check("grpc", {**base, "verify_tls": False}, 2)
    assert (result.outcome, result.message) == ("up", "SERVING (server)")


async def test_grpc_tls_without_verification_for_a_certificate_of_another_name(ca: trustme.CA) -> None:
    """verify_tls off trusts the presented certificate even when it names another host (self-signed setups)."""
    cert = ca.issue_cert("orders.internal")
    server, port = await _grpc_server(grpc.ssl_server_credentials(
        [(cert.private_key_pem.bytes(), cert.cert_chain_pems[0].bytes())]))
    try:
        result = await check("grpc", {"host": "127.0.0.1", "port": port, "tls": True, "verify_tls": False}, 2)
        assert (result.outcome, result.message) == ("up", "SERVING (server)")
    finally:
        await server.stop(None)


async def test_grpc_plaintext_client_against_tls_server_down(grpc_tls_port: int) -> None:
    result = await check("grpc", {"host": "127.0.0.1", "port": grpc_tls_port}, 2)
    assert result.outcome == "down"


def test_grpc_invalid_config() -> None:
    assert config_errors("grpc", {"host": "h", "port": 70000, "tls": "maybe"}) == {
        "port": "must be at most 65535", "tls": "must be true or false"}
    assert config_errors("grpc", {"host": "h", "port": 1, "ca_file": "/ca.pem"}) == {
        "ca_file": "only applies with TLS on"}


# ------------------------------------------------------------------------------------------------------- ssh

SSH_USER, SSH_PASSWORD = "beacon", "s3cret"


@pytest.fixture(scope="module")
def ssh_keys() -> tuple[asyncssh.SSHKey, asyncssh.SSHKey]:
    return asyncssh.generate_private_key("ssh-ed25519"), asyncssh.generate_private_key("ssh-ed25519")


class _PasswordServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return (username, password) == (SSH_USER, SSH_PASSWORD)


@pytest.fixture
async def ssh_port(ssh_keys: tuple[asyncssh.SSHKey, asyncssh.SSHKey]) -> AsyncIterator[int]:
    host_key, client_key = ssh_keys
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode())
    server = await asyncssh.create_server(_PasswordServer, "127.0.0.1", 0, server_host_keys=[host_key],
                                          authorized_client_keys=authorized, server_version="BeaconTest_1.0")
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


def _ssh(port: int, **extra) -> dict:
    return {"host": "127.0.0.1", "port": port, **extra}


async def test_ssh_banner_up_and_expected(ssh_port: int) -> None:
    result = await check("ssh", _ssh(ssh_port, expected_banner="BeaconTest"), 2)
    assert (result.outcome, result.message) == ("up", "Banner: SSH-2.0-BeaconTest_1.0")
    result = await check("ssh", _ssh(ssh_port, expected_banner="OpenSSH_9"), 2)
    assert (result.outcome, result.message) == (
        "down", "Banner 'SSH-2.0-BeaconTest_1.0' does not contain 'OpenSSH_9'")


async def test_ssh_auth_password(ssh_port: int) -> None:
    result = await check("ssh", _ssh(ssh_port, mode="auth", username=SSH_USER, password=SSH_PASSWORD), 2)
    assert (result.outcome, result.message) == ("up", "Logged in: SSH-2.0-BeaconTest_1.0")
    result = await check("ssh", _ssh(ssh_port, mode="auth", username=SSH_USER, password="wrong"), 2)
    assert (result.outcome, result.message) == (
        "down", f"Login as 'beacon' failed: authentication rejected by 127.0.0.1:{ssh_port}")


async def test_ssh_auth_private_key(ssh_port: int, ssh_keys: tuple[asyncssh.SSHKey, asyncssh.SSHKey]) -> None:
    pem = ssh_keys[1].export_private_key().decode()
    result = await check("ssh", _ssh(ssh_port, mode="auth", username=SSH_USER, private_key=pem), 2)
    assert (result.outcome, result.message) == ("up", "Logged in: SSH-2.0-BeaconTest_1.0")
    other = asyncssh.generate_private_key("ssh-ed25519").export_private_key().decode()
    result = await check("ssh", _ssh(ssh_port, mode="auth", username=SSH_USER, private_key=other), 2)
    assert result.outcome == "down"
    assert result.message.startswith("Login as 'beacon' failed")


async def test_ssh_host_key_fingerprint(ssh_port: int, ssh_keys: tuple[asyncssh.SSHKey, asyncssh.SSHKey]) -> None:
    right = ssh_keys[0].get_fingerprint("sha256")
    wrong = asyncssh.generate_private_key("ssh-ed25519").get_fingerprint("sha256")
    login = {"mode": "auth", "username": SSH_USER, "password": SSH_PASSWORD}
    assert (await check("ssh", _ssh(ssh_port, host_key_sha256=right), 2)).outcome == "up"
    assert (await check("ssh", _ssh(ssh_port, host_key_sha256=right[7:], **login), 2)).outcome == "up"
    for config in (_ssh(ssh_port, host_key_sha256=wrong), _ssh(ssh_port, host_key_sha256=wrong, **login)):
        result = await check("ssh", config, 2)
        assert (result.outcome, result.message) == ("down", f"Host key mismatch: expected {wrong}, "
                                                             f"server presented {right}")


async def test_ssh_refused_and_hung(closed_port: int, hung_port: int) -> None:
    result = await check("ssh", _ssh(closed_port), 2)
    assert (result.outcome, result.message) == ("down", f"Connection refused by 127.0.0.1:{closed_port}")
    result = await assert_times_out("ssh", _ssh(hung_port))
    assert result.message == f"Timed out after 1 s reading the SSH banner on 127.0.0.1:{hung_port}"
    result = await assert_times_out("ssh", _ssh(hung_port, mode="auth", username="u", password="p"))
    assert result.message == f"Timed out after 1 s logging in on 127.0.0.1:{hung_port}"


async def test_ssh_not_an_ssh_server(tcp_port: int) -> None:
    result = await check("ssh", _ssh(tcp_port), 2)
    assert result.outcome == "down"
    assert result.message == (f"Not an SSH server at 127.0.0.1:{tcp_port}: "
                              "closed the connection without an SSH banner")


def test_ssh_invalid_config() -> None:
    assert config_errors("ssh", {"host": "h", "mode": "auth"}) == {
        "username": "is required to log in", "password": "give a password or a private key to log in"}
    errors = config_errors("ssh", {"host": "h", "mode": "auth", "username": "u", "private_key": "nope",
                                   "host_key_sha256": "SHA256:abc"})
    assert errors["private_key"].startswith("is not a usable private key")
    assert errors["host_key_sha256"].startswith("must be a SHA256 fingerprint as printed by ssh-keygen -lf")
    assert config_errors("ssh", {"host": "h", "mode": "telnet"}) == {"mode": "must be one of banner, auth"}

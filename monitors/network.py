"""Network-level monitor kinds: TCP, UDP, ICMP ping, WebSocket, gRPC health and SSH.

Every check opens fresh connections (no pooling that would hide a dead server), passes its timeout to each
library call, and reports expected failures as DOWN with a message a person can act on.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import ipaddress
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any

from monitors.base import CheckResult, Field, Kind, degraded, down, up
from monitors.registry import register
from monitors.tls import client_context

# Leave a little of the runner's budget so that our own timeout message (which names what hung) wins the race
# against the runner's cancellation.
_MARGIN = 0.9


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _os_error(exc: OSError, host: str, port: int) -> str:
    """Words for a failed connect: refused, unresolvable, unreachable, or the OS's own text."""
    where = _where(host, port)
    if isinstance(exc, ConnectionRefusedError):
        return f"Connection refused by {where}"
    if isinstance(exc, socket.gaierror):
        return f"Cannot resolve {host}: {exc.strerror or exc}"
    if isinstance(exc, ConnectionResetError):
        return f"Connection reset by {where}"
    text = exc.strerror or str(exc) or type(exc).__name__
    if "Multiple exceptions" in text and "refused" in text.lower():
        return f"Connection refused by {where}"
    return f"Cannot connect to {where}: {text}"


def _host_error(host: str) -> str | None:
    if not host or any(c.isspace() for c in host) or "/" in host:
        return "must be a host name or IP address (no scheme, path or spaces), e.g. db.internal or 10.0.0.5"
    return None


def _validate_host(config: Mapping[str, Any]) -> dict[str, str]:
    error = _host_error(config.get("host", ""))
    return {"host": error} if error else {}


def _ssl_context(verify: bool, ca_file: str) -> ssl.SSLContext:
    return client_context(verify, ca_file or None)


def _tls_error(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted: {exc.verify_message or exc.reason or exc}"
    return f"TLS handshake failed: {exc.reason or exc}"


HOST = Field("host", "Host", required=True, placeholder="db.internal",
             help="Host name or IP address, without scheme or port.")


def _port(default: int | None = None) -> Field:
    return Field("port", "Port", "int", required=default is None, default=default, min=1, max=65535)


VERIFY_TLS = Field("verify_tls", "Verify TLS certificate", "bool", default=True,
                   help="Turn off only for self-signed certificates you cannot add as a CA file.")
CA_FILE = Field("ca_file", "CA file", placeholder="/etc/beacon/internal-ca.pem",
                help="PEM file of the certificate authority to trust instead of the system store.")


# ---------------------------------------------------------------------------------------------------- tcp


async def _tcp(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, port = config["host"], config["port"]
    budget = timeout * _MARGIN
    started = time.perf_counter()
    try:
        async with asyncio.timeout(budget):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s connecting to {_where(host, port)}")
    except OSError as exc:
        return down(_os_error(exc, host, port))
    latency = _ms(started)
    writer.close()
    try:
        async with asyncio.timeout(max(0.0, budget - latency / 1000)):
            await writer.wait_closed()
    except (OSError, TimeoutError):
        pass
    return up(f"Connected to {_where(host, port)} in {latency:.0f} ms", latency)


register(Kind(
    name="tcp", label="TCP port", family="network", library="asyncio streams",
    summary="UP when a TCP connection to host:port opens within the timeout; DOWN when it is refused, "
            "unreachable or times out.",
    fields=(HOST, _port()),
    validate=_validate_host,
    check=_tcp,
    notes="""\
Opens a TCP connection and closes it again at once, without sending a byte. The latency is the time the
connection took to open (name lookup included). Use it for services without a kind of their own, or to watch
that a port is reachable through a firewall.

A firewall that silently drops packets shows as a timeout; one that rejects them shows as "Connection refused".

```json
{"host": "db.internal", "port": 5432}
```
""",
))


# ---------------------------------------------------------------------------------------------------- udp


class _UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if not self.reply.done():
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc or ConnectionError("socket closed"))


def _udp_bytes(text: str, is_hex: bool) -> bytes:
    if is_hex:
        return bytes.fromhex("".join(text.split()))
    return text.encode()


def _validate_udp(config: Mapping[str, Any]) -> dict[str, str]:
    errors = _validate_host(config)
    if config.get("payload_hex"):
        for name in ("payload", "expected_reply"):
            try:
                _udp_bytes(config.get(name) or "", True)
            except ValueError:
                errors[name] = "must be hexadecimal bytes (e.g. 0a ff 10) because “Payload is hex” is on"
    return errors


def _show(data: bytes, limit: int = 60) -> str:
    text = data[:limit].decode("utf-8", "backslashreplace")
    return repr(text + ("…" if len(data) > limit else ""))


async def _udp(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, port = config["host"], config["port"]
    is_hex = bool(config.get("payload_hex"))
    payload = _udp_bytes(config.get("payload") or "", is_hex)
    expected_text = config.get("expected_reply") or ""
    expected = _udp_bytes(expected_text, is_hex) if expected_text else b""
    budget = timeout * _MARGIN
    loop = asyncio.get_running_loop()
    transport = None
    try:
        async with asyncio.timeout(budget):
            try:
                # a connected UDP socket: Linux reports an ICMP port-unreachable as ConnectionRefusedError
                transport, protocol = await loop.create_datagram_endpoint(_UdpClient, remote_addr=(host, port))
            except OSError as exc:
                return down(_os_error(exc, host, port))
            started = time.perf_counter()
            transport.sendto(payload)
            try:
                reply = await protocol.reply
            except ConnectionRefusedError:
                return down(f"Port {port} unreachable on {host} (ICMP port unreachable: nothing listens there)")
            except OSError as exc:
                return down(_os_error(exc, host, port))
            latency = _ms(started)
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s: no reply from {_where(host, port)}")
    finally:
        if transport is not None:
            transport.close()
    if expected and expected not in reply:
        shown = expected.hex(" ") if is_hex else repr(expected_text)
        got = reply[:40].hex(" ") if is_hex else _show(reply)
        return down(f"Reply does not contain {shown}; got {got}", latency, reply_bytes=len(reply))
    return up(f"Reply of {len(reply)} bytes in {latency:.0f} ms", latency, reply_bytes=len(reply))


register(Kind(
    name="udp", label="UDP request", family="network", library="asyncio datagrams",
    summary="Sends one datagram and waits for the answer: UP when a reply (containing the expected text, if "
            "set) arrives within the timeout; DOWN on no reply, a wrong reply or an ICMP port-unreachable.",
    fields=(
        HOST, _port(),
        Field("payload", "Payload", "text", placeholder="ping",
              help="What to send. Empty sends an empty datagram."),
        Field("payload_hex", "Payload is hex", "bool", default=False,
              help="Payload and expected reply are hexadecimal bytes (e.g. 1b 00 01) instead of text."),
        Field("expected_reply", "Expected reply", placeholder="pong",
              help="The reply must contain this. Empty: any reply counts."),
    ),
    validate=_validate_udp,
    check=_udp,
    notes="""\
UDP has no connection, so silence proves nothing: this kind only reports UP when the service **answers**.
Point it at a service that replies to a request (DNS, NTP, SNMP, a game server's status query, an echo
service) and give the payload that service expects. A service that never replies to unknown datagrams
cannot be monitored this way.

When nothing listens on the port, most hosts answer with an ICMP "port unreachable", which shows as DOWN at
once; a firewall that drops packets shows as "Timed out ... no reply".

With **Payload is hex** on, both the payload and the expected reply are bytes written in hex, for binary
protocols. Example (the Source engine server query "A2S_INFO"):

```json
{"host": "game.internal", "port": 27015, "payload_hex": true,
 "payload": "ff ff ff ff 54 53 6f 75 72 63 65 20 45 6e 67 69 6e 65 20 51 75 65 72 79 00",
 "expected_reply": "ff ff ff ff"}
```
""",
))


# ---------------------------------------------------------------------------------------------------- icmp

# Whether unprivileged ICMP ("ping") sockets work on this host; None until the first ping finds out.
_UNPRIVILEGED_OK: bool | None = None


async def _ping(address: str, count: int, interval: float, wait: float) -> Any:
    import icmplib

    global _UNPRIVILEGED_OK
    if _UNPRIVILEGED_OK is not False:
        try:
            host = await icmplib.async_ping(address, count=count, interval=interval, timeout=wait,
                                            privileged=False)
            _UNPRIVILEGED_OK = True
            return host
        except icmplib.SocketPermissionError:
            _UNPRIVILEGED_OK = False
    return await icmplib.async_ping(address, count=count, interval=interval, timeout=wait, privileged=True)


async def _resolve(host: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_DGRAM)
    for family in (socket.AF_INET, socket.AF_INET6):  # IPv4 first, like ping
        for info in infos:
            if info[0] == family:
                return str(info[4][0])
    raise socket.gaierror(socket.EAI_NONAME, "no IPv4 or IPv6 address")


async def _icmp(config: Mapping[str, Any], timeout: float) -> CheckResult:
    import icmplib

    host, count = config["host"], config["count"]
    max_loss = config["max_loss_percent"]
    degrade_ms = config.get("degrade_ms")
    budget = timeout * _MARGIN
    # Worst case is count * wait + (count - 1) * interval; it has to fit the timeout.
    interval = min(0.2, budget / (2 * count))
    wait = min(2.0, (budget - (count - 1) * interval) / count)
    try:
        address = await _resolve(host)
    except socket.gaierror as exc:
        return down(f"Cannot resolve {host}: {exc.strerror or exc}")
    try:
        result = await _ping(address, count, interval, wait)
    except icmplib.SocketPermissionError:
        return down("Not allowed to send ICMP: run Beacon as root, give it CAP_NET_RAW, or allow its group in "
                    "the sysctl net.ipv4.ping_group_range")
    except icmplib.ICMPLibError as exc:
        return down(f"Cannot ping {host}: {exc}")
    name = host if host == address else f"{host} ({address})"
    sent, received = result.packets_sent, result.packets_received
    loss = result.packet_loss * 100
    details = {"packets_sent": sent, "packets_received": received, "packet_loss_percent": round(loss, 1)}
    if sent == 0:
        return down(f"Could not send any ping to {name}: no route to the host?", **details)
    if received == 0:
        return down(f"No reply from {name}: {sent} of {sent} pings timed out (100% loss)", **details)
    avg = result.avg_rtt
    text = f"{received}/{sent} replies from {name}, avg {avg:.1f} ms"
    if loss > max_loss:
        return down(f"{text}: {loss:.0f}% loss exceeds {max_loss:g}%", avg, **details)
    if loss:
        text += f" ({loss:.0f}% loss)"
    if degrade_ms is not None and avg > degrade_ms:
        return degraded(f"{text}, above {degrade_ms:g} ms", avg, **details)
    return up(text, avg, **details)


register(Kind(
    name="icmp", label="Ping (ICMP)", family="network", library="icmplib",
    summary="Sends ICMP echo requests: UP when enough replies come back; DEGRADED when the average round trip "
            "is above the threshold; DOWN when the loss is above the allowed percentage or the host is unknown.",
    fields=(
        HOST,
        Field("count", "Pings", "int", default=3, min=1, max=20,
              help="Echo requests per check, sent 0.2 s apart."),
        Field("max_loss_percent", "Allowed loss (%)", "float", default=0.0, min=0, max=100,
              help="DOWN when more than this share of the pings gets no reply. 0: every ping must answer."),
        Field("degrade_ms", "Degraded above (ms)", "float", min=0,
              help="DEGRADED when the average round trip is slower than this. Empty: never."),
    ),
    validate=_validate_host,
    check=_icmp,
    notes="""\
Each check sends **Pings** echo requests 0.2 s apart and waits for the replies within the check's timeout
(a ping gets at most 2 s). The latency is the average round-trip time. With `max_loss_percent` 0 a single
lost ping makes the check DOWN; on a lossy link allow e.g. 34 with 3 pings to tolerate one loss.

**What the host needs:** sending ICMP is privileged. Beacon first tries unprivileged ICMP sockets, which Linux
allows for the groups in the sysctl `net.ipv4.ping_group_range` (e.g.
`sysctl -w net.ipv4.ping_group_range="0 2147483647"`; many distributions set this already). Otherwise it
falls back to raw sockets, which need root or the `CAP_NET_RAW` capability (in Docker:
`--cap-add NET_RAW`, which is in Docker's default set). Without either, the check is DOWN with
"Not allowed to send ICMP".

Many hosts and cloud firewalls drop ping while the service itself works: prefer a TCP or HTTP check there.

```json
{"host": "192.0.2.10", "count": 3, "max_loss_percent": 34, "degrade_ms": 150}
```
""",
))


# ---------------------------------------------------------------------------------------------------- websocket


def _validate_websocket(config: Mapping[str, Any]) -> dict[str, str]:
    from urllib.parse import urlsplit

    url = config.get("url", "")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return {"url": f"is not a valid URL: {exc}"}
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        return {"url": "must be a ws:// or wss:// URL, e.g. wss://example.com/socket"}
    return {}


async def _websocket(config: Mapping[str, Any], timeout: float) -> CheckResult:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

    url: str = config["url"]
    send: str = config.get("send") or ""
    expected: str = config.get("expected_reply") or ""
    budget = timeout * _MARGIN
    tls = _ssl_context(config["verify_tls"], config.get("ca_file") or "") if url.startswith("wss:") else None
    started = time.perf_counter()
    step = "opening the WebSocket"
    try:
        async with asyncio.timeout(budget):
            async with connect(url, additional_headers=config.get("headers") or None, open_timeout=None,
                               close_timeout=min(1.0, budget / 4), ping_interval=None, proxy=None, ssl=tls,
                               max_size=2**20, compression=None) as ws:
                latency = _ms(started)
                if not send and not expected:
                    return up(f"WebSocket opened in {latency:.0f} ms", latency)
                if send:
                    step = "sending the message"
                    await ws.send(send)
                step = "waiting for a message"
                reply = await ws.recv()
                latency = _ms(started)
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s {step}")
    except InvalidStatus as exc:
        status = exc.response.status_code
        return down(f"Server refused the WebSocket upgrade: HTTP {status} {exc.response.reason_phrase}".rstrip())
    except InvalidURI as exc:
        return down(f"Invalid WebSocket URL: {exc}")
    except InvalidHandshake as exc:
        return down(f"WebSocket handshake failed: {exc}")
    except ConnectionClosed as exc:
        return down(f"Connection closed while {step}: {exc}")
    except ssl.SSLError as exc:
        return down(_tls_error(exc))
    except OSError as exc:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        return down(_os_error(exc, parts.hostname or "", parts.port or (443 if parts.scheme == "wss" else 80)))
    text = reply if isinstance(reply, str) else reply.decode("utf-8", "backslashreplace")
    if expected and expected not in text:
        shown = text[:80] + ("…" if len(text) > 80 else "")
        return down(f"Reply does not contain {expected!r}; got {shown!r}", latency)
    return up(f"Reply of {len(text)} characters in {latency:.0f} ms", latency)


register(Kind(
    name="websocket", label="WebSocket", family="network", library="websockets",
    summary="UP when the WebSocket handshake succeeds (and, if set, a reply containing the expected text "
            "arrives); DOWN when the upgrade is refused, the reply is wrong, or nothing arrives in time.",
    fields=(
        Field("url", "URL", required=True, placeholder="wss://example.com/socket"),
        Field("headers", "Headers", "map", help="Extra request headers, e.g. Authorization: Bearer …"),
        Field("send", "Message to send", "text",
              help="Sent as a text message after the handshake. Empty: send nothing."),
        Field("expected_reply", "Expected reply", placeholder='"pong"',
              help="The first message from the server must contain this. Empty: any message counts "
                   "(when something was sent) or no message is needed."),
        VERIFY_TLS, CA_FILE,
    ),
    validate=_validate_websocket,
    check=_websocket,
    notes="""\
Opens a fresh WebSocket connection each check. Without a message to send or an expected reply, the check is
UP as soon as the upgrade handshake succeeds. With **Message to send**, the message goes out and the first
message from the server must arrive in time; with **Expected reply**, that first message must contain the
text (servers that greet the client on connect work without sending anything). The latency covers the
handshake and, when a reply is awaited, the reply.

Connections go directly to the server: proxy environment variables are not used.

```json
{"url": "wss://chat.example.com/ws", "headers": {"Authorization": "Bearer s3cret"},
 "send": "{\\"type\\": \\"ping\\"}", "expected_reply": "pong"}
```
""",
))


# ---------------------------------------------------------------------------------------------------- grpc


@functools.lru_cache(maxsize=64)
def _grpc_credentials(root_pem: bytes | None) -> Any:
    import grpc

    return grpc.ssl_channel_credentials(root_certificates=root_pem)


@functools.lru_cache(maxsize=64)
def _read_file(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def _cert_names(der: bytes) -> list[str]:
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    names: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    names += [str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)]
    return names


async def _peer_certificate(host: str, port: int, budget: float) -> bytes:
    """The server's own certificate, fetched without verification (for verify_tls off)."""
    ctx = _ssl_context(False, "")
    async with asyncio.timeout(budget):
        _, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=host)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    if not der:
        raise ssl.SSLError("the server sent no certificate")
    return der


async def _grpc(config: Mapping[str, Any], timeout: float) -> CheckResult:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    host, port, service = config["host"], config["port"], config.get("service") or ""
    target = _where(host, port)
    budget = timeout * _MARGIN
    started = time.perf_counter()
    options: list[tuple[str, Any]] = [("grpc.enable_retries", 0), ("grpc.max_reconnect_backoff_ms", 1000)]
    try:
        if not config["tls"]:
            channel = grpc.aio.insecure_channel(target, options=options)
        else:
            if config["verify_tls"]:
                ca = config.get("ca_file") or ""
                creds = _grpc_credentials(_read_file(ca) if ca else None)
            else:
                # gRPC has no "skip verification": trust the certificate this server presents, for this check.
                der = await _peer_certificate(host, port, budget)
                creds = _grpc_credentials(ssl.DER_cert_to_PEM_cert(der).encode())
                names = _cert_names(der)
                if names and host not in names:
                    options.append(("grpc.ssl_target_name_override", names[0]))
            channel = grpc.aio.secure_channel(target, creds, options=options)
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s during the TLS handshake with {target}")
    except ssl.SSLError as exc:
        return down(_tls_error(exc))
    except OSError as exc:
        return down(_os_error(exc, host, port))
    remaining = max(0.05, budget - (time.perf_counter() - started))
    try:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=remaining)
    except grpc.aio.AioRpcError as exc:
        code, details = exc.code(), (exc.details() or "").strip()
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return down(f"Timed out after {timeout:g} s waiting for the health check of {target}")
        if code == grpc.StatusCode.NOT_FOUND:
            return down(f"SERVICE_UNKNOWN: the health server does not know service {service!r}")
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return down(f"{target} does not implement grpc.health.v1.Health")
        if code == grpc.StatusCode.UNAVAILABLE:
            if "Connection refused" in details:
                return down(f"Connection refused by {target}")
            if "Domain name not found" in details or "lookup" in details:
                return down(f"Cannot resolve {host}: {details}")
            if "CERTIFICATE_VERIFY_FAILED" in details or "certificate verify failed" in details.lower():
                return down(f"TLS certificate not trusted by {target}: {details}")
        return down(f"{code.name}: {details}" if details else code.name)
    finally:
        await channel.close()
    latency = _ms(started)
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    what = f"service {service!r}" if service else "server"
    if response.status == health_pb2.HealthCheckResponse.SERVING:
        return up(f"SERVING ({what})", latency, status=status)
    return down(f"{status} ({what})", latency, status=status)


def _validate_grpc(config: Mapping[str, Any]) -> dict[str, str]:
    errors = _validate_host(config)
    if config.get("ca_file") and not config.get("tls"):
        errors["ca_file"] = "only applies with TLS on"
    return errors


register(Kind(
    name="grpc", label="gRPC health", family="network", library="grpcio (grpc.health.v1)",
    summary="Calls the standard gRPC health service (grpc.health.v1.Health/Check): UP when it answers "
            "SERVING; DOWN on NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN or when the server cannot be reached.",
    fields=(
        HOST, _port(),
        Field("service", "Service", placeholder="my.package.MyService",
              help="The service name to ask about. Empty: the health of the whole server."),
        Field("tls", "TLS", "bool", default=False, help="Connect with TLS (off: plaintext HTTP/2)."),
        VERIFY_TLS, CA_FILE,
    ),
    validate=_validate_grpc,
    check=_grpc,
    notes="""\
The server must implement the [standard health checking protocol](https://github.com/grpc/grpc/blob/master/doc/health-checking.md)
(most gRPC frameworks include it: `grpc_health.v1` in Python, `google.golang.org/grpc/health` in Go, …).
A server without it shows as DOWN "does not implement grpc.health.v1.Health".

Each check opens its own channel and closes it afterwards; the timeout is the call's deadline. With TLS on,
the system's trusted CAs are used unless a **CA file** is given. gRPC cannot skip certificate checks, so with
**Verify TLS certificate** off Beacon fetches the certificate the server presents and trusts exactly that one
for the check (this works for self-signed certificates).

```json
{"host": "orders.internal", "port": 50051, "service": "orders.v1.Orders", "tls": true,
 "ca_file": "/etc/beacon/internal-ca.pem"}
```
""",
))


# ---------------------------------------------------------------------------------------------------- ssh


def _fingerprint(value: str) -> str:
    """The base64 part of an OpenSSH SHA256 fingerprint, without the "SHA256:" prefix and padding."""
    value = value.strip()
    if value.upper().startswith("SHA256:"):
        value = value[7:]
    return value.rstrip("=")


def _validate_ssh(config: Mapping[str, Any]) -> dict[str, str]:
    errors = _validate_host(config)
    fp = config.get("host_key_sha256")
    if fp:
        try:
            if len(base64.b64decode(_fingerprint(fp) + "=" * (-len(_fingerprint(fp)) % 4))) != 32:
                raise ValueError
        except (binascii.Error, ValueError):
            errors["host_key_sha256"] = ("must be a SHA256 fingerprint as printed by ssh-keygen -lf, "
                                         "e.g. SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8")
    if config.get("mode") == "auth":
        if not config.get("username"):
            errors["username"] = "is required to log in"
        if not config.get("password") and not config.get("private_key"):
            errors["password"] = "give a password or a private key to log in"
        if config.get("private_key"):
            import asyncssh

            try:
                asyncssh.import_private_key(config["private_key"], config.get("passphrase") or None)
            except (asyncssh.KeyImportError, ValueError) as exc:
                errors["private_key"] = f"is not a usable private key: {exc}"
    return errors


@functools.lru_cache(maxsize=64)
def _private_key(pem: str, passphrase: str) -> Any:
    import asyncssh

    return asyncssh.import_private_key(pem, passphrase or None)


async def _read_banner(host: str, port: int) -> str:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        # RFC 4253 4.2: the server may send other lines before its "SSH-" identification line
        for _ in range(20):
            line = await reader.readline()
            if not line:
                raise ValueError("closed the connection without an SSH banner")
            text = line.decode("utf-8", "replace").strip()
            if text.startswith("SSH-"):
                return text
        raise ValueError("no SSH identification line in the first 20 lines")
    finally:
        writer.close()


async def _ssh(config: Mapping[str, Any], timeout: float) -> CheckResult:
    import asyncssh

    host, port, mode = config["host"], config["port"], config["mode"]
    expected_banner = config.get("expected_banner") or ""
    want_fp = _fingerprint(config.get("host_key_sha256") or "")
    budget = timeout * _MARGIN
    seen: list[str] = []

    class Client(asyncssh.SSHClient):
        def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
            got = _fingerprint(key.get_fingerprint("sha256"))
            seen.append(got)
            return got == want_fp

    started = time.perf_counter()
    step = "reading the SSH banner"
    try:
        async with asyncio.timeout(budget):
            if mode == "banner":
                banner = await _read_banner(host, port)
                latency = _ms(started)
                if want_fp:
                    step = "exchanging keys"
                    key = await asyncssh.get_server_host_key(host, port, config=[])
                    if key is not None:
                        seen.append(_fingerprint(key.get_fingerprint("sha256")))
                    if not seen or seen[0] != want_fp:
                        return down(f"Host key mismatch: expected SHA256:{want_fp}, "
                                    f"server presented SHA256:{seen[0] if seen else 'nothing'}")
            else:
                step = "logging in"
                keys = None
                if config.get("private_key"):
                    keys = [_private_key(config["private_key"], config.get("passphrase") or "")]
                options: dict[str, Any] = {
                    "username": config["username"], "password": config.get("password") or None,
                    "client_keys": keys, "agent_path": None, "known_hosts": None, "config": [],
                    "connect_timeout": budget, "login_timeout": budget, "preferred_auth": (
                        "publickey,password,keyboard-interactive" if keys else "password,keyboard-interactive"),
                }
                if want_fp:
                    # an empty trust list makes asyncssh ask Client.validate_host_public_key before any secret
                    options.update(known_hosts=([], [], []), client_factory=Client)
                conn = await asyncssh.connect(host, port, **options)
                latency = _ms(started)
                banner = conn.get_extra_info("server_version") or ""
                conn.close()  # sends the disconnect; no need to wait for the server's side
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s {step} on {_where(host, port)}")
    except asyncssh.PermissionDenied:
        return down(f"Login as {config['username']!r} failed: authentication rejected by {_where(host, port)}")
    except asyncssh.HostKeyNotVerifiable:
        return down(f"Host key mismatch: expected SHA256:{want_fp}, "
                    f"server presented SHA256:{seen[0] if seen else 'an unknown key'}")
    except asyncssh.DisconnectError as exc:
        return down(f"SSH server disconnected while {step}: {exc.reason}")
    except OSError as exc:
        return down(_os_error(exc, host, port))
    except ValueError as exc:
        return down(f"Not an SSH server at {_where(host, port)}: {exc}")
    if expected_banner and expected_banner not in banner:
        return down(f"Banner {banner!r} does not contain {expected_banner!r}", latency, banner=banner)
    what = "Logged in" if mode == "auth" else "Banner"
    return up(f"{what}: {banner}" if banner else what, latency, banner=banner)


register(Kind(
    name="ssh", label="SSH", family="network", library="asyncssh",
    summary="UP when the SSH server sends its banner (mode banner) or accepts the login (mode auth); DOWN on a "
            "wrong banner, a host key that does not match the fingerprint, a rejected login or no connection.",
    fields=(
        HOST, _port(22),
        Field("mode", "Check", "choice", default="banner", choices=("banner", "auth"),
              help="banner: read the server's version line only. auth: log in, then disconnect."),
        Field("username", "Username", help="For mode auth."),
        Field("password", "Password", "secret", help="For mode auth, unless a private key is given."),
        Field("private_key", "Private key", "secret", placeholder="-----BEGIN OPENSSH PRIVATE KEY-----",
              help="PEM/OpenSSH private key text for mode auth."),
        Field("passphrase", "Key passphrase", "secret", help="If the private key is encrypted."),
        Field("expected_banner", "Expected banner", placeholder="OpenSSH_9",
              help="The server's version line must contain this, e.g. a version you rely on."),
        Field("host_key_sha256", "Host key fingerprint",
              placeholder="SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8",
              help="When set, DOWN unless the server's host key has this fingerprint (ssh-keygen -lf)."),
    ),
    validate=_validate_ssh,
    check=_ssh,
    notes="""\
**banner** mode connects, reads the server's identification line (e.g. `SSH-2.0-OpenSSH_9.6`) and
disconnects: cheap, and it needs no account. **auth** mode logs in with the username and a password or a
private key, then disconnects without opening a shell — use a dedicated account with no privileges.

**Host key fingerprint** protects against a replaced server: with it set, the key exchange must present a
host key with this SHA256 fingerprint, and in auth mode the check stops before sending any credential if it
does not. Get it on the server with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` (servers usually
present their Ed25519 key; a mismatch message shows the fingerprint the server did present). Without it, host keys
are not checked (like `StrictHostKeyChecking=no`). In banner mode the fingerprint check needs a second
connection for the key exchange.

```json
{"host": "bastion.example.com", "port": 22, "mode": "auth", "username": "beacon",
 "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\\n…", "host_key_sha256": "SHA256:nThbg6k…"}
```
""",
))

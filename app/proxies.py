"""Trusted reverse proxies: which peers may tell Beacon the visitor's address, scheme and host name.

Behind Caddy, nginx or a CDN, the TCP peer is the proxy; the visitor's address, whether they used HTTPS and the
name they asked for travel in ``X-Forwarded-For``, ``X-Forwarded-Proto`` and ``X-Forwarded-Host``. Anybody can
send those headers, so they are believed only from the peers listed in ``BEACON_TRUSTED_PROXIES``: sign-in
throttling, the subscribe rate limit and the audit trail use the client address, and custom domains use the host.

:class:`ForwardedHeadersMiddleware` is the one place that decides (uvicorn's own ``proxy_headers`` is off, see
main.py): from a trusted peer it rewrites the ASGI scope; from any other peer it removes the forwarding headers,
so that nothing further down can read a forged value.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# Removed from requests of untrusted peers: what the middleware reads, and what other code (NiceGUI reads
# X-Forwarded-Prefix) or a later reader might be tempted to believe.
FORWARDING_HEADERS = frozenset({
    b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port", b"x-forwarded-prefix",
    b"x-forwarded-scheme", b"x-forwarded-ssl", b"x-real-ip", b"forwarded",
})

# A DNS name (labels of letters, digits and hyphens, not starting or ending with a hyphen) or an IPv4 address,
# or an IPv6 address in brackets; then an optional port.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_RE = re.compile(rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{{1,5}}))?")


def parse_trusted(text: str) -> list[IPNetwork]:
    """The networks in a comma-separated list of IP addresses and CIDR networks (``"127.0.0.1,::1,10.0.0.0/8"``).

    An empty text trusts nobody. Raises ``ValueError`` naming the entry for anything that is not an address or a
    network, and for ``*`` or a ``/0`` network: trusting every peer lets any visitor choose their own address.
    """
    networks: list[IPNetwork] = []
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        if entry == "*":
            raise ValueError("BEACON_TRUSTED_PROXIES: '*' is not accepted: trusting every peer lets any visitor "
                             "forge their address; list your proxies' addresses or networks instead")
        try:
            network = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"BEACON_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                             "(write e.g. 127.0.0.1, ::1 or 10.0.0.0/8; host names are not accepted)") from None
        if network.prefixlen == 0:
            raise ValueError(f"BEACON_TRUSTED_PROXIES: {entry!r} trusts every address, like '*'; "
                             "list your proxies' addresses or networks instead")
        networks.append(network)
    return networks


def _address(text: str) -> IPAddress | None:
    """An address from an ``X-Forwarded-For`` entry: a bare IPv4 or IPv6 address, ``a.b.c.d:port`` or
    ``[v6]:port`` (some proxies add the port); None for anything else (``unknown``, an obfuscated name)."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end == -1 or not (text[end + 1:] == "" or text[end + 1:end + 2] == ":"):
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _host(value: str) -> str | None:
    """``value`` as a Host header when it is a plain host name or address with an optional port, else None."""
    value = value.strip().lower()
    if not value or len(value) > 260:
        return None
    match = _HOST_RE.fullmatch(value)
    if match is None:
        return None
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        return None
    if value.startswith("["):
        try:
            ipaddress.IPv6Address(value[1:value.index("]")])
        except ValueError:
            return None
    return value


class ForwardedHeadersMiddleware:
    """ASGI middleware: believe ``X-Forwarded-For``, ``-Proto`` and ``-Host`` from trusted proxies only.

    When the direct peer is in ``trusted``:

    - the client address becomes the right-most address of ``X-Forwarded-For`` that is not itself a trusted
      proxy (each proxy appends the peer it saw, so everything to its left may be forged by the visitor);
    - the scheme becomes the right-most value of ``X-Forwarded-Proto`` when it is ``http`` or ``https``
      (``ws``/``wss`` for websockets);
    - the ``Host`` header becomes the right-most value of ``X-Forwarded-Host`` when it is a valid host[:port].

    From any other peer those headers are removed before the application sees the request.
    """

    def __init__(self, app: ASGIApp, trusted: list[IPNetwork]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def is_trusted(self, address: IPAddress | None) -> bool:
        if address is None:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            # a dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d
            address = address.ipv4_mapped
        return any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        client = scope.get("client")
        peer = _address(client[0]) if client else None
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        if self.trusted and self.is_trusted(peer):
            self._apply(scope, headers)
        elif any(name.lower() in FORWARDING_HEADERS for name, _ in headers):
            scope["headers"] = [(name, value) for name, value in headers if name.lower() not in FORWARDING_HEADERS]
        await self.app(scope, receive, send)

    def _apply(self, scope: Scope, headers: list[tuple[bytes, bytes]]) -> None:
        def values(name: bytes) -> list[str]:
            # several header lines of one name are one comma-separated list (RFC 9110 5.3)
            joined = ",".join(value.decode("latin-1") for key, value in headers if key.lower() == name)
            return [item.strip() for item in joined.split(",") if item.strip()]

        forwarded_for = values(b"x-forwarded-for")
        if forwarded_for:
            client = self._client(forwarded_for)
            if client is not None:
                scope["client"] = (str(client), 0)

        protos = values(b"x-forwarded-proto")
        if protos and protos[-1].lower() in ("http", "https"):
            proto = protos[-1].lower()
            scope["scheme"] = proto.replace("http", "ws") if scope["type"] == "websocket" else proto

        hosts = values(b"x-forwarded-host")
        host = _host(hosts[-1]) if hosts else None
        if host is not None:
            scope["headers"] = [(b"host", host.encode("latin-1"))] + [
                (name, value) for name, value in headers if name.lower() != b"host"]

    def _client(self, chain: list[str]) -> IPAddress | None:
        """The visitor in an ``X-Forwarded-For`` chain: walking from the right, the first address that is not a
        trusted proxy. An entry that is no address ends the walk at the last address vouched for (None: the peer)."""
        vouched: IPAddress | None = None
        for entry in reversed(chain):
            address = _address(entry)
            if address is None:
                return vouched
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            if not self.is_trusted(address):
                return address
            vouched = address
        # every hop is a trusted proxy: the left-most is the closest we know to the visitor
        return vouched

"""Trusted proxies: X-Forwarded-* is believed from the proxies in BEACON_TRUSTED_PROXIES and from nobody else."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.proxies import ForwardedHeadersMiddleware, parse_trusted

SPOOFED = {"X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
           "X-Forwarded-Prefix": "/evil", "X-Real-IP": "6.6.6.6", "Forwarded": "for=6.6.6.6;proto=https"}


async def echo(request: Request) -> JSONResponse:
    """What the application downstream sees of the request."""
    return JSONResponse({
        "client": request.client.host if request.client else None,
        "scheme": request.url.scheme,
        "host": request.headers.get("host"),
        "url": str(request.url),
        "forwarding": sorted(name for name in request.headers if name.startswith("x-") or name == "forwarded"),
    })


def _client(peer: str, trusted: str) -> httpx.AsyncClient:
    app = ForwardedHeadersMiddleware(Starlette(routes=[Route("/", echo)]), trusted=parse_trusted(trusted))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app, client=(peer, 40000)),
                             base_url="http://beacon.internal:8080")


async def _seen(peer: str, trusted: str, headers: dict[str, str] | list[tuple[str, str]] | None = None) -> dict:
    async with _client(peer, trusted) as http:
        response = await http.get("/", headers=headers)
    assert response.status_code == 200
    return response.json()


# --- parse_trusted -----------------------------------------------------------------------------------------------
def test_an_empty_setting_trusts_nobody():
    assert parse_trusted("") == []
    assert parse_trusted(" , ") == []


def test_addresses_and_networks_are_parsed():
    assert parse_trusted("127.0.0.1, ::1,10.0.0.0/8 , fd00::/8") == [
        ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8")]


def test_a_network_written_with_host_bits_is_accepted():
    assert parse_trusted("172.18.0.1/16") == [ipaddress.ip_network("172.18.0.0/16")]


@pytest.mark.parametrize("text", ["*", "127.0.0.1,*", "0.0.0.0/0", "::/0"])
def test_trusting_everybody_is_refused(text: str):
    with pytest.raises(ValueError, match="BEACON_TRUSTED_PROXIES"):
        parse_trusted(text)


@pytest.mark.parametrize("text", ["localhost", "proxy.example.com", "10.0.0.0/33", "1.2.3", "127.0.0.1:80"])
def test_entries_that_are_no_address_are_refused_by_name(text: str):
    with pytest.raises(ValueError, match="is not an IP address or network"):
        parse_trusted(f"::1,{text}")


# --- untrusted peers ---------------------------------------------------------------------------------------------
async def test_spoofed_headers_from_an_untrusted_peer_change_nothing_and_are_removed():
    seen = await _seen("203.0.113.9", "127.0.0.1,::1", SPOOFED)

    assert seen == {"client": "203.0.113.9", "scheme": "http", "host": "beacon.internal:8080",
                    "url": "http://beacon.internal:8080/", "forwarding": []}


async def test_with_no_trusted_proxies_even_localhost_is_not_believed():
    seen = await _seen("127.0.0.1", "", SPOOFED)

    assert (seen["client"], seen["scheme"], seen["host"], seen["forwarding"]) == (
        "127.0.0.1", "http", "beacon.internal:8080", [])


async def test_other_headers_pass_untouched():
    async with _client("203.0.113.9", "127.0.0.1") as http:
        response = await http.get("/", headers={"X-Request-Id": "abc", **SPOOFED})

    assert response.json()["forwarding"] == ["x-request-id"]


# --- one trusted proxy -------------------------------------------------------------------------------------------
async def test_a_trusted_proxy_gives_the_client_address_scheme_and_host():
    seen = await _seen("127.0.0.1", "127.0.0.1,::1", {
        "X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "Status.Example.com"})

    assert seen["client"] == "198.51.100.7"
    assert seen["scheme"] == "https"
    assert seen["host"] == "status.example.com"
    assert seen["url"] == "https://status.example.com/"


async def test_without_x_forwarded_host_the_proxy_passes_the_host_header_itself():
    seen = await _seen("::1", "127.0.0.1,::1", {"Host": "status.example.com", "X-Forwarded-For": "2001:db8::5"})

    assert (seen["client"], seen["host"], seen["scheme"]) == ("2001:db8::5", "status.example.com", "http")


async def test_a_trusted_proxy_in_a_network_is_believed():
    seen = await _seen("10.1.2.3", "10.0.0.0/8", {"X-Forwarded-For": "198.51.100.7"})

    assert seen["client"] == "198.51.100.7"


async def test_an_ipv4_peer_on_a_dual_stack_socket_is_matched_against_ipv4_networks():
    seen = await _seen("::ffff:127.0.0.1", "127.0.0.1", {"X-Forwarded-For": "198.51.100.7"})

    assert seen["client"] == "198.51.100.7"


async def test_a_visitor_cannot_choose_their_address_by_sending_their_own_x_forwarded_for():
    # the visitor sent "X-Forwarded-For: 1.1.1.1"; the proxy appended the address it really saw
    seen = await _seen("127.0.0.1", "127.0.0.1", {"X-Forwarded-For": "1.1.1.1, 198.51.100.7"})

    assert seen["client"] == "198.51.100.7"


async def test_several_x_forwarded_for_lines_are_one_list():
    seen = await _seen("127.0.0.1", "127.0.0.1", [("X-Forwarded-For", "1.1.1.1"),
                                                  ("X-Forwarded-For", "198.51.100.7")])

    assert seen["client"] == "198.51.100.7"


@pytest.mark.parametrize(("entry", "address"), [("198.51.100.7:5123", "198.51.100.7"),
                                                ("[2001:db8::5]:443", "2001:db8::5"),
                                                ("::ffff:198.51.100.7", "198.51.100.7")])
async def test_addresses_with_ports_or_mapped_are_understood(entry: str, address: str):
    seen = await _seen("127.0.0.1", "127.0.0.1", {"X-Forwarded-For": entry})

    assert seen["client"] == address


# --- chains of proxies -------------------------------------------------------------------------------------------
async def test_a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_address():
    # visitor 198.51.100.7 → CDN edge 10.0.5.5 → load balancer 10.0.0.2 → nginx on this machine (127.0.0.1)
    seen = await _seen("127.0.0.1", "127.0.0.1,10.0.0.0/16", {
        "X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.0.5.5, 10.0.0.2", "X-Forwarded-Proto": "https"})

    assert seen["client"] == "198.51.100.7"
    assert seen["scheme"] == "https"


async def test_an_untrusted_hop_in_the_chain_is_taken_as_the_client():
    # 192.0.2.50 is not one of ours: whatever it claims about who came before it cannot be believed
    seen = await _seen("127.0.0.1", "127.0.0.1,10.0.0.0/16", {
        "X-Forwarded-For": "198.51.100.7, 192.0.2.50, 10.0.0.2"})

    assert seen["client"] == "192.0.2.50"


async def test_when_every_hop_is_trusted_the_left_most_is_the_client():
    seen = await _seen("127.0.0.1", "127.0.0.1,10.0.0.0/8", {"X-Forwarded-For": "10.9.9.9, 10.0.0.2"})

    assert seen["client"] == "10.9.9.9"


async def test_the_nearest_proxy_decides_the_scheme_and_host():
    seen = await _seen("127.0.0.1", "127.0.0.1", {"X-Forwarded-Proto": "http, https",
                                                  "X-Forwarded-Host": "evil.example, status.example.com"})

    assert (seen["scheme"], seen["host"]) == ("https", "status.example.com")


# --- bad values from a trusted proxy -------------------------------------------------------------------------------
@pytest.mark.parametrize("chain", ["unknown", "", "not-an-ip, garbage", "_hidden"])
async def test_an_unusable_x_forwarded_for_keeps_the_peer_address(chain: str):
    seen = await _seen("127.0.0.1", "127.0.0.1", {"X-Forwarded-For": chain})

    assert seen["client"] == "127.0.0.1"


async def test_an_entry_that_is_no_address_ends_the_walk_at_the_last_trusted_hop():
    seen = await _seen("127.0.0.1", "127.0.0.1,10.0.0.0/8", {"X-Forwarded-For": "198.51.100.7, unknown, 10.0.0.2"})

    assert seen["client"] == "10.0.0.2"


@pytest.mark.parametrize("proto", ["ftp", "javascript", "HTTPS://", ""])
async def test_an_unknown_scheme_is_ignored(proto: str):
    seen = await _seen("127.0.0.1", "127.0.0.1", {"X-Forwarded-Proto": proto})

    assert seen["scheme"] == "http"


async def test_the_scheme_is_case_insensitive():
    seen = await _seen("127.0.0.1", "127.0.0.1", {"X-Forwarded-Proto": "HTTPS"})

    assert seen["scheme"] == "https"


@pytest.mark.parametrize("host", ["evil.example/path", "a b", "user@evil.example", "evil.example:99999",
                                  "evil.example:port", "-evil.example", "[not:v6:zz]", "x" * 300, "évil.example"])
async def test_an_invalid_x_forwarded_host_keeps_the_host_header(host: str):
    seen = await _seen("127.0.0.1", "127.0.0.1", [("Host", "status.example.com"),
                                                  ("X-Forwarded-Host", host.encode())])

    assert seen["host"] == "status.example.com"


@pytest.mark.parametrize("host", ["status.example.com:8443", "192.0.2.1", "[2001:db8::1]:8080", "localhost"])
async def test_valid_hosts_with_ports_and_addresses_are_taken(host: str):
    seen = await _seen("127.0.0.1", "127.0.0.1", {"X-Forwarded-Host": host})

    assert seen["host"] == host


# --- websockets and other scopes ---------------------------------------------------------------------------------
async def _scope_after(scope: dict, trusted: str) -> dict:
    seen: dict = {}

    async def app(scope, receive, send):
        seen.update(scope)

    await ForwardedHeadersMiddleware(app, trusted=parse_trusted(trusted))(scope, None, None)  # type: ignore[arg-type]
    return seen


async def test_a_websocket_behind_https_becomes_wss():
    scope = {"type": "websocket", "scheme": "ws", "client": ("127.0.0.1", 1), "path": "/_nicegui_ws",
             "headers": [(b"host", b"beacon:8080"), (b"x-forwarded-proto", b"https"),
                         (b"x-forwarded-for", b"198.51.100.7")]}

    seen = await _scope_after(scope, "127.0.0.1")

    assert (seen["scheme"], seen["client"]) == ("wss", ("198.51.100.7", 0))
    assert scope["scheme"] == "ws", "the caller's scope is left as it was"


async def test_lifespan_and_peerless_scopes_pass_through():
    lifespan = {"type": "lifespan"}
    assert await _scope_after(lifespan, "127.0.0.1") == lifespan

    unix_socket = {"type": "http", "scheme": "http", "client": None,
                   "headers": [(b"x-forwarded-for", b"6.6.6.6")]}
    seen = await _scope_after(unix_socket, "127.0.0.1")
    assert seen["client"] is None and seen["headers"] == []


# --- with Beacon's public routes ---------------------------------------------------------------------------------
async def test_a_custom_domain_is_served_from_x_forwarded_host_of_a_trusted_proxy_only(beacon_sqlite):
    from fastapi import FastAPI

    from app.api import public
    from app.auth import Actor
    from app.services import pages
    from tests.conftest import settle

    system = Actor.system("test")
    await pages.create_page(system, title="Default", slug="default")
    bound = await pages.create_page(system, title="Bound", slug="bound")
    await pages.update_page(system, bound.id, custom_domain="status.example.com")
    await settle()
    app = FastAPI()
    app.include_router(public.router)
    wrapped = ForwardedHeadersMiddleware(app, trusted=parse_trusted("127.0.0.1"))
    headers = {"X-Forwarded-Host": "status.example.com", "X-Forwarded-Proto": "https"}

    async def page_title(peer: str) -> str:
        transport = httpx.ASGITransport(wrapped, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            return (await http.get("/api/v2/summary.json", headers=headers)).json()["page"]["name"]

    assert await page_title("127.0.0.1") == "Bound"
    assert await page_title("203.0.113.9") == "Default"

"""The dns kind against a real DNS server on 127.0.0.1: dnslib's DNSServer (UDP and TCP on the same port)
answering from a small zone with all nine record types, plus a UDP socket that never answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from dnslib import AAAA, CAA, CNAME, MX, NS, QTYPE, RCODE, RR, SOA, SRV, TXT, A, DNSLabel
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from monitors import registry, schema
from tests.monitors.conftest import assert_times_out, check

ZONE = {
    ("example.test", "A"): [A("192.0.2.10"), A("192.0.2.11")],
    ("example.test", "AAAA"): [AAAA("2001:db8::10")],
    ("example.test", "MX"): [MX("mail1.example.test", 10), MX("mail2.example.test", 20)],
    ("example.test", "TXT"): [TXT("v=spf1 -all"), TXT(["part one ", "part two"])],
    ("example.test", "NS"): [NS("ns1.example.test"), NS("ns2.example.test")],
    ("example.test", "SOA"): [SOA("ns1.example.test", "hostmaster.example.test", (2024010101, 3600, 600, 86400, 300))],
    ("example.test", "CAA"): [CAA(0, "issue", "letsencrypt.org")],
    ("www.example.test", "CNAME"): [CNAME("web.example.test")],
    ("web.example.test", "A"): [A("192.0.2.20")],
    ("_sip._udp.example.test", "SRV"): [SRV(10, 5, 5060, "sip.example.test")],
    ("servfail.example.test", "A"): "SERVFAIL",
}


class ZoneResolver(BaseResolver):
    def resolve(self, request, handler):  # noqa: ANN001 - dnslib's interface
        reply = request.reply()
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        names = {name for name, _ in ZONE}
        if qname not in names:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        records = ZONE.get((qname, qtype))
        if records == "SERVFAIL":
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        if records is None and (qname, "CNAME") in ZONE and qtype != "CNAME":  # follow a CNAME like a server
            target = str(ZONE[(qname, "CNAME")][0].label).rstrip(".")
            reply.add_answer(RR(DNSLabel(qname), QTYPE.CNAME, rdata=ZONE[(qname, "CNAME")][0], ttl=60))
            qname, records = target, ZONE.get((target, qtype))
        for rdata in records or ():
            reply.add_answer(RR(DNSLabel(qname), getattr(QTYPE, qtype), rdata=rdata, ttl=60))
        return reply


@pytest.fixture(scope="module")
def dns_port() -> Iterator[int]:
    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    for _ in range(20):
        udp = DNSServer(ZoneResolver(), port=0, address="127.0.0.1", logger=quiet)
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(ZoneResolver(), port=port, address="127.0.0.1", tcp=True, logger=quiet)
        except OSError:
            udp.server.server_close()
            continue
        break
    udp.start_thread()
    tcp.start_thread()
    yield port
    udp.stop()
    tcp.stop()
    udp.server.server_close()
    tcp.server.server_close()


@pytest.fixture
def silent_udp_port() -> Iterator[int]:
    """A UDP socket that receives queries and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def cfg(port: int, name: str, record_type: str = "A", **extra) -> dict:
    return {"name": name, "record_type": record_type, "resolver": "127.0.0.1", "resolver_port": port, **extra}


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
async def test_a_records_up_and_listed(dns_port: int, protocol: str) -> None:
    result = await check("dns", cfg(dns_port, "example.test", protocol=protocol, expected=["192.0.2.10"]), 2)
    assert result.outcome == "up", result
    assert result.message == "A example.test: 192.0.2.10, 192.0.2.11"
    assert result.latency_ms is not None and result.latency_ms < 1000


@pytest.mark.parametrize(("record_type", "name", "expected", "shown"), [
    ("AAAA", "example.test", ["2001:0db8:0:0::10"], "2001:db8::10"),
    ("MX", "example.test", ["10 MAIL1.example.test.", "20 mail2.example.test"], "10 mail1.example.test"),
    ("TXT", "example.test", ['"v=spf1 -all"', "part one part two"], "v=spf1 -all"),
    ("NS", "example.test", ["ns1.example.test", "ns2.example.test"], "ns2.example.test"),
    ("SOA", "example.test", ["ns1.example.test hostmaster.example.test 2024010101 3600 600 86400 300"],
     "2024010101"),
    ("CAA", "example.test", ['0 issue "letsencrypt.org"'], "0 issue letsencrypt.org"),
    ("CNAME", "www.example.test", ["web.example.test"], "web.example.test"),
    ("SRV", "_sip._udp.example.test", ["10 5 5060 sip.example.test"], "10 5 5060 sip.example.test"),
])
async def test_every_record_type_matches_exactly(dns_port: int, record_type: str, name: str,
                                                 expected: list[str], shown: str) -> None:
    result = await check("dns", cfg(dns_port, name, record_type, expected=expected, match="exact"), 2)
    assert result.outcome == "up", result
    assert result.message.startswith(f"{record_type} {name}: ")
    assert shown in result.message


async def test_a_through_cname_and_without_expectation(dns_port: int) -> None:
    result = await check("dns", cfg(dns_port, "www.example.test"), 2)
    assert result.outcome == "up", result
    assert result.message == "A www.example.test: 192.0.2.20"


async def test_match_modes(dns_port: int) -> None:
    both, one = ["192.0.2.10", "192.0.2.11"], ["192.0.2.10", "192.0.2.99"]
    assert (await check("dns", cfg(dns_port, "example.test", expected=one, match="any"))).outcome == "up"
    result = await check("dns", cfg(dns_port, "example.test", expected=one, match="all"))
    assert result.outcome == "down"
    assert result.message == ("A example.test: expected all of 192.0.2.10, 192.0.2.99; "
                              "got 192.0.2.10, 192.0.2.11")
    assert (await check("dns", cfg(dns_port, "example.test", expected=both, match="exact"))).outcome == "up"
    result = await check("dns", cfg(dns_port, "example.test", expected=both[:1], match="exact"))
    assert result.outcome == "down"
    assert "expected exactly 192.0.2.10; got 192.0.2.10, 192.0.2.11" in result.message


async def test_mismatch_is_down(dns_port: int) -> None:
    result = await check("dns", cfg(dns_port, "example.test", "MX", expected=["10 mx.other.test"]))
    assert result.outcome == "down"
    assert result.message == ("MX example.test: expected one of 10 mx.other.test; "
                              "got 10 mail1.example.test, 20 mail2.example.test")


async def test_nxdomain_no_answer_and_servfail(dns_port: int) -> None:
    result = await check("dns", cfg(dns_port, "missing.example.test"), 2)
    assert (result.outcome, result.message) == ("down", "missing.example.test does not exist (NXDOMAIN)")
    result = await check("dns", cfg(dns_port, "web.example.test", "MX"), 2)
    assert (result.outcome, result.message) == ("down", "web.example.test exists but has no MX record")
    result = await check("dns", cfg(dns_port, "servfail.example.test"), 2)
    assert result.outcome == "down"
    assert result.message.startswith(f"No usable answer from resolver 127.0.0.1:{dns_port}")
    assert "SERVFAIL" in result.message


async def test_hung_udp_server_times_out(silent_udp_port: int) -> None:
    result = await assert_times_out("dns", cfg(silent_udp_port, "example.test"), timeout=1.0)
    assert result.message == f"Timed out after 1 s: no answer from resolver 127.0.0.1:{silent_udp_port}"


async def test_hung_tcp_server_times_out(hung_port: int) -> None:
    await assert_times_out("dns", cfg(hung_port, "example.test", protocol="tcp"), timeout=1.0)


async def test_closed_tcp_port_is_down(closed_port: int) -> None:
    result = await check("dns", cfg(closed_port, "example.test", protocol="tcp"), 2)
    assert result.outcome == "down"
    assert "127.0.0.1" in result.message


def test_invalid_config() -> None:
    kind = registry.get("dns")
    with pytest.raises(schema.ConfigError) as err:
        schema.validate(kind, {"name": "example.com", "record_type": "PTR", "resolver_port": 70000})
    assert err.value.errors == {"record_type": "must be one of A, AAAA, MX, CNAME, TXT, NS, SOA, SRV, CAA",
                                "resolver_port": "must be at most 65535"}
    with pytest.raises(schema.ConfigError) as err:
        schema.validate(kind, {"name": "example.com", "resolver": "dns.google", "expected": ["2001:db8::1"]})
    assert err.value.errors == {
        "resolver": "must be the IP address of a DNS server, e.g. 1.1.1.1 (empty: the system's)",
        "expected": "'2001:db8::1' is not an IPv4 address, as A records hold"}
    with pytest.raises(schema.ConfigError) as err:
        schema.validate(kind, {"name": "a..b"})
    assert err.value.errors["name"].startswith("is not a valid DNS name")
    clean = schema.validate(kind, {"name": "example.com"})
    assert clean == {"name": "example.com", "record_type": "A", "resolver_port": 53, "protocol": "udp",
                     "match": "any"}

"""The DNS monitor kind: ask a resolver (the system's or a given one) for a record and compare the answer."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import time
from collections.abc import Mapping
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from monitors.base import CheckResult, Field, Kind, down, up
from monitors.registry import register

RECORD_TYPES = ("A", "AAAA", "MX", "CNAME", "TXT", "NS", "SOA", "SRV", "CAA")
_MARGIN = 0.9  # finish before the runner cancels, so the message says which resolver did not answer


@functools.lru_cache(maxsize=256)
def _resolver(nameserver: str, port: int) -> dns.asyncresolver.Resolver:
    """One resolver per (server, port); "" is the system's configuration (/etc/resolv.conf), read once."""
    if nameserver:
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [nameserver]
        resolver.port = port
    else:
        resolver = dns.asyncresolver.Resolver()
    resolver.cache = None  # an uptime check must really ask every time
    return resolver


def _norm(value: str, record_type: str) -> str:
    """A record value in one comparable form: names lower-case without the trailing dot, IPv6 compressed,
    TXT as its plain text."""
    value = value.strip()
    if record_type == "TXT":
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if record_type in ("A", "AAAA"):
        try:
            return ipaddress.ip_address(value).compressed
        except ValueError:
            return value
    tokens = []
    for token in value.split():
        if len(token) >= 2 and token[0] == token[-1] == '"':
            token = token[1:-1]
        tokens.append(token.rstrip(".").lower() if token != "." else token)
    return " ".join(tokens)


def _answer_text(rdata: Any, record_type: str) -> str:
    if record_type == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "backslashreplace")
    return _norm(rdata.to_text(), record_type)


def _validate(config: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    try:
        dns.name.from_text(config["name"])
    except dns.exception.DNSException as exc:
        errors["name"] = f"is not a valid DNS name: {exc}"
    if config.get("resolver"):
        try:
            ipaddress.ip_address(config["resolver"])
        except ValueError:
            errors["resolver"] = "must be the IP address of a DNS server, e.g. 1.1.1.1 (empty: the system's)"
    record_type = config["record_type"]
    if record_type in ("A", "AAAA"):
        version = 4 if record_type == "A" else 6
        for value in config.get("expected") or ():
            try:
                if ipaddress.ip_address(value).version != version:
                    raise ValueError
            except ValueError:
                errors["expected"] = f"{value!r} is not an IPv{version} address, as {record_type} records hold"
                break
    return errors


async def _dns(config: Mapping[str, Any], timeout: float) -> CheckResult:
    name, record_type = config["name"], config["record_type"]
    server, port = config.get("resolver") or "", config["resolver_port"]
    expected = [_norm(v, record_type) for v in config.get("expected") or ()]
    match = config["match"]
    budget = timeout * _MARGIN
    where = f"resolver {server}:{port}" if server else "the system resolver"
    started = time.perf_counter()
    try:
        # dnspython may overrun its lifetime a little (socket close, back-off): cut it off ourselves too
        async with asyncio.timeout(budget):
            answer = await _resolver(server, port).resolve(
                name, record_type, tcp=config["protocol"] == "tcp", lifetime=budget, search=False)
    except dns.resolver.NXDOMAIN:
        return down(f"{name} does not exist (NXDOMAIN)")
    except dns.resolver.NoAnswer:
        return down(f"{name} exists but has no {record_type} record")
    except (dns.resolver.LifetimeTimeout, TimeoutError):
        return down(f"Timed out after {timeout:g} s: no answer from {where}")
    except dns.resolver.NoNameservers as exc:
        why = str(exc).split(": ", 1)[-1]  # e.g. "Server Do53:127.0.0.1@53 answered SERVFAIL"
        return down(f"No usable answer from {where}: {why}")
    except dns.exception.DNSException as exc:
        return down(f"DNS query failed: {exc}")
    except OSError as exc:
        return down(f"Cannot reach {where}: {exc.strerror or exc}")
    latency = (time.perf_counter() - started) * 1000
    got = [_answer_text(r, record_type) for r in answer.rrset or ()]
    if not got:
        return down(f"{name} exists but has no {record_type} record", latency)
    listed = ", ".join(got[:10]) + (f" (+{len(got) - 10} more)" if len(got) > 10 else "")
    if expected:
        have = set(got)
        ok = {
            "any": any(v in have for v in expected),
            "all": all(v in have for v in expected),
            "exact": have == set(expected),
        }[match]
        if not ok:
            wanted = ", ".join(expected)
            words = {"any": "one of", "all": "all of", "exact": "exactly"}[match]
            return down(f"{record_type} {name}: expected {words} {wanted}; got {listed}", latency, answers=got)
    return up(f"{record_type} {name}: {listed}", latency, answers=got)


register(Kind(
    name="dns", label="DNS record", family="dns", library="dnspython",
    summary="Queries a DNS record: UP when the answer matches the expected values (or, without any, when "
            "there is an answer); DOWN on NXDOMAIN, no record, a mismatch, an error or a timeout.",
    fields=(
        Field("name", "Name", required=True, placeholder="example.com"),
        Field("record_type", "Record type", "choice", default="A", choices=RECORD_TYPES),
        Field("resolver", "Resolver", placeholder="1.1.1.1",
              help="IP address of the DNS server to ask. Empty: the system's resolver."),
        Field("resolver_port", "Resolver port", "int", default=53, min=1, max=65535),
        Field("protocol", "Protocol", "choice", default="udp", choices=("udp", "tcp")),
        Field("expected", "Expected values", "list", placeholder="192.0.2.10",
              help="One value per line, written like the record: 192.0.2.10, 10 mail.example.com, "
                   "v=spf1 -all. Empty: any answer is UP."),
        Field("match", "Match", "choice", default="any", choices=("any", "all", "exact"),
              help="any: one expected value is in the answer. all: every expected value is. "
                   "exact: the answer is exactly the expected values."),
    ),
    validate=_validate,
    check=_dns,
    notes="""\
Asks the resolver for one record type and lists the answer in the message. Leave **Resolver** empty to
use the system's resolver (as every other program on the machine does), or give the IP address of a
server — e.g. your authoritative name server, to see what it serves without caches in between. Answers are
never cached by Beacon. A CNAME on the way to an A or AAAA record is followed.

**Expected values** are compared in a normalised form: names ignore case and the trailing dot, IPv6
addresses any notation, TXT records are compared as their text without quotes (a TXT record split into
several strings is joined). Write values as `dig +short` shows them:

| Type | Example value |
|------|---------------|
| A / AAAA | `192.0.2.10`, `2001:db8::10` |
| MX | `10 mail.example.com` |
| CNAME / NS | `web.example.net` |
| TXT | `v=spf1 include:_spf.example.com -all` |
| SOA | `ns1.example.com hostmaster.example.com 2024010101 3600 600 86400 300` |
| SRV | `10 5 5060 sip.example.com` (priority weight port target) |
| CAA | `0 issue letsencrypt.org` |

**Match** `any` is UP when one expected value is in the answer (e.g. one of several load balancers);
`all` when every expected value is there (extra records allowed); `exact` when the answer is exactly the
expected set — it catches records added by someone else.

```json
{"name": "example.com", "record_type": "MX", "resolver": "192.0.2.53",
 "expected": ["10 mail1.example.com", "20 mail2.example.com"], "match": "all"}
```
""",
))

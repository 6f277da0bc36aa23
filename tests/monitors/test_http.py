"""The HTTP family (http, keyword, json-query, graphql, tls-certificate) against real servers on 127.0.0.1.

Servers: the standard library's threaded HTTP server, plain and behind TLS with certificates from a throwaway
``trustme`` CA (valid, expiring in 5 days, expired, not yet valid, for another host, and one that requires a
client certificate), and graphql-core executing real queries behind ``/graphql`` (see ``http_servers.py``).
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from contextlib import ExitStack
from pathlib import Path

import pytest
import trustme

from monitors import registry, schema
from tests.monitors.conftest import assert_times_out, check
from tests.monitors.http_servers import PASSWORD, TOKEN, USERNAME, serve

NOW = dt.datetime.now(dt.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> dict:
    """A throwaway CA, its PEM file, and a client certificate for mutual TLS (separate and combined files)."""
    folder: Path = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    client = ca.issue_cert("client.beacon.test")
    client.cert_chain_pems[0].write_to_path(str(folder / "client.pem"))
    client.private_key_pem.write_to_path(str(folder / "client.key"))
    client.private_key_and_cert_chain_pem.write_to_path(str(folder / "client-combined.pem"))
    other = trustme.CA()  # a CA the servers do not trust
    stranger = other.issue_cert("client.beacon.test")
    stranger.private_key_and_cert_chain_pem.write_to_path(str(folder / "stranger.pem"))
    return {"ca": ca, "ca_file": str(folder / "ca.pem"), "client_cert": str(folder / "client.pem"),
            "client_key": str(folder / "client.key"), "combined": str(folder / "client-combined.pem"),
            "stranger": str(folder / "stranger.pem"), "folder": folder}


def _server_tls(ca: trustme.CA, *names: str, require_client_cert: bool = False, **dates) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names, **dates).configure_cert(ctx)
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ca.configure_trust(ctx)
    return ctx


@pytest.fixture(scope="module")
def servers(pki) -> dict[str, str]:
    ca = pki["ca"]
    day = dt.timedelta(days=1)
    variants = {
        "plain": None,
        "valid": _server_tls(ca, "localhost", "127.0.0.1"),
        "soon": _server_tls(ca, "localhost", "127.0.0.1", not_after=NOW + 5 * day + dt.timedelta(hours=1)),
        "expired": _server_tls(ca, "localhost", "127.0.0.1", not_before=NOW - 30 * day, not_after=NOW - 2 * day),
        "future": _server_tls(ca, "localhost", "127.0.0.1", not_before=NOW + 10 * day, not_after=NOW + 90 * day),
        "wronghost": _server_tls(ca, "other.example"),
        "mtls": _server_tls(ca, "localhost", "127.0.0.1", require_client_cert=True),
    }
    with ExitStack() as stack:
        yield {name: stack.enter_context(serve(tls)) for name, tls in variants.items()}


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def _errors(kind: str, config: dict) -> dict[str, str]:
    with pytest.raises(schema.ConfigError) as info:
        schema.validate(registry.get(kind), config)
    return info.value.errors


# --------------------------------------------------------------------------------------------------------- http


async def test_http_up(servers):
    result = await check("http", {"url": servers["plain"] + "/ok"})
    assert result.outcome == "up", result
    assert result.message == "200 OK"
    assert result.details["status_code"] == 200
    assert "cert_days_left" not in result.details
    assert result.latency_ms is not None and result.latency_ms < 1000


async def test_http_unaccepted_status_is_down(servers):
    result = await check("http", {"url": servers["plain"] + "/status/503"})
    assert result.outcome == "down"
    assert result.message == "Expected status 200-299, got 503 Service Unavailable"
    up = await check("http", {"url": servers["plain"] + "/status/503", "accepted_status": "200-299\n5xx"})
    assert up.outcome == "up" and up.message == "503 Service Unavailable"
    gone = await check("http", {"url": servers["plain"] + "/status/404", "accepted_status": ["200", "301-302"]})
    assert gone.outcome == "down" and gone.message == "Expected status 200, 301-302, got 404 Not Found"


async def test_http_redirects(servers):
    followed = await check("http", {"url": servers["plain"] + "/redirect/2"})
    assert followed.outcome == "up" and followed.message == "200 OK after 2 redirects"

    not_followed = await check("http", {"url": servers["plain"] + "/redirect/2", "follow_redirects": False})
    assert not_followed.outcome == "down"
    assert not_followed.message == "Expected status 200-299, got 302 Found (redirect to /redirect/1)"
    accepted = await check("http", {"url": servers["plain"] + "/redirect/1", "follow_redirects": False,
                                    "accepted_status": ["302"]})
    assert accepted.outcome == "up" and accepted.message == "302 Found"

    loop = await check("http", {"url": servers["plain"] + "/loop", "max_redirects": 3})
    assert loop.outcome == "down"
    assert loop.message.startswith("More than 3 redirects (a redirect loop?)"), loop.message


async def test_http_methods_and_auth(servers):
    plain = servers["plain"]
    head = await check("http", {"url": plain + "/ok", "method": "HEAD"})
    assert head.outcome == "up" and head.message == "200 OK"

    denied = await check("http", {"url": plain + "/auth/basic"})
    assert denied.outcome == "down" and denied.message == "Expected status 200-299, got 401 Unauthorized"
    basic = await check("http", {"url": plain + "/auth/basic", "auth": "basic", "username": USERNAME,
                                 "password": PASSWORD})
    assert basic.outcome == "up", basic
    wrong = await check("http", {"url": plain + "/auth/basic", "auth": "basic", "username": USERNAME,
                                 "password": "nope"})
    assert wrong.outcome == "down" and "401" in wrong.message
    bearer = await check("http", {"url": plain + "/auth/bearer", "auth": "bearer", "token": TOKEN})
    assert bearer.outcome == "up", bearer


async def test_http_connection_refused(closed_port):
    result = await check("http", {"url": f"http://127.0.0.1:{closed_port}/"}, timeout=2)
    assert result.outcome == "down"
    assert result.message == f"Connection refused by 127.0.0.1:{closed_port}"


async def test_http_hung_server_times_out(hung_port):
    await assert_times_out("http", {"url": f"http://127.0.0.1:{hung_port}/health"})


async def test_https_with_private_ca(servers, pki):
    result = await check("http", {"url": servers["valid"] + "/ok", "ca_file": pki["ca_file"]})
    assert result.outcome == "up" and result.message == "200 OK"
    assert result.details["cert_days_left"] > 365  # trustme's default certificates last for centuries

    soon = await check("http", {"url": servers["soon"] + "/ok", "ca_file": pki["ca_file"]})
    assert soon.outcome == "up" and soon.details["cert_days_left"] == 5

    untrusted = await check("http", {"url": servers["valid"] + "/ok"})
    assert untrusted.outcome == "down"
    assert untrusted.message.startswith("TLS certificate is not trusted: unable to get local issuer"), untrusted


async def test_https_expired_wrong_host_and_ignoring_tls_errors(servers, pki):
    expired = await check("http", {"url": servers["expired"] + "/ok", "ca_file": pki["ca_file"]})
    assert expired.outcome == "down" and expired.message == "TLS certificate has expired"

    future = await check("http", {"url": servers["future"] + "/ok", "ca_file": pki["ca_file"]})
    assert future.outcome == "down" and future.message == "TLS certificate is not valid yet"

    wrong = await check("http", {"url": servers["wronghost"] + "/ok", "ca_file": pki["ca_file"]})
    assert wrong.outcome == "down"
    assert wrong.message.startswith("TLS certificate does not match the host: IP address mismatch"), wrong.message

    for name in ("expired", "wronghost", "valid"):  # "ignore TLS errors", and without a ca_file
        ignored = await check("http", {"url": servers[name] + "/ok", "verify_tls": False})
        assert ignored.outcome == "up", (name, ignored)
    ignored_expired = await check("http", {"url": servers["expired"] + "/ok", "verify_tls": False})
    assert ignored_expired.details["cert_days_left"] == -2


async def test_https_mutual_tls(servers, pki):
    url = servers["mtls"] + "/ok"
    separate = await check("http", {"url": url, "ca_file": pki["ca_file"], "client_cert": pki["client_cert"],
                                    "client_key": pki["client_key"]})
    assert separate.outcome == "up" and separate.message == "200 OK"
    combined = await check("http", {"url": url, "ca_file": pki["ca_file"], "client_cert": pki["combined"]})
    assert combined.outcome == "up", combined

    without = await check("http", {"url": url, "ca_file": pki["ca_file"]})
    assert without.outcome == "down"
    assert without.message == "TLS error: the server requires a client certificate"
    stranger = await check("http", {"url": url, "ca_file": pki["ca_file"], "client_cert": pki["stranger"]})
    assert stranger.outcome == "down"
    assert stranger.message.startswith("TLS error: the server rejected the handshake"), stranger.message


async def test_https_to_a_plain_http_port(servers):
    result = await check("http", {"url": servers["plain"].replace("http://", "https://") + "/ok"})
    assert result.outcome == "down"
    assert result.message == "TLS error: the server did not answer with TLS (plain HTTP on this port?)"


async def test_http_rotated_ca_file_is_reloaded(servers, pki):
    """Certificate files are re-read when they change, without restarting Beacon."""
    ca_file = pki["folder"] / "rotating-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(ca_file))  # the wrong CA first
    first = await check("http", {"url": servers["valid"] + "/ok", "ca_file": str(ca_file)})
    assert first.outcome == "down" and "not trusted" in first.message
    pki["ca"].cert_pem.write_to_path(str(ca_file) + ".new")  # rotated as tools do: write aside, rename over
    os.replace(str(ca_file) + ".new", ca_file)
    second = await check("http", {"url": servers["valid"] + "/ok", "ca_file": str(ca_file)})
    assert second.outcome == "up", second


def test_http_invalid_config(pki):
    assert _errors("http", {})["url"] == "is required"
    assert _errors("http", {"url": "ftp://example.com/"})["url"].startswith("must be an http:// or https://")
    assert _errors("http", {"url": "https://x.test/", "method": "BREW"})["method"].startswith("must be one of GET")
    assert _errors("http", {"url": "https://x.test/", "accepted_status": ["200-299", "ok"]})["accepted_status"] == (
        '"ok" is not a status code or range like 200-299, 301 or 4xx')
    assert _errors("http", {"url": "https://x.test/", "accepted_status": ["299-200"]})["accepted_status"] == (
        '"299-200" is an empty range')
    assert _errors("http", {"url": "https://x.test/", "auth": "basic"}) == {
        "username": "is required for basic authentication"}
    assert _errors("http", {"url": "https://x.test/", "auth": "bearer"}) == {
        "token": "is required for bearer authentication"}
    assert _errors("http", {"url": "https://x.test/", "headers": "Bad Header: 1"})["headers"] == (
        '"Bad Header" is not a valid header name')
    missing = _errors("http", {"url": "https://x.test/", "ca_file": "/nonexistent/ca.pem"})
    assert missing == {"ca_file": "cannot read /nonexistent/ca.pem: No such file or directory"}
    not_pem = _errors("http", {"url": "https://x.test/", "ca_file": pki["client_key"]})
    assert not_pem["ca_file"].startswith(f"{pki['client_key']} is not a PEM file of CA certificates")
    assert _errors("http", {"url": "https://x.test/", "client_key": pki["client_key"]}) == {
        "client_cert": "is required when a client key is given"}
    no_key = _errors("http", {"url": "https://x.test/", "client_cert": pki["client_cert"]})
    assert no_key["client_cert"].startswith("cannot load the client certificate and key")
    assert _errors("http", {"url": "https://x.test/", "max_redirects": 99}) == {"max_redirects": "must be at most 30"}


# ------------------------------------------------------------------------------------------------------ keyword


async def test_keyword_contains(servers):
    url = servers["plain"] + "/ok"
    found = await check("keyword", {"url": url, "keyword": "all systems ok"})
    assert found.outcome == "up" and found.message == "Keyword 'all systems ok' found (200 OK)"

    case = await check("keyword", {"url": url, "keyword": "all systems ok", "case_sensitive": True})
    assert case.outcome == "down"
    assert case.message == ("Keyword 'all systems ok' not found in “<html><body><h1>Beacon test page</h1><p>All "
                            "systems OK. Version 1.2.3</p></body></html>”")

    status = await check("keyword", {"url": servers["plain"] + "/status/500", "keyword": "status"})
    assert status.outcome == "down" and status.message == "Expected status 200-299, got 500 Internal Server Error"


async def test_keyword_not_contains_and_regex(servers):
    url = servers["plain"] + "/ok"
    absent = await check("keyword", {"url": url, "keyword": "maintenance", "mode": "not_contains"})
    assert absent.outcome == "up" and absent.message == "Keyword 'maintenance' absent (200 OK)"
    present = await check("keyword", {"url": url, "keyword": "Version", "mode": "not_contains"})
    assert present.outcome == "down"
    assert present.message.startswith("Keyword 'Version' found: “…") and "OK. Version 1.2.3</p>" in present.message

    regex = await check("keyword", {"url": url, "keyword": r"version \d+\.\d+", "mode": "regex"})
    assert regex.outcome == "up" and regex.message == r"Pattern /version \d+\.\d+/ matched “Version 1.2” (200 OK)"
    nomatch = await check("keyword", {"url": url, "keyword": r"version 2\.", "mode": "regex"})
    assert nomatch.outcome == "down" and nomatch.message.startswith(r"Pattern /version 2\./ not found in “<html>")


async def test_keyword_sends_method_headers_and_body(servers):
    result = await check("keyword", {"url": servers["plain"] + "/echo", "method": "POST", "body": "ping-42",
                                     "headers": "X-Probe: beacon\nContent-Type: text/plain",
                                     "keyword": '"body": "ping-42"', "case_sensitive": True})
    assert result.outcome == "up", result
    ua = await check("keyword", {"url": servers["plain"] + "/echo", "keyword": '"user-agent": "Beacon/0.1'})
    assert ua.outcome == "up", ua


async def test_keyword_hung_server_times_out(hung_port):
    await assert_times_out("keyword", {"url": f"http://127.0.0.1:{hung_port}/", "keyword": "ok"})


def test_keyword_invalid_config():
    assert _errors("keyword", {"url": "http://x.test/"}) == {"keyword": "is required"}
    bad = _errors("keyword", {"url": "http://x.test/", "keyword": "(ok", "mode": "regex"})
    assert bad["keyword"] == "must be a valid regular expression: missing ), unterminated subpattern at position 0"
    assert "method" in _errors("keyword", {"url": "http://x.test/", "keyword": "ok", "method": "HEAD"})
    assert "keyword" not in _errors("keyword", {"url": "gopher://x", "keyword": "([a-z"})  # literal text is fine


# --------------------------------------------------------------------------------------------------- json-query


async def _jq(servers, expression: str, comparator: str = "==", expected: str | None = None, **extra):
    config = {"url": servers["plain"] + "/health", "expression": expression, "comparator": comparator, **extra}
    if expected is not None:
        config["expected"] = expected
    return await check("json-query", config)


async def test_json_query_jsonpath(servers):
    ok = await _jq(servers, "$.checks.database.status", "==", "ok")
    assert ok.outcome == "up" and ok.message == '$.checks.database.status = "ok" (== ok)'
    bad = await _jq(servers, "$.checks.cache.status", "==", "ok")
    assert bad.outcome == "down" and bad.message == '$.checks.cache.status = "degraded", expected == ok'

    assert (await _jq(servers, "$.count", ">", "2")).outcome == "up"
    assert (await _jq(servers, "$.count", "==", "3.0")).outcome == "up"  # numerically
    assert (await _jq(servers, "$.ratio", "<", "1")).outcome == "up"  # "0.75" parses as a number
    low = await _jq(servers, "$.checks.database.latency_ms", ">=", "100")
    assert low.outcome == "down" and low.message == "$.checks.database.latency_ms = 12, expected >= 100"
    assert (await _jq(servers, "$.healthy", "==", "true")).outcome == "up"
    assert (await _jq(servers, "$.version", "!=", "1.2.4")).outcome == "up"
    assert (await _jq(servers, "$.tags", "contains", "prod")).outcome == "up"
    assert (await _jq(servers, "$.checks", "contains", "cache")).outcome == "up"
    assert (await _jq(servers, "$.version", "contains", "1.2")).outcome == "up"

    exists = await _jq(servers, "$.version", "exists")
    assert exists.outcome == "up" and exists.message == '$.version exists: "1.2.3"'
    nothing = await _jq(servers, "$.uptime", "exists")
    assert nothing.outcome == "down" and nothing.message == "$.uptime matched nothing in the response"


async def test_json_query_several_matches(servers):
    every = await _jq(servers, "$.services[*].status", "==", "ok")
    assert every.outcome == "up" and every.message == '$.services[*].status = ["ok", "ok"] (== ok)'
    one_bad = await _jq(servers, "$.checks.*.status", "==", "ok")
    assert one_bad.outcome == "down"
    assert one_bad.message == '$.checks.*.status = "degraded" (1 of 2 matches), expected == ok'
    anyone = await _jq(servers, "$.services[*].name", "contains", "worker")
    assert anyone.outcome == "up", anyone
    filtered = await _jq(servers, '$.services[?(@.name == "api")].status', "==", "ok")
    assert filtered.outcome == "up", filtered


async def test_json_query_jmespath(servers):
    ok = await _jq(servers, "length(services[?status!='ok'])", "==", "0", language="jmespath")
    assert ok.outcome == "up" and ok.message == "length(services[?status!='ok']) = 0 (== 0)"
    bad = await _jq(servers, "checks.cache.status", "==", "ok", language="jmespath")
    assert bad.outcome == "down" and bad.message == 'checks.cache.status = "degraded", expected == ok'
    missing = await _jq(servers, "checks.queue", "exists", language="jmespath")
    assert missing.outcome == "down" and missing.message == "checks.queue matched nothing in the response"


async def test_json_query_not_json_and_bad_status(servers):
    html = await check("json-query", {"url": servers["plain"] + "/ok", "expression": "$.status", "expected": "ok"})
    assert html.outcome == "down"
    assert html.message == ("Response is not JSON (starts with “<html><body><h1>Beacon test page</h1><p>All systems "
                            "OK. Ver…”)")
    status = await check("json-query", {"url": servers["plain"] + "/status/502", "expression": "$.status",
                                        "comparator": "exists"})
    assert status.outcome == "down" and status.message == "Expected status 200-299, got 502 Bad Gateway"


async def test_json_query_hung_server_times_out(hung_port):
    await assert_times_out("json-query", {"url": f"http://127.0.0.1:{hung_port}/", "expression": "$.a",
                                          "comparator": "exists"})


def test_json_query_invalid_config():
    base = {"url": "http://x.test/", "expected": "1"}
    bad_path = _errors("json-query", {**base, "expression": "$.items[?("})
    assert bad_path["expression"].startswith("must be a valid JSONPath expression: ")
    bad_jmes = _errors("json-query", {**base, "expression": "items[?", "language": "jmespath"})
    assert bad_jmes["expression"].startswith("must be a valid JMESPath expression: ")
    assert _errors("json-query", {"url": "http://x.test/", "expression": "$.a", "comparator": ">"}) == {
        "expected": "is required for the comparator >"}
    assert _errors("json-query", {**base, "expression": "$.a", "comparator": "~="})["comparator"].startswith(
        "must be one of ==")
    schema.validate(registry.get("json-query"), {"url": "http://x.test/", "expression": "$.a", "comparator": "exists"})


# ------------------------------------------------------------------------------------------------------ graphql


async def test_graphql_up_and_expected_values(servers):
    url = servers["plain"] + "/graphql"
    plain = await check("graphql", {"url": url, "query": "{ status }"})
    assert plain.outcome == "up" and plain.message == "200 OK, no errors"

    query = "query($id: Int!) { user(id: $id) { name age } }"
    named = await check("graphql", {"url": url, "query": query, "variables": '{"id": 7}',
                                    "expected_path": "user.name", "expected": "user7"})
    assert named.outcome == "up" and named.message == 'user.name = "user7"'
    number = await check("graphql", {"url": url, "query": query, "variables": {"id": 7},
                                     "expected_path": "$.user.age", "expected": "37.0"})
    assert number.outcome == "up", number
    listed = await check("graphql", {"url": url, "query": "{ users { name } }", "expected_path": "users.1.name"})
    assert listed.outcome == "up" and listed.message == 'users.1.name = "bob"'

    wrong = await check("graphql", {"url": url, "query": query, "variables": {"id": 7},
                                    "expected_path": "user.name", "expected": "ada"})
    assert wrong.outcome == "down" and wrong.message == 'user.name = "user7", expected ada'
    null = await check("graphql", {"url": url, "query": "{ nothing }", "expected_path": "nothing"})
    assert null.outcome == "down" and null.message == "nothing is null"
    missing = await check("graphql", {"url": url, "query": "{ status }", "expected_path": "user.name"})
    assert missing.outcome == "down" and missing.message == "data.user.name is missing from the response"


async def test_graphql_errors_are_down(servers):
    url = servers["plain"] + "/graphql"
    result = await check("graphql", {"url": url, "query": "{ status broken alsoBroken }"})
    assert result.outcome == "down"
    assert result.message == "GraphQL error: Cannot query field 'broken' on type 'Query'. (and 1 more)"
    variables = await check("graphql", {"url": url, "query": "query($id: Int!) { user(id: $id) { name } }"})
    assert variables.outcome == "down"
    assert variables.message.startswith(
        "GraphQL error: Variable '$id' has invalid value: Expected a value of non-null type 'Int!'")


async def test_graphql_not_json_and_auth(servers):
    not_graphql = await check("graphql", {"url": servers["plain"] + "/ok", "query": "{ status }"})
    assert not_graphql.outcome == "down" and not_graphql.message.startswith("Response is not JSON")
    not_found = await check("graphql", {"url": servers["plain"] + "/nope", "query": "{ status }"})
    assert not_found.outcome == "down" and not_found.message == "Expected status 200-299, got 404 Not Found"


async def test_graphql_hung_server_times_out(hung_port):
    await assert_times_out("graphql", {"url": f"http://127.0.0.1:{hung_port}/graphql", "query": "{ status }"})


def test_graphql_invalid_config():
    assert _errors("graphql", {"url": "http://x.test/graphql"}) == {"query": "is required"}
    assert _errors("graphql", {"url": "http://x.test/graphql", "query": "{a}", "variables": "[1]"}) == {
        "variables": 'must be a JSON object, like {"id": 1}'}
    assert _errors("graphql", {"url": "http://x.test/graphql", "query": "{a}", "variables": "{nope"})[
        "variables"].startswith("is not valid JSON")
    assert _errors("graphql", {"url": "http://x.test/graphql", "query": "{a}", "expected": "1"}) == {
        "expected_path": "is required when an expected value is given"}
    assert _errors("graphql", {"url": "http://x.test/graphql", "query": "{a}", "expected_path": "a..b"})[
        "expected_path"].startswith("must be a dotted path")
    assert _errors("graphql", {"url": "http://x.test/graphql", "query": "{a}", "expected_path": "$.a[?("})[
        "expected_path"].startswith("must be a valid JSONPath expression")


# ---------------------------------------------------------------------------------------------- tls-certificate


async def _tls(servers, pki, name: str, **extra):
    config = {"host": "127.0.0.1", "port": _port(servers[name]), "ca_file": pki["ca_file"], **extra}
    return await check("tls-certificate", config)


async def test_tls_certificate_valid_and_expiring(servers, pki):
    issuer = f"trustme v{trustme.__version__}"  # the organization: trustme's CAs have no common name
    valid = await _tls(servers, pki, "valid")
    assert valid.outcome == "up", valid
    assert valid.message.startswith("Certificate valid for ") and valid.message.endswith(f"; issued by {issuer}")
    assert valid.details["cert_days_left"] > 365 and valid.details["issuer"] == issuer

    soon = await _tls(servers, pki, "soon")
    expiry = (NOW + dt.timedelta(days=5, hours=1)).strftime("%Y-%m-%d %H:%M UTC")
    assert soon.outcome == "degraded"
    assert soon.message == f"Certificate expires in 5 days, on {expiry}; issued by {issuer}"
    assert soon.details["cert_days_left"] == 5
    relaxed = await _tls(servers, pki, "soon", warn_days=3)
    assert relaxed.outcome == "up" and relaxed.message.startswith(f"Certificate valid for 5 days, until {expiry}")


async def test_tls_certificate_expired_future_and_untrusted(servers, pki):
    expired = await _tls(servers, pki, "expired")
    assert expired.outcome == "down"
    assert expired.message.startswith("Certificate expired on ")
    assert expired.message.endswith(" UTC (2 days ago); issued by trustme v" + trustme.__version__)
    assert expired.details["cert_days_left"] == -2

    future = await _tls(servers, pki, "future")
    assert future.outcome == "down" and future.message.startswith("Certificate is not valid before ")

    untrusted = await _tls(servers, pki, "valid", ca_file="")
    assert untrusted.outcome == "down"
    assert untrusted.message.startswith("Certificate is not trusted: unable to get local issuer certificate")


async def test_tls_certificate_hostname(servers, pki):
    wrong = await _tls(servers, pki, "wronghost")
    assert wrong.outcome == "down"
    assert wrong.message.startswith("Certificate does not match 127.0.0.1: it is for other.example; issued by")
    sni = await _tls(servers, pki, "wronghost", server_name="other.example")
    assert sni.outcome == "up", sni
    by_name = await _tls(servers, pki, "valid", server_name="localhost")
    assert by_name.outcome == "up", by_name
    other_name = await _tls(servers, pki, "valid", server_name="www.beacon.test")
    assert other_name.outcome == "down" and other_name.message.startswith(
        "Certificate does not match www.beacon.test: it is for localhost, 127.0.0.1")


async def test_tls_certificate_no_tls_refused_and_hung(servers, pki, closed_port, hung_port):
    plain = await _tls(servers, pki, "plain")
    assert plain.outcome == "down"
    assert plain.message.startswith(f"TLS handshake with 127.0.0.1:{_port(servers['plain'])} failed: "), plain
    refused = await check("tls-certificate", {"host": "127.0.0.1", "port": closed_port})
    assert refused.outcome == "down" and refused.message == f"Connection refused by 127.0.0.1:{closed_port}"
    await assert_times_out("tls-certificate", {"host": "127.0.0.1", "port": hung_port})


def test_tls_certificate_invalid_config():
    assert _errors("tls-certificate", {}) == {"host": "is required"}
    assert _errors("tls-certificate", {"host": "https://example.com/"}) == {
        "host": "must be a host name or IP address, like example.com (no https:// or path)"}
    assert _errors("tls-certificate", {"host": "example.com", "port": 70000}) == {"port": "must be at most 65535"}
    assert _errors("tls-certificate", {"host": "example.com", "warn_days": -1}) == {"warn_days": "must be at least 0"}
    assert _errors("tls-certificate", {"host": "example.com", "ca_file": "/nonexistent.pem"}) == {
        "ca_file": "cannot read /nonexistent.pem: No such file or directory"}
    clean = schema.validate(registry.get("tls-certificate"), {"host": "example.com"})
    assert clean == {"host": "example.com", "port": 443, "warn_days": 14}

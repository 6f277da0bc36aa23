"""The HTTP family: plain HTTP(S) requests, keyword and JSON checks on the body, GraphQL, and TLS certificates.

``http``, ``keyword``, ``json-query`` and ``graphql`` share one set of request settings (``REQUEST_FIELDS``) and
one request function (``fetch``). Clients are expensive to build (an SSL context costs ~20 ms of CPU), so one
``httpx.AsyncClient`` is cached per TLS configuration and event loop, with keep-alive off: every check opens a
fresh connection, so a dead server is never hidden behind a pooled one.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re
import socket
import ssl
import time
import weakref
from collections.abc import Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jmespath
import jmespath.exceptions
from cryptography import x509
from cryptography.x509.oid import NameOID
from jsonpath_ng.ext import parse as jsonpath_parse

from monitors.base import CheckResult, Field, Kind, degraded, down, up
from monitors.registry import register
from monitors.tls import TLSSetupError, client_context

USER_AGENT = "Beacon/0.1 (uptime monitor)"
MAX_BODY = 4 * 1024 * 1024  # bytes of a response body read at most; keyword and JSON checks see this much
METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_STATUS_RANGE = re.compile(r"^([1-5]\d\d)(?:\s*-\s*([1-5]\d\d))?$|^([1-5])xx$", re.IGNORECASE)

# OpenSSL X509 verify codes (x509_vfy.h) that get their own message
_NOT_YET_VALID, _EXPIRED, _HOSTNAME_MISMATCH, _IP_MISMATCH = 9, 10, 62, 64


# ---------------------------------------------------------------------------------------------------------------
# The shared request settings

TLS_FIELDS = (
    Field("verify_tls", "Verify TLS certificate", "bool", default=True,
          help="Off: ignore TLS errors (self-signed, expired or mismatched certificates) and check anyway."),
    Field("ca_file", "CA bundle file", placeholder="/etc/beacon/private-ca.pem",
          help="PEM file of extra certificate authorities to trust, for servers signed by a private CA."),
    Field("client_cert", "Client certificate file", placeholder="/etc/beacon/client.pem",
          help="PEM certificate (optionally with its key) presented to servers that require mutual TLS."),
    Field("client_key", "Client key file", placeholder="/etc/beacon/client.key",
          help="PEM private key of the client certificate, when it is not in the certificate file."),
)

AUTH_FIELDS = (
    Field("auth", "Authentication", "choice", default="none", choices=("none", "basic", "bearer")),
    Field("username", "Username", help="For basic authentication."),
    Field("password", "Password", "secret", help="For basic authentication."),
    Field("token", "Bearer token", "secret", help='Sent as "Authorization: Bearer <token>".'),
)

REQUEST_FIELDS = (
    Field("url", "URL", required=True, placeholder="https://example.com/health"),
    Field("method", "Method", "choice", default="GET", choices=METHODS),
    Field("headers", "Headers", "map", placeholder="Accept: application/json",
          help='Extra request headers, one "Name: value" per line.'),
    Field("body", "Request body", "text",
          help="Sent as is; set a Content-Type header to match (e.g. application/json)."),
    *AUTH_FIELDS,
    Field("accepted_status", "Accepted status codes", "list", default=["200-299"],
          placeholder="200-299", help='Codes or ranges, one per line: "200-299", "301", "4xx".'),
    Field("follow_redirects", "Follow redirects", "bool", default=True),
    Field("max_redirects", "Maximum redirects", "int", default=10, min=0, max=30),
    *TLS_FIELDS,
)


@functools.lru_cache(maxsize=1024)
def _status_ranges(specs: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    ranges = []
    for spec in specs:
        m = _STATUS_RANGE.match(spec.strip())
        if not m:
            raise ValueError(f'"{spec}" is not a status code or range like 200-299, 301 or 4xx')
        if m.group(3):
            low = int(m.group(3)) * 100
            ranges.append((low, low + 99))
        else:
            low, high = int(m.group(1)), int(m.group(2) or m.group(1))
            if high < low:
                raise ValueError(f'"{spec}" is an empty range')
            ranges.append((low, high))
    return tuple(ranges)


def ssl_context(verify: bool, ca_file: str | None, client_cert: str | None = None,
                client_key: str | None = None, *, probe: bool = False) -> ssl.SSLContext:
    """The shared context of this TLS configuration (monitors/tls.py). ``probe``: tls-certificate's own, without
    the ALPN "http/1.1" that httpcore sets on the contexts it uses, which a non-HTTP TLS server may refuse."""
    return client_context(verify, ca_file, client_cert, client_key, purpose="probe" if probe else "http")


# clients by event loop, then by TLS configuration and max redirects: (ssl context, client). Clients hold
# loop-bound locks, so each loop (one in production; one per test) gets its own.
_CLIENTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], tuple[ssl.SSLContext,
                                                                                         httpx.AsyncClient]]] = (
    weakref.WeakKeyDictionary())
_LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=0)


def _client(config: Mapping[str, Any]) -> httpx.AsyncClient:
    tls = (config.get("verify_tls", True), config.get("ca_file"), config.get("client_cert"), config.get("client_key"))
    ctx = ssl_context(*tls)
    per_loop = _CLIENTS.setdefault(asyncio.get_running_loop(), {})
    key = (*tls, config.get("max_redirects", 10))
    cached = per_loop.get(key)
    if cached is not None and cached[0] is ctx:
        return cached[1]
    # new, or a certificate file changed: the old client has no pooled connections (keep-alive is off) to close
    client = httpx.AsyncClient(verify=ctx, limits=_LIMITS, max_redirects=key[-1], headers={"User-Agent": USER_AGENT})
    per_loop[key] = (ctx, client)
    return client


def validate_request(clean: Mapping[str, Any]) -> dict[str, str]:
    """Cross-field rules of the shared request settings (URL, headers, auth, status codes, TLS files)."""
    errors: dict[str, str] = {}
    url = clean.get("url", "")
    try:
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            errors["url"] = "must be an http:// or https:// address, like https://example.com/health"
    except (httpx.InvalidURL, TypeError) as exc:
        errors["url"] = f"is not a valid URL ({exc})"
    for name, value in (clean.get("headers") or {}).items():
        if not _HEADER_NAME.match(name):
            errors["headers"] = f'"{name}" is not a valid header name'
            break
        if "\n" in value or "\r" in value:
            errors["headers"] = f'the value of "{name}" must be on one line'
            break
    auth = clean.get("auth", "none")
    if auth == "basic" and not clean.get("username"):
        errors["username"] = "is required for basic authentication"
    if auth == "bearer" and not clean.get("token"):
        errors["token"] = "is required for bearer authentication"
    if "accepted_status" in clean:
        if not clean["accepted_status"]:
            errors["accepted_status"] = "needs at least one status code or range"
        try:
            _status_ranges(tuple(clean["accepted_status"]))
        except ValueError as exc:
            errors["accepted_status"] = str(exc)
    errors.update(validate_tls_files(clean))
    return errors


def validate_tls_files(clean: Mapping[str, Any]) -> dict[str, str]:
    if clean.get("client_key") and not clean.get("client_cert"):
        return {"client_cert": "is required when a client key is given"}
    if not (clean.get("ca_file") or clean.get("client_cert")):
        return {}
    try:
        ssl_context(clean.get("verify_tls", True), clean.get("ca_file"), clean.get("client_cert"),
                    clean.get("client_key"))
    except TLSSetupError as exc:
        return {exc.field: str(exc)}
    return {}


# ---------------------------------------------------------------------------------------------------------------
# Making the request


@dataclass(slots=True)
class Fetched:
    response: httpx.Response  # closed; the body is in ``body``
    body: bytes
    latency_ms: float
    cert_days_left: int | None

    @property
    def status(self) -> str:
        return f"{self.response.status_code} {self.response.reason_phrase}".strip()

    @property
    def text(self) -> str:
        encoding = self.response.charset_encoding or "utf-8"
        try:
            return self.body.decode(encoding, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def details(self, **extra: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"status_code": self.response.status_code}
        if self.cert_days_left is not None:
            out["cert_days_left"] = self.cert_days_left
        out.update(extra)
        return out


@functools.lru_cache(maxsize=2048)
def _cert_facts(der: bytes) -> tuple[datetime, datetime, str]:
    """(not before, not after, issuer name) of a DER certificate."""
    cert = x509.load_der_x509_certificate(der)
    return cert.not_valid_before_utc, cert.not_valid_after_utc, _issuer_name(cert)


def _issuer_name(cert: x509.Certificate) -> str:
    for oid in (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME):
        attrs = cert.issuer.get_attributes_for_oid(oid)
        if attrs:
            return str(attrs[0].value)
    return cert.issuer.rfc4514_string() or "unknown issuer"


def _days_left(not_after: datetime) -> int:
    """Whole days until ``not_after``; negative once past (-2: expired two days ago)."""
    return math.trunc((not_after - datetime.now(UTC)).total_seconds() / 86400)


def _days(days: int) -> str:
    return "less than a day" if days == 0 else f"{days} day{'s' if days != 1 else ''}"


def _peer_days_left(response: httpx.Response) -> int | None:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if ssl_object is None:
        return None
    try:
        der = ssl_object.getpeercert(binary_form=True)
        return _days_left(_cert_facts(der)[1]) if der else None
    except (ValueError, ssl.SSLError):
        return None


def _chain(exc: BaseException | None):
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def describe_ssl_error(exc: ssl.SSLError) -> str:
    """A TLS failure in words, e.g. "TLS certificate has expired"."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code, reason = exc.verify_code, (exc.verify_message or exc.reason or str(exc))
        if code == _EXPIRED:
            return "TLS certificate has expired"
        if code == _NOT_YET_VALID:
            return "TLS certificate is not valid yet"
        if code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
            return f"TLS certificate does not match the host: {reason}"
        return f"TLS certificate is not trusted: {reason}"
    reason = (exc.reason or "").upper()
    if "CERTIFICATE_REQUIRED" in reason:
        return "TLS error: the server requires a client certificate"
    if reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG"):
        return "TLS error: the server did not answer with TLS (plain HTTP on this port?)"
    if "ALERT" in reason:
        return "TLS error: the server rejected the handshake (" + reason.lower().replace("_", " ") + ")"
    return f"TLS error: {exc.reason.lower().replace('_', ' ') if exc.reason else exc}"


def _describe_request_error(exc: httpx.HTTPError, config: Mapping[str, Any], timeout: float) -> str:
    try:
        url = exc.request.url
    except RuntimeError:
        url = httpx.URL(config["url"])
    where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"More than {config.get('max_redirects', 10)} redirects (a redirect loop?), last at {url}"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"Timed out after {timeout:g} s connecting to {where}"
    if isinstance(exc, httpx.TimeoutException):
        return f"Timed out after {timeout:g} s waiting for a response from {where}"
    for cause in _chain(exc):
        if isinstance(cause, ssl.SSLError):
            return describe_ssl_error(cause)
    for cause in _chain(exc):
        if isinstance(cause, ConnectionRefusedError):
            return f"Connection refused by {where}"
        if isinstance(cause, ConnectionResetError):
            return f"Connection reset by {where}"
        if isinstance(cause, socket.gaierror):
            return f"Cannot resolve host {url.host}"
        if isinstance(cause, TimeoutError):
            return f"Timed out after {timeout:g} s talking to {where}"
        if isinstance(cause, OSError) and cause.strerror:
            return f"Cannot connect to {where}: {cause.strerror}"
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "without sending" in text or "disconnected" in text.lower():
            return f"{where} closed the connection without a response"
        return f"Invalid HTTP response from {where}: {text}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return f"Connection to {where} broke off: {exc or type(exc).__name__}"
    return f"Request to {where} failed: {exc or type(exc).__name__}"


async def fetch(config: Mapping[str, Any], timeout: float, *, method: str | None = None,
                content: bytes | None = None, extra_headers: Mapping[str, str] | None = None,
                read_body: bool = True) -> Fetched | CheckResult:
    """Make the request the shared settings describe. A ``Fetched`` with the (capped) body, or a DOWN result
    saying why there is no response. The status code is not judged here (see ``status_problem``)."""
    try:
        client = _client(config)
    except TLSSetupError as exc:
        return down(f"TLS setup failed: {exc}")
    headers = dict(config.get("headers") or {})
    if extra_headers:
        headers = {**extra_headers, **headers}
    auth = config.get("auth", "none")
    if auth == "bearer":
        headers["Authorization"] = f"Bearer {config.get('token') or ''}"
    basic = httpx.BasicAuth(config.get("username") or "", config.get("password") or "") if auth == "basic" else None
    if content is None and config.get("body"):
        content = config["body"].encode()
    method = method or config.get("method", "GET")
    started = time.perf_counter()
    try:
        async with client.stream(method, config["url"], headers=headers, content=content, auth=basic,
                                 follow_redirects=config.get("follow_redirects", True),
                                 timeout=httpx.Timeout(timeout)) as response:
            cert_days_left = _peer_days_left(response) if response.url.scheme == "https" else None
            chunks: list[bytes] = []
            size = 0
            # read (and for http only count) the body, so a server that stalls mid-response fails too
            async with aclosing(response.aiter_bytes() if read_body else response.aiter_raw()) as body_chunks:
                async for chunk in body_chunks:
                    size += len(chunk)
                    if read_body:
                        chunks.append(chunk)
                    if size >= MAX_BODY:
                        break
    except httpx.HTTPError as exc:
        return down(_describe_request_error(exc, config, timeout))
    except httpx.InvalidURL as exc:
        return down(f"Invalid URL: {exc}")
    except ssl.SSLError as exc:
        return down(describe_ssl_error(exc))
    latency_ms = (time.perf_counter() - started) * 1000
    return Fetched(response, b"".join(chunks)[:MAX_BODY], latency_ms, cert_days_left)


def status_problem(config: Mapping[str, Any], fetched: Fetched) -> CheckResult | None:
    """DOWN when the status code is not an accepted one, else None."""
    accepted = tuple(config.get("accepted_status") or ["200-299"])
    code = fetched.response.status_code
    if any(low <= code <= high for low, high in _status_ranges(accepted)):
        return None
    message = f"Expected status {', '.join(accepted)}, got {fetched.status}"
    location = fetched.response.headers.get("location")
    if location and 300 <= code < 400:
        message += f" (redirect to {_short(location, 100)})"
    return down(message, fetched.latency_ms, **fetched.details())


def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ---------------------------------------------------------------------------------------------------------------
# http


async def _http(config: Mapping[str, Any], timeout: float) -> CheckResult:
    fetched = await fetch(config, timeout, read_body=False)
    if isinstance(fetched, CheckResult):
        return fetched
    problem = status_problem(config, fetched)
    if problem:
        return problem
    message = fetched.status
    if fetched.response.history:
        hops = len(fetched.response.history)
        message += f" after {hops} redirect{'s' if hops > 1 else ''}"
    return up(message, fetched.latency_ms, **fetched.details())


_TLS_NOTES = """
**TLS.** `https://` certificates are verified against the public CAs (certifi, or `SSL_CERT_FILE` when set)
plus `ca_file` when given — use it for servers signed by a private CA. `verify_tls: false` ignores every
certificate problem (self-signed, expired, wrong host). `client_cert`/`client_key` are PEM files presented to
servers that require mutual TLS (the key may also sit in the certificate file). Files are re-read when they
change. For HTTPS targets the days until the server's certificate expires are recorded as `cert_days_left`
(use the *TLS certificate* kind to be warned before expiry).

**Connections.** Every check opens a fresh connection (no keep-alive), so a dead server is never hidden by a
pooled connection. The timeout applies to the whole check. Requests honour the `HTTP_PROXY`, `HTTPS_PROXY`
and `NO_PROXY` environment variables of the Beacon process and send `User-Agent: Beacon/0.1 (uptime monitor)`
unless you set your own in `headers`.
"""

_AUTH_NOTES = """
**Authentication.** `auth: "basic"` sends `username`/`password`; `auth: "bearer"` sends
`Authorization: Bearer <token>`. You can also set any header yourself in `headers`. Credentials are not sent
on to another host when following a redirect.
"""

register(Kind(
    name="http", label="HTTP(S)", family="http", library="httpx",
    summary="UP when the URL answers with an accepted status code (2xx by default); DOWN on an other status, "
            "a connection or TLS error, or no answer within the timeout.",
    fields=REQUEST_FIELDS,
    check=_http,
    validate=validate_request,
    notes="""
Sends one request to `url` and judges the status code of the final response. Only the status matters: the
body is read (so a server that stalls mid-response fails) but not inspected — use *Keyword* or *JSON query*
for that.

**Status codes.** `accepted_status` lists codes and ranges, one per line: `200-299` (the default), `301`,
`4xx`. With `follow_redirects` on (the default) redirects are followed up to `max_redirects` and the final
status counts; turn it off to check the redirect itself (e.g. accept `301` for an http→https redirect).

**Request.** `method` is GET by default; `headers` and `body` are sent as given (set `Content-Type` yourself).
""" + _AUTH_NOTES + _TLS_NOTES + """
Example:

```json
{"url": "https://example.com/health", "method": "GET", "accepted_status": ["200-299", "304"],
 "headers": {"Accept": "application/json"}, "auth": "bearer", "token": "s3cret"}
```
""",
))


# ---------------------------------------------------------------------------------------------------------------
# keyword


def _validate_keyword(clean: Mapping[str, Any]) -> dict[str, str]:
    errors = validate_request(clean)
    if clean.get("mode") == "regex":
        try:
            re.compile(clean["keyword"], 0 if clean.get("case_sensitive") else re.IGNORECASE)
        except re.error as exc:
            errors["keyword"] = f"must be a valid regular expression: {exc}"
    return errors


@functools.lru_cache(maxsize=4096)
def _pattern(keyword: str, mode: str, case_sensitive: bool) -> re.Pattern[str]:
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.compile(keyword if mode == "regex" else re.escape(keyword), flags)


def _around(text: str, start: int, end: int, width: int = 40) -> str:
    before, after = text[max(0, start - width):start], text[end:end + width]
    return ("…" if start > width else "") + _short(before + text[start:end] + after, 2 * width + end - start) + (
        "…" if end + width < len(text) else "")


async def _keyword(config: Mapping[str, Any], timeout: float) -> CheckResult:
    fetched = await fetch(config, timeout)
    if isinstance(fetched, CheckResult):
        return fetched
    problem = status_problem(config, fetched)
    if problem:
        return problem
    keyword, mode = config["keyword"], config.get("mode", "contains")
    text = fetched.text
    match = _pattern(keyword, mode, bool(config.get("case_sensitive"))).search(text)
    what = f"Pattern /{keyword}/" if mode == "regex" else f"Keyword '{keyword}'"
    details = fetched.details()
    if mode == "not_contains":
        if match:
            return down(f"{what} found: “{_around(text, match.start(), match.end())}”", fetched.latency_ms,
                        **details)
        return up(f"{what} absent ({fetched.status})", fetched.latency_ms, **details)
    if not match:
        excerpt = _short(text, 120) or "(empty body)"
        return down(f"{what} not found in “{excerpt}”", fetched.latency_ms, **details)
    if mode == "regex":
        return up(f"{what} matched “{_short(match.group(0), 60)}” ({fetched.status})", fetched.latency_ms,
                  **details)
    return up(f"{what} found ({fetched.status})", fetched.latency_ms, **details)


# keyword and json-query read the body, so HEAD is not offered
_BODY_FIELDS = tuple(f for f in REQUEST_FIELDS if f.name != "method")
_METHOD_WITH_BODY = Field("method", "Method", "choice", default="GET",
                          choices=tuple(m for m in METHODS if m != "HEAD"))

register(Kind(
    name="keyword", label="Keyword", family="http", library="httpx",
    summary="UP when the response has an accepted status and its body contains the keyword (or, in "
            "not_contains mode, does not); DOWN otherwise, with an excerpt of the body.",
    fields=(
        _BODY_FIELDS[0], _METHOD_WITH_BODY,
        Field("keyword", "Keyword", required=True, placeholder="All systems operational",
              help="Text to look for in the response body (a regular expression in regex mode)."),
        Field("mode", "Mode", "choice", default="contains", choices=("contains", "not_contains", "regex"),
              help="contains: must appear; not_contains: must not appear; regex: the pattern must match."),
        Field("case_sensitive", "Case sensitive", "bool", default=False),
        *_BODY_FIELDS[1:],
    ),
    check=_keyword,
    validate=_validate_keyword,
    notes="""
Makes the same request as *HTTP(S)* (all its settings apply), then searches the decoded response body (its
first 4 MiB) for `keyword`:

- `contains` (default): DOWN "Keyword '…' not found in “<start of the body>”" when it is missing;
- `not_contains`: DOWN when it appears, with the text around it — e.g. watch for `"maintenance"` or `Error`;
- `regex`: `keyword` is a Python regular expression (checked when you save), UP when it matches somewhere.

Matching ignores case unless `case_sensitive` is on. The raw body is searched, so HTML tags and entities count
(`&amp;` is not `&`). The status code is judged first, as in *HTTP(S)*.
""" + _AUTH_NOTES + _TLS_NOTES + """
Example:

```json
{"url": "https://shop.example.com/", "keyword": "Add to cart", "mode": "contains", "case_sensitive": true}
```
""",
))


# ---------------------------------------------------------------------------------------------------------------
# json-query

COMPARATORS = ("==", "!=", "<", "<=", ">", ">=", "contains", "exists")


@functools.lru_cache(maxsize=4096)
def _jsonpath(expression: str) -> Any:
    return jsonpath_parse(expression)


@functools.lru_cache(maxsize=4096)
def _jmespath(expression: str) -> Any:
    return jmespath.compile(expression)


def _compile_error(language: str, expression: str) -> str | None:
    try:
        if language == "jmespath":
            _jmespath(expression)
        else:
            _jsonpath(expression)
    except Exception as exc:  # jsonpath-ng raises bare Exception on parse errors
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"must be a valid {'JMESPath' if language == 'jmespath' else 'JSONPath'} expression: {first}"
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return None if math.isnan(number) else number
    return None


def compare(actual: Any, comparator: str, expected: str) -> bool:
    """``actual <comparator> expected``: numerically when both are numbers, else on the text of ``actual``
    (JSON for non-strings: true, null, [1,2]). ``contains``: list element, object key or substring."""
    if comparator == "exists":
        return True
    if comparator == "contains":
        if isinstance(actual, list):
            return any(compare(item, "==", expected) for item in actual)
        if isinstance(actual, dict):
            return expected in actual
        return expected in _as_text(actual)
    a, b = _as_number(actual), _as_number(expected)
    if a is None or b is None:
        a, b = _as_text(actual), expected  # type: ignore[assignment]
    if comparator == "==":
        return a == b
    if comparator == "!=":
        return a != b
    try:
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[comparator]  # type: ignore[operator]
    except TypeError:
        return False


def _shown(value: Any, limit: int = 80) -> str:
    return _short(json.dumps(value, ensure_ascii=False), limit)


def _validate_json_query(clean: Mapping[str, Any]) -> dict[str, str]:
    errors = validate_request(clean)
    problem = _compile_error(clean.get("language", "jsonpath"), clean["expression"])
    if problem:
        errors["expression"] = problem
    if clean.get("comparator", "==") != "exists" and "expected" not in clean:
        errors["expected"] = f"is required for the comparator {clean.get('comparator', '==')}"
    return errors


async def _json_query(config: Mapping[str, Any], timeout: float) -> CheckResult:
    fetched = await fetch(config, timeout, extra_headers={"Accept": "application/json"})
    if isinstance(fetched, CheckResult):
        return fetched
    problem = status_problem(config, fetched)
    if problem:
        return problem
    details = fetched.details()
    try:
        data = json.loads(fetched.text)
    except ValueError:
        return down(f"Response is not JSON (starts with “{_short(fetched.text, 60)}”)", fetched.latency_ms,
                    **details)
    expression, comparator = config["expression"], config.get("comparator", "==")
    expected = config.get("expected", "")
    if config.get("language", "jsonpath") == "jmespath":
        value = _jmespath(expression).search(data)
        matches = [] if value is None else [value]
    else:
        matches = [m.value for m in _jsonpath(expression).find(data)]
    if not matches:
        return down(f"{expression} matched nothing in the response", fetched.latency_ms, **details)
    shown = _shown(matches[0] if len(matches) == 1 else matches)
    if comparator == "exists":
        return up(f"{expression} exists: {shown}", fetched.latency_ms, **details)
    want = f"{comparator} {expected}"
    if comparator == "contains" and len(matches) > 1:  # one matching value is enough
        if any(compare(m, comparator, expected) for m in matches):
            return up(f"{expression} = {shown} ({want})", fetched.latency_ms, **details)
        return down(f"{expression} = {shown}, expected {want}", fetched.latency_ms, **details)
    failing = [m for m in matches if not compare(m, comparator, expected)]  # every match must pass
    if not failing:
        return up(f"{expression} = {shown} ({want})", fetched.latency_ms, **details)
    which = "" if len(matches) == 1 else f" ({len(failing)} of {len(matches)} matches)"
    return down(f"{expression} = {_shown(failing[0])}{which}, expected {want}", fetched.latency_ms, **details)


register(Kind(
    name="json-query", label="JSON query", family="http", library="httpx, jsonpath-ng, jmespath",
    summary="UP when the JSON response has an accepted status and the value the expression selects passes "
            "the comparison; DOWN when it does not, the expression matches nothing, or the body is not JSON.",
    fields=(
        _BODY_FIELDS[0], _METHOD_WITH_BODY,
        Field("language", "Query language", "choice", default="jsonpath", choices=("jsonpath", "jmespath")),
        Field("expression", "Expression", required=True, placeholder="$.status",
              help="JSONPath like $.checks.database.status, or JMESPath like checks.database.status."),
        Field("comparator", "Comparison", "choice", default="==", choices=COMPARATORS),
        Field("expected", "Expected value", placeholder="ok",
              help="Compared as numbers when both sides are numbers, else as text. Not needed for exists."),
        *_BODY_FIELDS[1:],
    ),
    check=_json_query,
    validate=_validate_json_query,
    notes="""
Makes the same request as *HTTP(S)* (all its settings apply; `Accept: application/json` is sent unless you
set another), parses the body as JSON and selects a value with `expression`:

- `language: "jsonpath"` (default, jsonpath-ng with filters): `$.status`, `$.checks.db.latency_ms`,
  `$.services[*].status`, `$.items[?(@.name == "api")].state`. When the expression matches several values,
  **every** match must pass the comparison (so `$.services[*].status == ok` means all services are ok); with
  `contains`, one matching value is enough.
- `language: "jmespath"`: `checks.db.status`, `length(services[?status!='ok'])`. The result is one value.

`comparator` is one of `==`, `!=`, `<`, `<=`, `>`, `>=`, `contains` (an array holds the value, an object
has the key, or the text contains it) and `exists` (the expression matches something; `expected` is not
needed). Values are compared as numbers when both sides parse as numbers (`"3"` equals `3.0`); otherwise as
text, where JSON `true`, `false` and `null` read as `true`, `false` and `null`.

DOWN messages show what was found: `$.status = "degraded", expected == ok`. A body that is not JSON gives
"Response is not JSON". The expression is checked when you save the monitor.
""" + _AUTH_NOTES + _TLS_NOTES + """
Example:

```json
{"url": "https://api.example.com/health", "language": "jsonpath", "expression": "$.checks.database.status",
 "comparator": "==", "expected": "ok"}
```
""",
))


# ---------------------------------------------------------------------------------------------------------------
# graphql


def _validate_graphql(clean: Mapping[str, Any]) -> dict[str, str]:
    errors = validate_request(clean)
    variables = clean.get("variables")
    if variables is not None and not isinstance(variables, dict):
        errors["variables"] = 'must be a JSON object, like {"id": 1}'
    path = clean.get("expected_path")
    if path and path.startswith("$"):
        problem = _compile_error("jsonpath", path)
        if problem:
            errors["expected_path"] = problem
    elif path and any(not part for part in path.split(".")):
        errors["expected_path"] = 'must be a dotted path like "user.name" or a JSONPath like "$.user.name"'
    if "expected" in clean and not path:
        errors["expected_path"] = "is required when an expected value is given"
    return errors


def _at_path(data: Any, path: str) -> tuple[bool, Any]:
    """(found, value) of a dotted path ("user.items.0.id") or a JSONPath ("$.user.name") into ``data``."""
    if path.startswith("$"):
        matches = [m.value for m in _jsonpath(path).find(data)]
        if not matches:
            return False, None
        return True, matches[0] if len(matches) == 1 else matches
    value = data
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


async def _graphql(config: Mapping[str, Any], timeout: float) -> CheckResult:
    payload: dict[str, Any] = {"query": config["query"]}
    if config.get("variables"):
        payload["variables"] = config["variables"]
    if config.get("operation_name"):
        payload["operationName"] = config["operation_name"]
    fetched = await fetch(config, timeout, method="POST", content=json.dumps(payload).encode(), extra_headers={
        "Content-Type": "application/json", "Accept": "application/graphql-response+json, application/json"})
    if isinstance(fetched, CheckResult):
        return fetched
    details = fetched.details()
    try:
        answer = json.loads(fetched.text)
    except ValueError:
        problem = status_problem(config, fetched)
        return problem or down(f"Response is not JSON (starts with “{_short(fetched.text, 60)}”)",
                               fetched.latency_ms, **details)
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if errors:
        first = errors[0] if isinstance(errors, list) else errors
        text = first.get("message") if isinstance(first, dict) else None
        more = f" (and {len(errors) - 1} more)" if isinstance(errors, list) and len(errors) > 1 else ""
        return down(f"GraphQL error: {_short(str(text or first), 200)}{more}", fetched.latency_ms, **details)
    problem = status_problem(config, fetched)
    if problem:
        return problem
    data = answer.get("data") if isinstance(answer, dict) else None
    if data is None:
        return down("GraphQL response has no data", fetched.latency_ms, **details)
    path = config.get("expected_path")
    if not path:
        return up(f"{fetched.status}, no errors", fetched.latency_ms, **details)
    found, value = _at_path(data, path)
    if not found:
        return down(f"data.{path.lstrip('$.')} is missing from the response", fetched.latency_ms, **details)
    shown = _shown(value)
    if "expected" in config:
        if not compare(value, "==", config["expected"]):
            return down(f"{path} = {shown}, expected {config['expected']}", fetched.latency_ms, **details)
    elif value is None:
        return down(f"{path} is null", fetched.latency_ms, **details)
    return up(f"{path} = {shown}", fetched.latency_ms, **details)


_GRAPHQL_REQUEST_FIELDS = tuple(
    f for f in REQUEST_FIELDS if f.name not in ("url", "method", "body", "follow_redirects", "max_redirects"))

register(Kind(
    name="graphql", label="GraphQL", family="http", library="httpx",
    summary="UP when the GraphQL query answers without errors (and with the expected value, when one is set); "
            "DOWN on an `errors` array (showing the first message), a wrong value, or a failed request.",
    fields=(
        Field("url", "Endpoint URL", required=True, placeholder="https://api.example.com/graphql"),
        Field("query", "Query", "text", required=True, placeholder="{ health { status } }"),
        Field("variables", "Variables", "json", placeholder='{"id": 1}', help="A JSON object, or empty."),
        Field("operation_name", "Operation name", help="Which operation to run when the query has several."),
        Field("expected_path", "Value path", placeholder="health.status",
              help='Where to look in "data": a dotted path (items.0.id) or a JSONPath ($.health.status).'),
        Field("expected", "Expected value", placeholder="ok",
              help="Compared as numbers when both are numbers, else as text. Empty: the value must not be null."),
        *_GRAPHQL_REQUEST_FIELDS,
    ),
    check=_graphql,
    validate=_validate_graphql,
    notes="""
POSTs `{"query": …, "variables": …, "operationName": …}` as JSON to `url` (redirects are followed) and reads
the GraphQL response:

- an `errors` array makes it DOWN with the first error's message, e.g. `GraphQL error: Cannot query field
  "x" on type "Query" (and 1 more)` — even when the server answers 200 (GraphQL servers usually do);
- otherwise the status must be accepted (2xx by default) and `data` must not be null;
- with `expected_path`, the value there (relative to `data`: `health.status`, `items.0.id` or JSONPath
  `$.health.status`) must equal `expected` (numbers compare as numbers), or, when `expected` is empty,
  be present and not null.
""" + _AUTH_NOTES + _TLS_NOTES + """
Example:

```json
{"url": "https://api.example.com/graphql", "query": "query($id: ID!) { node(id: $id) { status } }",
 "variables": {"id": "42"}, "expected_path": "node.status", "expected": "ACTIVE",
 "auth": "bearer", "token": "s3cret"}
```
""",
))


# ---------------------------------------------------------------------------------------------------------------
# tls-certificate

_UNVERIFIED = client_context(False, purpose="probe")


async def _handshake(host: str, port: int, ctx: ssl.SSLContext, server_name: str, timeout: float) -> bytes:
    """The server's DER certificate after a TLS handshake with ``ctx``; raises on failure."""
    async with asyncio.timeout(timeout):
        _, writer = await asyncio.open_connection(host, port, ssl=ctx, server_hostname=server_name,
                                                  ssl_handshake_timeout=timeout)
    try:
        return writer.get_extra_info("ssl_object").getpeercert(binary_form=True) or b""
    finally:
        writer.transport.abort()


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


async def _tls_certificate(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, port = config["host"], config.get("port", 443)
    server_name = config.get("server_name") or host
    where = f"{host}:{port}"
    try:
        ctx = ssl_context(True, config.get("ca_file"), probe=True)
    except TLSSetupError as exc:
        return down(f"TLS setup failed: {exc}")
    started = time.perf_counter()
    verify_error: ssl.SSLCertVerificationError | None = None
    try:
        der = await _handshake(host, port, ctx, server_name, timeout)
    except ssl.SSLCertVerificationError as exc:
        verify_error = exc
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s waiting for the TLS handshake with {where}")
    except ssl.SSLError as exc:
        return down(f"TLS handshake with {where} failed: {describe_ssl_error(exc).removeprefix('TLS error: ')}")
    except ConnectionRefusedError:
        return down(f"Connection refused by {where}")
    except ConnectionResetError:
        return down(f"Connection reset by {where} during the TLS handshake")
    except socket.gaierror:
        return down(f"Cannot resolve host {host}")
    except OSError as exc:
        return down(f"Cannot connect to {where}: {exc.strerror or exc}")
    latency_ms = (time.perf_counter() - started) * 1000
    if verify_error is not None:
        # look again without verifying, to say when it expires and who issued it
        try:
            der = await _handshake(host, port, _UNVERIFIED, server_name, timeout)
            not_before, not_after, issuer = _cert_facts(der)
        except (OSError, TimeoutError, ValueError):
            return down(describe_ssl_error(verify_error), latency_ms)
        days = _days_left(not_after)
        code = verify_error.verify_code
        expiry = f"expires {_when(not_after)}"
        if code == _EXPIRED or not_after < datetime.now(UTC):
            message, expiry = f"Certificate expired on {_when(not_after)} ({_days(-days)} ago)", ""
        elif code == _NOT_YET_VALID:
            message = f"Certificate is not valid before {_when(not_before)}"
        elif code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
            message = f"Certificate does not match {server_name}: {_names(der)}"
        else:
            message = f"Certificate is not trusted: {verify_error.verify_message or verify_error.reason}"
        return down(f"{message}; issued by {issuer}" + (f", {expiry}" if expiry else ""), latency_ms,
                    cert_days_left=days, expires=not_after.isoformat(), issuer=issuer)
    try:
        _, not_after, issuer = _cert_facts(der)
    except ValueError as exc:
        return down(f"Cannot read the certificate of {where}: {exc}", latency_ms)
    days = _days_left(not_after)
    facts = {"cert_days_left": days, "expires": not_after.isoformat(), "issuer": issuer}
    warn_days = config.get("warn_days", 14)
    if days < warn_days:
        return degraded(f"Certificate expires in {_days(days)}, on {_when(not_after)}; issued by {issuer}",
                        latency_ms, **facts)
    return up(f"Certificate valid for {_days(days)}, until {_when(not_after)}; issued by {issuer}",
              latency_ms, **facts)


def _names(der: bytes) -> str:
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(n) for n in san.get_values_for_type(x509.DNSName)]
        names += [str(n) for n in san.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        names = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return "it is for " + (", ".join(names[:5]) + (" …" if len(names) > 5 else "") if names else "no names")


def _validate_tls_certificate(clean: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    host = clean.get("host", "")
    if "://" in host or "/" in host or " " in host:
        errors["host"] = "must be a host name or IP address, like example.com (no https:// or path)"
    if clean.get("ca_file"):
        try:
            ssl_context(True, clean["ca_file"], probe=True)
        except TLSSetupError as exc:
            errors[exc.field] = str(exc)
    return errors


register(Kind(
    name="tls-certificate", label="TLS certificate", family="http", library="ssl (asyncio)",
    summary="UP when the server's certificate is trusted, matches the host and is valid for more than "
            "warn_days; DEGRADED when it expires within warn_days; DOWN when expired, not yet valid, for "
            "another host, untrusted, or when the TLS handshake fails.",
    fields=(
        Field("host", "Host", required=True, placeholder="example.com"),
        Field("port", "Port", "int", default=443, min=1, max=65535),
        Field("server_name", "Server name (SNI)", placeholder="www.example.com",
              help="Name sent in the handshake and checked against the certificate; defaults to the host."),
        Field("warn_days", "Warn days before expiry", "int", default=14, min=0, max=3650),
        Field("ca_file", "CA bundle file", placeholder="/etc/beacon/private-ca.pem",
              help="PEM file of extra certificate authorities to trust, for private CAs."),
    ),
    check=_tls_certificate,
    validate=_validate_tls_certificate,
    notes="""
Opens a TLS connection to `host:port` (any TLS service: HTTPS, SMTPS, IMAPS, LDAPS, a database port that
starts with TLS…), verifies the certificate chain and the name, and reads the expiry date. Nothing is sent
after the handshake.

- DEGRADED when fewer than `warn_days` days are left (default 14; `0` never warns): renew soon.
- DOWN when the certificate has expired, is not yet valid, is for another name, or is not signed by a trusted
  CA (the public CAs from certifi, plus `ca_file` for a private CA); also when the handshake fails or times
  out.

`server_name` is the name sent as SNI and checked against the certificate — set it when `host` is an IP
address or a load balancer that serves several sites. Messages show the expiry date and the issuer, e.g.
"Certificate valid for 63 days, until 2025-09-01 12:00 UTC; issued by R11", and `cert_days_left` is recorded
(negative once expired) for charts and alerts.

Example:

```json
{"host": "example.com", "port": 443, "warn_days": 21}
```
""",
))

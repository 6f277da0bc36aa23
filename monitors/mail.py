"""The mail family: an SMTP server (banner, EHLO, STARTTLS, AUTH) and an IMAP mailbox (login and SELECT)."""

from __future__ import annotations

import functools
import imaplib
import socket
import ssl
import time
from collections.abc import Mapping
from typing import Any

import aiosmtplib

from monitors.base import CheckResult, Field, Kind, down, in_thread, up
from monitors.registry import register
from monitors.tls import client_context

SECURITY = ("none", "starttls", "tls")


@functools.cache
def _local_hostname() -> str:
    """The name sent in EHLO: this machine's host name (no DNS lookup)."""
    return socket.gethostname() or "localhost"


def _context(config: Mapping[str, Any]) -> ssl.SSLContext | None:
    if config["security"] == "none":
        return None
    return client_context(config["verify_tls"], config.get("ca_file") or None)


def _oneline(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tls_error(exc: BaseException) -> str | None:
    text = str(exc)
    if isinstance(exc, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
        reason = getattr(exc, "verify_message", None) or text
        return f"TLS certificate not trusted: {_oneline(reason)}"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed: {_oneline(text)}"
    return None


def _validate_mail(clean: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if clean.get("ca_file") and not clean["ca_file"].startswith("/"):
        errors["ca_file"] = "must be an absolute file path"
    if clean.get("password") and not clean.get("username"):
        errors["username"] = "is required when a password is given"
    return errors


# ------------------------------------------------------------------------------------------------------ smtp

async def _smtp(config: Mapping[str, Any], timeout: float) -> CheckResult:
    host, port, security = config["host"], config["port"], config["security"]
    ctx = _context(config)
    client = aiosmtplib.SMTP(hostname=host, port=port, timeout=timeout, use_tls=security == "tls",
                             start_tls=False, tls_context=ctx if security == "tls" else None,
                             local_hostname=_local_hostname())
    steps: list[str] = []
    started = time.perf_counter()
    try:
        banner = await client.connect()
        if banner.code != 220:
            return down(f"Server refused the session: {banner.code} {_oneline(banner.message)}")
        banner_text = _oneline(banner.message, 120)
        expected = config.get("expected_banner")
        if expected and expected not in banner.message:
            return down(f"Banner does not contain {expected!r}: {banner.code} {banner_text}")
        await client.ehlo()
        if security == "starttls":
            if not client.supports_extension("starttls"):
                return down("Server does not offer STARTTLS")
            await client.starttls(tls_context=ctx, server_hostname=host)
            await client.ehlo()
            steps.append("STARTTLS")
        elif security == "tls":
            steps.append("TLS")
        if config.get("username"):
            if not client.supports_extension("auth"):
                return down("Server does not offer AUTH" + (" before STARTTLS" if security == "none" else ""))
            await client.login(config["username"], config.get("password") or "")
            steps.append(f"logged in as {config['username']}")
        latency = (time.perf_counter() - started) * 1000
        try:
            await client.quit()
        except aiosmtplib.SMTPException:
            pass  # the checks passed; a server that drops the line at QUIT is not down
    except aiosmtplib.SMTPAuthenticationError as exc:
        return down(f"Authentication failed: {exc.code} {_oneline(exc.message)}")
    except aiosmtplib.SMTPTimeoutError:
        return down(f"Timed out after {timeout:g} s ({' → '.join(['connect', *steps]) if steps else 'connect'})")
    except aiosmtplib.SMTPResponseException as exc:
        return down(f"Server answered {exc.code} {_oneline(exc.message)}")
    except (aiosmtplib.SMTPException, OSError) as exc:
        cause = exc.__cause__ or exc.__context__
        tls = _tls_error(exc) or (_tls_error(cause) if cause else None)
        if tls:
            return down(tls)
        if isinstance(exc, aiosmtplib.SMTPConnectError | ConnectionRefusedError):
            return down(f"Cannot connect to {host}:{port}: {_oneline(str(exc))}")
        return down(_oneline(str(exc)) or type(exc).__name__)
    finally:
        client.close()
    suffix = f" ({', '.join(steps)})" if steps else ""
    return up(f"{banner.code} {banner_text}{suffix}", latency, banner=banner_text)


register(Kind(
    name="smtp", label="SMTP server", family="mail", library="aiosmtplib",
    summary="UP when the server greets with 220, answers EHLO, and — when asked — upgrades to TLS and accepts the "
            "login; DOWN on a refused connection, a wrong banner, a failed TLS handshake or certificate, rejected "
            "credentials, or a timeout. No mail is sent.",
    fields=(
        Field("host", "Host", required=True, placeholder="mail.example.com"),
        Field("port", "Port", "int", default=25, min=1, max=65535,
              help="25 (relay), 587 (submission, with STARTTLS) or 465 (submission over TLS)."),
        Field("security", "Security", "choice", default="none", choices=SECURITY,
              help="none: plain SMTP; starttls: upgrade with STARTTLS after EHLO (port 587/25); tls: TLS from the "
                   "first byte (port 465)."),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True),
        Field("ca_file", "CA certificate file", help="For a server with a private CA."),
        Field("username", "Username", help="When set, the check also logs in (AUTH PLAIN/LOGIN)."),
        Field("password", "Password", "secret"),
        Field("expected_banner", "Expected banner text", placeholder="ESMTP Postfix",
              help="Text the 220 greeting must contain (case-sensitive)."),
    ),
    check=_smtp, validate=_validate_mail,
    notes="""\
Connects, reads the greeting, says `EHLO`, optionally upgrades with `STARTTLS`, optionally logs in, then
says `QUIT`. It never sends a message, so it does not test delivery (use a push monitor fed by a mail
round-trip for that).

- Port 25 servers often sit behind greylisting or rate limits that do not mind this check; some drop
  connections from addresses without reverse DNS — run Beacon where your mail clients run.
- With `security` `starttls`, a server that stops offering STARTTLS is DOWN: this catches a TLS
  misconfiguration that would make clients fall back or fail.
- Logging in needs TLS on most servers (`AUTH` is only offered after STARTTLS).

```json
{"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "monitor@example.com",
 "password": "…", "expected_banner": "ESMTP"}
```
""",
))


# ------------------------------------------------------------------------------------------------------ imap

def _imap_text(data: Any) -> str:
    parts = data if isinstance(data, list | tuple) else [data]
    return _oneline(" ".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else str(p)
                             for p in parts if p is not None))


def _imap_error(exc: Exception) -> str:
    """imaplib's error text, without the b'...' it wraps server replies in."""
    text = str(exc)
    if len(text) > 3 and text[0] == "b" and text[1] in "'\"" and text[-1] == text[1]:
        text = text[2:-1]
    return _oneline(text)


def _quote_mailbox(name: str) -> str:
    if name.startswith('"') and name.endswith('"') and len(name) > 1:
        return name
    if name and all(c.isalnum() or c in "._-/" for c in name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _imap_blocking(config: Mapping[str, Any], timeout: float, ctx: ssl.SSLContext | None) -> CheckResult:
    host, port, security = config["host"], config["port"], config["security"]
    started = time.perf_counter()
    try:
        if security == "tls":
            conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(host, port, ssl_context=ctx, timeout=timeout)
        else:
            conn = imaplib.IMAP4(host, port, timeout=timeout)
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s waiting for the greeting")
    except ConnectionRefusedError:
        return down(f"Connection refused by {host}:{port}")
    except imaplib.IMAP4.abort as exc:
        return down(f"Server closed the connection: {_imap_error(exc)}")
    except imaplib.IMAP4.error as exc:
        return down(f"Not an IMAP server? {_imap_error(exc)}")
    except OSError as exc:
        return down(_tls_error(exc) or f"Cannot connect to {host}:{port}: {_imap_error(exc)}")
    step = "greeting"
    try:
        if security == "starttls":
            step = "STARTTLS"
            if "STARTTLS" not in conn.capabilities:
                return down("Server does not offer STARTTLS")
            conn.starttls(ctx)
        step = "login"
        try:
            conn.login(config["username"], config["password"])
        except imaplib.IMAP4.error as exc:
            return down(f"Login failed: {_imap_error(exc)}")
        step = "SELECT"
        mailbox = config["mailbox"]
        typ, data = conn.select(_quote_mailbox(mailbox), readonly=True)
        if typ != "OK":
            return down(f"Cannot open mailbox {mailbox!r}: {_imap_text(data)}")
        latency = (time.perf_counter() - started) * 1000
        try:
            messages = int(data[0]) if data and data[0] is not None else None
        except (TypeError, ValueError):
            messages = None
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
        if messages is None:
            return up(f"Logged in, {mailbox} selected", latency)
        return up(f"Logged in, {mailbox} has {messages} message{'s' if messages != 1 else ''}", latency,
                  messages=messages)
    except TimeoutError:
        return down(f"Timed out after {timeout:g} s ({step})")
    except imaplib.IMAP4.abort as exc:
        return down(f"Server closed the connection during {step}: {_imap_error(exc)}")
    except imaplib.IMAP4.error as exc:
        return down(f"{step} failed: {_imap_error(exc)}")
    except OSError as exc:
        return down(_tls_error(exc) or f"{step} failed: {_imap_error(exc)}")
    finally:
        try:
            conn.shutdown()
        except OSError:
            pass


async def _imap(config: Mapping[str, Any], timeout: float) -> CheckResult:
    return await in_thread(_imap_blocking, config, timeout, _context(config))


register(Kind(
    name="imap", label="IMAP mailbox", family="mail", library="imaplib (standard library, in a thread)",
    summary="UP when the server logs the user in and opens the mailbox; DOWN on a refused connection, a failed "
            "TLS handshake or certificate, rejected credentials, a missing mailbox, or a timeout.",
    fields=(
        Field("host", "Host", required=True, placeholder="imap.example.com"),
        Field("port", "Port", "int", default=993, min=1, max=65535,
              help="993 for IMAP over TLS, 143 for plain IMAP or STARTTLS."),
        Field("security", "Security", "choice", default="tls", choices=SECURITY,
              help="tls: TLS from the first byte (993); starttls: upgrade on 143; none: no encryption."),
        Field("verify_tls", "Verify TLS certificate", "bool", default=True),
        Field("ca_file", "CA certificate file", help="For a server with a private CA."),
        Field("username", "Username", required=True, placeholder="monitor@example.com"),
        Field("password", "Password", "secret", required=True),
        Field("mailbox", "Mailbox", default="INBOX", help="The folder to open (read-only)."),
    ),
    check=_imap, validate=_validate_mail,
    notes="""\
Logs in with `LOGIN`, opens the mailbox with `EXAMINE` (read-only: nothing is marked as read) and logs out.
The message count is kept in the result's details.

Use a dedicated account: repeated logins show up in the server's logs, and a wrong password checked every
minute may trigger the server's brute-force protection against Beacon's address (fail2ban; Dovecot also delays
its answers to an address after failed logins, up to 15 s, so a wrong password can show as a timeout). Folder names are
sent as typed; non-ASCII names must be given in IMAP's modified UTF-7 (`Entw&APw-rfe` for "Entwürfe").

```json
{"host": "imap.example.com", "port": 993, "security": "tls", "username": "monitor@example.com",
 "password": "…", "mailbox": "INBOX"}
```
""",
))

"""Sending one delivery to one channel. Each kind validates its config and builds its request; a failure raises
``DeliveryError`` with a message for the deliveries screen, and the outbox retries it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx

from app.notify.payloads import signature
from monitors.tls import client_context

TIMEOUT_SECONDS = 10.0
USER_AGENT = "Beacon/0.1 (notifications)"


class DeliveryError(Exception):
    """The channel did not accept the delivery; the message says why (status code, connection error, …)."""


@dataclass(frozen=True, slots=True)
class Request:
    url: str
    body: bytes
    headers: dict[str, str]


def _url_problem(value: Any) -> str | None:
    text = str(value or "").strip()
    if not text.lower().startswith(("http://", "https://")):
        return "Enter an http:// or https:// address."
    return None


EMAIL_SECURITY = ("starttls", "tls", "none")


def _address_problem(value: Any) -> str | None:
    text = str(value or "").strip()
    if "@" not in text or any(c in text for c in "\r\n,; <>"):
        return f"'{text}' is not an e-mail address."
    return None


def _validate_email(config: Mapping[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not str(config.get("host") or "").strip():
        errors["config.host"] = "Enter the SMTP server's host name."
    port = config.get("port", 587)
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        errors["config.port"] = "The port is a number from 1 to 65535."
    if config.get("security", "starttls") not in EMAIL_SECURITY:
        errors["config.security"] = "Use starttls, tls or none."
    if problem := _address_problem(config.get("from_address")):
        errors["config.from_address"] = problem
    recipients = config.get("to")
    if not isinstance(recipients, list) or not recipients:
        errors["config.to"] = "Give at least one recipient."
    elif problems := [p for p in map(_address_problem, recipients) if p]:
        errors["config.to"] = problems[0]
    return errors


def _validate_apprise(config: Mapping[str, Any]) -> dict[str, str]:
    import apprise

    urls = config.get("urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u.strip() for u in urls):
        return {"config.urls": "Give at least one Apprise URL, e.g. slack://…, tgram://…, ntfy://…"}
    for url in urls:
        if apprise.Apprise.instantiate(url.strip()) is None:
            return {"config.urls": f"Apprise does not understand '{url.split('://')[0]}://…'; see its list of "
                                   "services."}
    return {}


def validate(kind: str, config: Mapping[str, Any]) -> dict[str, str]:
    """{field: message} for a channel's config; empty when it is usable."""
    if kind not in KINDS:
        return {"kind": f"Unknown channel kind '{kind}'; use one of {', '.join(sorted(KINDS))}."}
    if kind == "email":
        return _validate_email(config)
    if kind == "apprise":
        return _validate_apprise(config)
    errors: dict[str, str] = {}
    if problem := _url_problem(config.get("url")):
        errors["config.url"] = problem
    headers = config.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                   for k, v in headers.items()):
        errors["config.headers"] = "Give headers as an object of names and text values."
    return errors


def webhook_request(config: Mapping[str, Any], event: str, payload: Mapping[str, Any], delivery_id: int) -> Request:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {**(config.get("headers") or {}), "Content-Type": "application/json", "User-Agent": USER_AGENT,
               "X-Beacon-Event": event, "X-Beacon-Delivery": str(delivery_id)}
    if config.get("secret"):
        headers["X-Beacon-Signature"] = signature(config["secret"], body)
    return Request(config["url"], body, headers)


def discord_request(config: Mapping[str, Any], event: str, payload: Mapping[str, Any], delivery_id: int) -> Request:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Request(config["url"], body, {"Content-Type": "application/json", "User-Agent": USER_AGENT})


KINDS: dict[str, Callable[[Mapping[str, Any], str, Mapping[str, Any], int], Request] | None] = {
    "webhook": webhook_request,
    "discord": discord_request,
    "email": None,  # not HTTP: _send_email
    "apprise": None,  # through the apprise library: _send_apprise
}


def email_message(config: Mapping[str, Any], payload: Mapping[str, Any]) -> EmailMessage:
    """The e-mail of a delivery (``payload``: subject, text, html[, unsubscribe]) as multipart/alternative."""
    message = EmailMessage()
    message["From"] = config["from_address"]
    message["To"] = ", ".join(config["to"])
    message["Subject"] = payload["subject"]
    if payload.get("unsubscribe"):
        message["List-Unsubscribe"] = f"<{payload['unsubscribe']}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(payload["text"])
    message.add_alternative(payload["html"], subtype="html")
    return message


async def _send_apprise(config: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
    """Any Apprise service (Slack, Teams, Telegram, ntfy, Gotify, Pushover, Matrix, …), through the library. Its
    own HTTP calls are bounded by its per-service timeouts; ours bounds the whole."""
    import apprise

    sender = apprise.Apprise()
    for url in config["urls"]:
        sender.add(url.strip())
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS * 2):
            ok = await sender.async_notify(title=payload["subject"], body=payload["text"])
    except TimeoutError:
        raise DeliveryError(f"No answer within {TIMEOUT_SECONDS * 2:g} s") from None
    if not ok:
        raise DeliveryError("Apprise could not deliver to every URL (see the server log for which one)")


async def _send_email(config: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
    security = config.get("security", "starttls")
    tls = client_context(bool(config.get("verify_tls", True)), config.get("ca_file") or None)
    try:
        await aiosmtplib.send(
            email_message(config, payload), hostname=config["host"], port=int(config.get("port", 587)),
            username=config.get("username") or None, password=config.get("password") or None,
            use_tls=security == "tls", start_tls=True if security == "starttls" else False,
            tls_context=tls if security != "none" else None, timeout=TIMEOUT_SECONDS)
    except aiosmtplib.SMTPException as exc:
        raise DeliveryError(f"SMTP: {exc}") from None
    except (OSError, TimeoutError) as exc:
        raise DeliveryError(f"Could not reach {config['host']}: {exc or type(exc).__name__}") from None

_client: httpx.AsyncClient | None = None


def _http() -> httpx.AsyncClient:
    global _client
    if _client is None or _client.is_closed:
        _client = httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT_SECONDS), follow_redirects=False)
    return _client


async def send(kind: str, config: Mapping[str, Any], event: str, payload: Mapping[str, Any], delivery_id: int
               ) -> None:
    """Send the delivery: e-mail over SMTP, the others as an HTTP POST; any refusal, any answer but 2xx, or no
    answer within the timeout raises ``DeliveryError``."""
    build = KINDS[kind]
    if kind == "apprise":
        await _send_apprise(config, payload)
        return
    if build is None:
        await _send_email(config, payload)
        return
    request = build(config, event, payload, delivery_id)
    try:
        response = await _http().post(request.url, content=request.body, headers=request.headers)
    except httpx.TimeoutException:
        raise DeliveryError(f"No answer within {TIMEOUT_SECONDS:g} s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"Could not connect: {exc or type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        text = " ".join(response.text.split())[:200]
        raise DeliveryError(f"HTTP {response.status_code}{': ' + text if text else ''}")

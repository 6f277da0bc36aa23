"""Sending one delivery to one channel. Each kind validates its config and builds its request; a failure raises
``DeliveryError`` with a message for the deliveries screen, and the outbox retries it."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from app.notify.payloads import signature

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


def validate(kind: str, config: Mapping[str, Any]) -> dict[str, str]:
    """{field: message} for a channel's config; empty when it is usable."""
    if kind not in KINDS:
        return {"kind": f"Unknown channel kind '{kind}'; use one of {', '.join(sorted(KINDS))}."}
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


KINDS: dict[str, Callable[[Mapping[str, Any], str, Mapping[str, Any], int], Request]] = {
    "webhook": webhook_request,
    "discord": discord_request,
}

_client: httpx.AsyncClient | None = None


def _http() -> httpx.AsyncClient:
    global _client
    if _client is None or _client.is_closed:
        _client = httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT_SECONDS), follow_redirects=False)
    return _client


async def send(kind: str, config: Mapping[str, Any], event: str, payload: Mapping[str, Any], delivery_id: int
               ) -> None:
    """POST the delivery; any answer but 2xx, or no answer within the timeout, raises ``DeliveryError``."""
    request = KINDS[kind](config, event, payload, delivery_id)
    try:
        response = await _http().post(request.url, content=request.body, headers=request.headers)
    except httpx.TimeoutException:
        raise DeliveryError(f"No answer within {TIMEOUT_SECONDS:g} s") from None
    except httpx.HTTPError as exc:
        raise DeliveryError(f"Could not connect: {exc or type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        text = " ".join(response.text.split())[:200]
        raise DeliveryError(f"HTTP {response.status_code}{': ' + text if text else ''}")

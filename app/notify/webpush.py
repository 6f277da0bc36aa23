"""Browser notifications over Web Push: the server's VAPID key, checking a browser's subscription, and sending one
encrypted message (RFC 8291 aes128gcm, RFC 8292 VAPID) to its push service through pywebpush."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, VapidException
from pywebpush import WebPushException, webpush_async

from app.notify.channels import DeliveryError

KEY_FILE = "vapid_private.pem"
URGENCIES = ("very-low", "low", "normal", "high")
# RFC 8292 allows up to 24 h; 12 h leaves room for a push service whose clock runs ahead of ours
TOKEN_LIFETIME_SECONDS = 12 * 3600
MAX_ENDPOINT_LENGTH = 2048
# plain http only for a push service on this machine (tests); a real one is always https
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class Vapid:
    private_pem: bytes  # PKCS8 PEM of the P-256 private key
    public_key: str  # base64url, unpadded, of the uncompressed point: the browser's applicationServerKey


class SubscriptionGone(DeliveryError):
    """The push service answered 404 or 410: the browser unsubscribed; the caller removes the subscription."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    # strict: the lenient decoder drops stray characters and would accept garbage
    return base64.b64decode(text.translate(str.maketrans("-_", "+/")) + "=" * (-len(text) % 4), validate=True)


def _vapid_of(key: ec.EllipticCurvePrivateKey) -> Vapid:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return Vapid(pem, _b64url(point))


def _load_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not a P-256 (prime256v1) key")
    return key


def load_or_create_vapid(data_dir: Path) -> Vapid:
    """The server's VAPID key from ``data_dir/vapid_private.pem``, created on first start. Browsers subscribe with
    its public half, so replacing the file silently ends every existing subscription."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = _vapid_of(ec.generate_private_key(ec.SECP256R1())).private_pem
        temp = path.with_name(f".{KEY_FILE}.{os.getpid()}.tmp")
        # a reader never sees half a key, and the key is never readable by others, not even for a moment
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    try:
        return _vapid_of(_load_key(path.read_bytes()))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path} is not a VAPID private key (PKCS8 PEM of a P-256 key): {exc}. Move it away to "
                         "create a new key; browsers subscribed with the old one must then subscribe again.") from None


def _endpoint_problem(endpoint: Any) -> str | None:
    if not isinstance(endpoint, str) or not endpoint:
        return "The subscription has no push service address (endpoint)."
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        return f"The push service address is longer than {MAX_ENDPOINT_LENGTH} characters."
    try:
        url = urlsplit(endpoint)
        host, _port = url.hostname, url.port  # .port raises ValueError when it is not a number
    except ValueError:
        return "The push service address is not a valid URL."
    if not host:
        return "The push service address has no host."
    if url.scheme == "https" or (url.scheme == "http" and host in LOOPBACK_HOSTS):
        return None
    return "The push service address must start with https://."


def _key_problem(value: Any, name: str, length: int) -> str | None:
    if not isinstance(value, str) or not value:
        return f"The subscription has no {name} key."
    try:
        raw = _unb64url(value)
    except (binascii.Error, ValueError):
        return f"The {name} key is not base64url."
    if len(raw) != length:
        return f"The {name} key must be {length} bytes, not {len(raw)}."
    if name == "p256dh":
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        except ValueError:
            return "The p256dh key is not an uncompressed P-256 public key."
    return None


def validate_subscription(data: Any) -> dict[str, str]:
    """{field: message} problems of a browser's ``PushSubscription.toJSON()`` ({endpoint, keys: {p256dh, auth}});
    empty when it can be sent to."""
    if not isinstance(data, Mapping):
        return {"subscription": "Send the browser's subscription as an object with endpoint and keys."}
    errors: dict[str, str] = {}
    if problem := _endpoint_problem(data.get("endpoint")):
        errors["endpoint"] = problem
    keys = data.get("keys")
    if not isinstance(keys, Mapping):
        errors["keys"] = "The subscription has no keys (p256dh and auth)."
        return errors
    for name, length in (("p256dh", 65), ("auth", 16)):
        if problem := _key_problem(keys.get(name), name, length):
            errors[f"keys.{name}"] = problem
    return errors


@functools.lru_cache(maxsize=4)
def _signer(private_pem: bytes) -> Vapid02:
    return Vapid02(_load_key(private_pem))


def _origin(endpoint: str) -> str:
    url = urlsplit(endpoint)
    return f"{url.scheme}://{url.netloc.rpartition('@')[2]}".lower()


async def send(subscription: Mapping[str, Any], message: Mapping[str, Any], *, vapid: Vapid, subject: str,
               ttl: int = 86400, timeout: float = 10.0, urgency: str = "normal") -> None:
    """Encrypt ``message`` as JSON for the subscription and POST it to its push service. Raises
    ``SubscriptionGone`` on 404/410 and ``DeliveryError`` on any other refusal, no connection or no answer."""
    if urgency not in URGENCIES:
        raise ValueError(f"urgency must be one of {', '.join(URGENCIES)}, not {urgency!r}")
    endpoint = str(subscription.get("endpoint") or "")
    claims: dict[str, str | int] = {"sub": subject, "aud": _origin(endpoint),
                                    "exp": int(time.time()) + TOKEN_LIFETIME_SECONDS}
    data = json.dumps(message, separators=(",", ":"), ensure_ascii=False)
    try:
        # pywebpush's own timeout bounds the HTTP exchange; ours also bounds whatever else it awaits
        async with asyncio.timeout(timeout):
            await webpush_async(dict(subscription), data, vapid_private_key=_signer(vapid.private_pem),
                                vapid_claims=claims, ttl=ttl, timeout=timeout, headers={"Urgency": urgency})
    except TimeoutError:
        raise DeliveryError(f"No answer within {timeout:g} s") from None
    except WebPushException as exc:
        status = exc.status_code
        if status is None:  # refused before sending: the subscription's keys are unusable
            raise DeliveryError(f"Web Push: {exc.message}") from None
        if 200 <= status < 300:  # pywebpush refuses anything above 202; any 2xx is an accepted message
            return
        text = " ".join((await exc.response.text()).split())[:200]
        error = SubscriptionGone if status in (404, 410) else DeliveryError
        raise error(f"HTTP {status}{': ' + text if text else ''}") from None
    except VapidException as exc:
        raise DeliveryError(f"VAPID: {exc}") from None
    except aiohttp.ClientError as exc:
        raise DeliveryError(f"Could not connect: {exc or type(exc).__name__}") from None
    except ValueError as exc:  # after aiohttp's InvalidURL, which is a ValueError too
        raise DeliveryError(f"The subscription's keys are unusable: {exc}") from None

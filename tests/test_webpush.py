"""Web Push delivery against a real push service on 127.0.0.1: the test plays both the push service (recording the
request) and the browser (holding the subscription's private key, decrypting what arrived)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import http_ece
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid.jwt import decode as decode_jwt

from app.notify.channels import DeliveryError
from app.notify.webpush import (
    SubscriptionGone,
    Vapid,
    load_or_create_vapid,
    send,
    validate_subscription,
)
from tests.receivers import PushService, b64url, browser, unb64url  # noqa: F401

TEMPLATES = Path(__file__).resolve().parents[1] / "app" / "templates"
SUBJECT = "mailto:ops@example.com"
MESSAGE = {"title": "Acme: API is down", "body": "Since 12:03 — we are on it ✓", "url": "https://status.acme.test/",
           "tag": "acme-1"}


@pytest.fixture
def vapid(tmp_path: Path) -> Vapid:
    return load_or_create_vapid(tmp_path)


# --- sending ---------------------------------------------------------------------------------------------------


async def test_the_browser_decrypts_exactly_the_message_and_the_vapid_token_verifies(push_service, vapid):
    subscriber = browser(f"{push_service.origin}/push/abc")

    await send(subscriber.subscription, MESSAGE, vapid=vapid, subject=SUBJECT, ttl=3600, urgency="high")

    [(path, headers, body)] = push_service.requests
    assert path == "/push/abc"
    assert headers["Content-Encoding"] == "aes128gcm"
    assert headers["TTL"] == "3600"
    assert headers["Urgency"] == "high"
    plain = http_ece.decrypt(body, private_key=subscriber.key, auth_secret=subscriber.auth, version="aes128gcm")
    assert json.loads(plain) == MESSAGE

    scheme, _, params = headers["Authorization"].partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == vapid.public_key
    claims = decode_jwt(parts["t"], vapid.public_key)  # raises InvalidSignature unless ES256 by our key
    assert claims["aud"] == push_service.origin
    assert claims["sub"] == SUBJECT
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600


async def test_the_token_is_signed_by_the_key_in_the_pem_not_just_any_key(push_service, vapid):
    subscriber = browser(f"{push_service.origin}/push/abc")
    await send(subscriber.subscription, MESSAGE, vapid=vapid, subject=SUBJECT)
    token = push_service.requests[0][1]["Authorization"].split("t=", 1)[1].split(",", 1)[0]
    stranger = b64url(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
    with pytest.raises(InvalidSignature):
        decode_jwt(token, stranger)
    assert push_service.requests[0][1]["TTL"] == "86400"
    assert push_service.requests[0][1]["Urgency"] == "normal"


@pytest.mark.parametrize("status", [404, 410])
async def test_a_gone_subscription_raises_subscription_gone(push_service, vapid, status):
    push_service.answer, push_service.body = status, "push subscription has unsubscribed or expired."
    with pytest.raises(SubscriptionGone, match=f"HTTP {status}: push subscription has unsubscribed"):
        await send(browser(f"{push_service.origin}/push/abc").subscription, MESSAGE, vapid=vapid, subject=SUBJECT)


async def test_a_server_error_is_a_delivery_error_with_its_status_not_gone(push_service, vapid):
    push_service.answer, push_service.body = 500, "Internal\n  trouble"
    with pytest.raises(DeliveryError, match="HTTP 500: Internal trouble") as raised:
        await send(browser(f"{push_service.origin}/push/abc").subscription, MESSAGE, vapid=vapid, subject=SUBJECT)
    assert not isinstance(raised.value, SubscriptionGone)


async def test_any_2xx_is_accepted(push_service, vapid):
    push_service.answer = 204
    await send(browser(f"{push_service.origin}/push/abc").subscription, MESSAGE, vapid=vapid, subject=SUBJECT)
    assert len(push_service.requests) == 1


async def test_a_push_service_that_never_answers_is_a_delivery_error_within_the_timeout(push_service, vapid):
    push_service.answer = "never"
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="No answer within 1 s"):
        await send(browser(f"{push_service.origin}/push/abc").subscription, MESSAGE, vapid=vapid, subject=SUBJECT,
                   timeout=1)
    assert time.monotonic() - started < 1 + 2
    assert len(push_service.requests) == 1, "the request reached the push service, which then kept silent"


async def test_a_silent_tcp_peer_is_a_delivery_error_within_the_timeout(hung_port, vapid):
    started = time.monotonic()
    with pytest.raises(DeliveryError, match="No answer within 1 s"):
        await send(browser(f"http://127.0.0.1:{hung_port}/push/abc").subscription, MESSAGE, vapid=vapid,
                   subject=SUBJECT, timeout=1)
    assert time.monotonic() - started < 1 + 2


async def test_the_event_loop_keeps_running_while_the_push_service_is_silent(push_service, vapid):
    push_service.answer = "never"
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        with pytest.raises(DeliveryError):
            await send(browser(f"{push_service.origin}/push/abc").subscription, MESSAGE, vapid=vapid,
                       subject=SUBJECT, timeout=1)
    finally:
        ticker.cancel()
    assert ticks >= 10


async def test_a_refused_connection_is_a_delivery_error(closed_port, vapid):
    with pytest.raises(DeliveryError, match="Could not connect") as raised:
        await send(browser(f"http://127.0.0.1:{closed_port}/push/abc").subscription, MESSAGE, vapid=vapid,
                   subject=SUBJECT, timeout=2)
    assert not isinstance(raised.value, SubscriptionGone)


async def test_a_subscription_without_keys_is_a_delivery_error_and_nothing_is_sent(push_service, vapid):
    with pytest.raises(DeliveryError):
        await send({"endpoint": f"{push_service.origin}/push/abc"}, MESSAGE, vapid=vapid, subject=SUBJECT)
    assert push_service.requests == []


async def test_a_bad_subject_is_a_delivery_error(push_service, vapid):
    with pytest.raises(DeliveryError, match="VAPID"):
        await send(browser(f"{push_service.origin}/push/abc").subscription, MESSAGE, vapid=vapid, subject="ops")
    assert push_service.requests == []


async def test_an_unknown_urgency_is_refused(push_service, vapid):
    with pytest.raises(ValueError, match="urgency"):
        await send(browser(f"{push_service.origin}/push/abc").subscription, MESSAGE, vapid=vapid, subject=SUBJECT,
                   urgency="urgent")


# --- the VAPID key ---------------------------------------------------------------------------------------------


def test_the_key_is_created_private_and_then_reused(tmp_path):
    first = load_or_create_vapid(tmp_path)
    path = tmp_path / "vapid_private.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == first.private_pem
    assert first.private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8
    raw = unb64url(first.public_key)
    assert len(raw) == 65 and raw[0] == 0x04
    assert "=" not in first.public_key

    again = load_or_create_vapid(tmp_path)
    assert again == first
    assert [p.name for p in tmp_path.iterdir()] == ["vapid_private.pem"], "no temporary file is left behind"


def test_the_public_key_is_the_private_keys_own(tmp_path):
    vapid = load_or_create_vapid(tmp_path)
    key = serialization.load_pem_private_key(vapid.private_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert b64url(point) == vapid.public_key


def test_the_key_folder_is_created_when_missing(tmp_path):
    vapid = load_or_create_vapid(tmp_path / "new" / "data")
    assert (tmp_path / "new" / "data" / "vapid_private.pem").read_bytes() == vapid.private_pem


@pytest.mark.parametrize("content", [b"garbage", b"", b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                     b"-----BEGIN PRIVATE KEY-----\n"])
def test_a_corrupt_key_file_names_the_file(tmp_path, content):
    path = tmp_path / "vapid_private.pem"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="vapid_private.pem") as raised:
        load_or_create_vapid(tmp_path)
    assert str(path) in str(raised.value)
    assert path.read_bytes() == content, "a broken key is never replaced silently"


def test_a_key_of_another_curve_is_refused(tmp_path):
    other = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "vapid_private.pem").write_bytes(other)
    with pytest.raises(ValueError, match="P-256"):
        load_or_create_vapid(tmp_path)


# --- validating a subscription ---------------------------------------------------------------------------------


def good() -> dict:
    return browser("https://fcm.googleapis.com/fcm/send/abc:def").subscription


def test_a_browsers_subscription_is_valid():
    assert validate_subscription(good()) == {}
    for local in ("http://127.0.0.1:8123/push/x", "http://localhost/push/x", "http://[::1]:9/push/x"):
        assert validate_subscription({**good(), "endpoint": local}) == {}, local


def test_a_padded_key_is_accepted():
    subscription = good()
    subscription["keys"]["auth"] += "=="
    assert validate_subscription(subscription) == {}


@pytest.mark.parametrize(("change", "field_name"), [
    (lambda s: s.pop("endpoint"), "endpoint"),
    (lambda s: s.update(endpoint="http://push.example.com/x"), "endpoint"),
    (lambda s: s.update(endpoint="ftp://push.example.com/x"), "endpoint"),
    (lambda s: s.update(endpoint="https:///x"), "endpoint"),
    (lambda s: s.update(endpoint="https://push.example.com:port/x"), "endpoint"),
    (lambda s: s.update(endpoint="https://push.example.com/" + "x" * 3000), "endpoint"),
    (lambda s: s.pop("keys"), "keys"),
    (lambda s: s["keys"].pop("p256dh"), "keys.p256dh"),
    (lambda s: s["keys"].pop("auth"), "keys.auth"),
    (lambda s: s["keys"].update(p256dh=b64url(os.urandom(33))), "keys.p256dh"),
    (lambda s: s["keys"].update(p256dh=b64url(b"\x04" + bytes(64))), "keys.p256dh"),  # not on the curve
    (lambda s: s["keys"].update(p256dh="not base64!"), "keys.p256dh"),
    (lambda s: s["keys"].update(auth=b64url(os.urandom(12))), "keys.auth"),
    (lambda s: s["keys"].update(auth=16), "keys.auth"),
])
def test_a_broken_subscription_names_the_field(change, field_name):
    subscription = good()
    change(subscription)
    errors = validate_subscription(subscription)
    assert list(errors) == [field_name], errors
    assert errors[field_name].endswith(".")


def test_not_an_object_is_refused():
    assert list(validate_subscription(["https://x"])) == ["subscription"]
    assert list(validate_subscription(None)) == ["subscription"]


def test_every_problem_is_reported_at_once():
    errors = validate_subscription({"endpoint": "http://evil.example/", "keys": {"p256dh": "", "auth": "AAAA"}})
    assert set(errors) == {"endpoint", "keys.p256dh", "keys.auth"}


# --- the browser scripts ---------------------------------------------------------------------------------------


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("name", ["sw.js", "push.js"])
def test_the_browser_scripts_parse(name):
    result = subprocess.run([NODE, "--check", str(TEMPLATES / name)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


SW_HARNESS = r"""
const source = require('fs').readFileSync(process.argv[1], 'utf8');
function load(windows) {
  const log = { shown: [], focused: [], opened: [], closed: 0, skipped: 0, claimed: 0 };
  const listeners = {};
  const self = {
    location: { origin: 'https://status.acme.test' },
    addEventListener: (type, listener) => { listeners[type] = listener; },
    skipWaiting: async () => { log.skipped++; },
    registration: { showNotification: async (title, options) => { log.shown.push({ title, options }); } },
    clients: {
      claim: async () => { log.claimed++; },
      matchAll: async () => windows.map((url) => ({ url, focus: async () => { log.focused.push(url); } })),
      openWindow: async (url) => { log.opened.push(url); },
    },
  };
  require('vm').runInNewContext(source, { self, URL });
  const fire = async (type, event) => {
    const waits = [];
    listeners[type]({ ...event, waitUntil: (promise) => waits.push(promise) });
    await Promise.all(waits);
  };
  return { log, fire };
}
const click = (url) => ({ notification: { data: { url }, close() { this.closed = true; } } });
(async () => {
  const first = load(['https://status.acme.test/other', 'https://status.acme.test/status/acme']);
  await first.fire('install', {});
  await first.fire('activate', {});
  const message = { title: 'Acme: API is down', body: 'Since 12:03', url: 'https://status.acme.test/status/acme',
                    tag: 'acme-1', icon: '/icon.png' };
  await first.fire('push', { data: { json: () => message, text: () => JSON.stringify(message) } });
  const event = click('https://status.acme.test/status/acme');
  await first.fire('notificationclick', event);
  first.log.closed = event.notification.closed === true;
  const second = load([]);
  await second.fire('notificationclick', click('https://status.acme.test/status/acme'));
  console.log(JSON.stringify({ first: first.log, second: second.log }));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_service_worker_shows_the_push_and_opens_its_page_on_click():
    result = subprocess.run([NODE, "-e", SW_HARNESS, str(TEMPLATES / "sw.js")], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    first, second = seen["first"], seen["second"]
    assert first["skipped"] == 1 and first["claimed"] == 1
    assert first["shown"] == [{"title": "Acme: API is down", "options": {
        "body": "Since 12:03", "tag": "acme-1", "icon": "/icon.png",
        "data": {"url": "https://status.acme.test/status/acme"}}}]
    assert first["closed"] is True
    assert first["focused"] == ["https://status.acme.test/status/acme"] and first["opened"] == []
    assert second["focused"] == [] and second["opened"] == ["https://status.acme.test/status/acme"]


PUSH_HARNESS = r"""
const source = require('fs').readFileSync(process.argv[1], 'utf8');
const KEY = process.argv[2];
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function page({ supported = true, permission = 'granted', subscribed = false, answer = 201,
                      problem = null, chosen = [] } = {}) {
  const log = { posts: [], registered: [], unsubscribed: 0, key: null };
  let current = subscribed ? makeSub() : null;
  function makeSub() {
    return { endpoint: 'https://push.example/abc',
             toJSON: () => ({ endpoint: 'https://push.example/abc', keys: { p256dh: 'P', auth: 'A' } }),
             unsubscribe: async () => { log.unsubscribed++; current = null; return true; } };
  }
  const pushManager = {
    getSubscription: async () => current,
    subscribe: async (options) => {
      log.userVisibleOnly = options.userVisibleOnly;
      log.key = Array.from(options.applicationServerKey);
      current = makeSub();
      return current;
    },
  };
  const registration = { pushManager };
  const status = { textContent: '' };
  const button = {
    dataset: { push: '', key: KEY, url: '/status/acme/push', components: 'parts' }, textContent: 'Notify me',
    hidden: false, disabled: false, listeners: {},
    addEventListener(type, listener) { this.listeners[type] = listener; },
    parentElement: { querySelector: (selector) => (selector === '[data-push-status]' ? status : null) },
  };
  const select = { selectedOptions: chosen.map((value) => ({ value: String(value) })) };
  const document = {
    readyState: 'complete',
    querySelectorAll: (selector) => (selector === 'button[data-push]' ? [button] : []),
    querySelector: () => null,
    getElementById: (id) => (id === 'parts' ? select : null),
  };
  const navigator = supported ? { serviceWorker: {
    register: async (url) => { log.registered.push(url); return registration; },
    ready: Promise.resolve(registration),
    getRegistration: async () => (log.registered.length || subscribed ? registration : undefined),
  } } : {};
  const window = supported ? { PushManager: function PushManager() {} } : {};
  const Notification = { requestPermission: async () => permission };
  const fetch = async (url, options) => {
    log.posts.push({ url, method: options.method, type: options.headers['Content-Type'],
                     body: JSON.parse(options.body) });
    const ok = answer >= 200 && answer < 300;
    return { ok, status: answer, json: async () => { if (!problem) throw new Error('no body'); return problem; } };
  };
  require('vm').runInNewContext(source, { document, navigator, window, Notification, fetch, atob, Uint8Array,
                                          Array, Number, Object, JSON, Error, URL });
  for (let i = 0; i < 5; i++) await tick();
  const state = () => ({ text: button.textContent, hidden: button.hidden, status: status.textContent,
                         disabled: button.disabled, ...log });
  const click = async () => { await button.listeners.click(); return state(); };
  return { state, click };
}

(async () => {
  const out = {};
  out.unsupported = (await page({ supported: false })).state();
  const fresh = await page({ chosen: [3, 12] });
  out.before = fresh.state();
  out.subscribed = await fresh.click();
  out.denied = await (await page({ permission: 'denied' })).click();
  out.dismissed = await (await page({ permission: 'default' })).click();
  const problem = { title: 'Invalid input',
                   errors: { 'subscription.endpoint': 'The push service address must start with https://.' } };
  out.refused = await (await page({ answer: 422, problem })).click();
  const again = await page({ subscribed: true });
  out.alreadySubscribed = again.state();
  out.stopped = await again.click();
  console.log(JSON.stringify(out));
})().catch((error) => { console.error(error); process.exit(1); });
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_the_notify_me_button_subscribes_reports_and_stops():
    vapid_key = b64url(b"\x04" + bytes(range(64)))
    result = subprocess.run([NODE, "-e", PUSH_HARNESS, str(TEMPLATES / "push.js"), vapid_key], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)

    assert seen["unsupported"]["hidden"] is True

    assert seen["before"]["text"] == "Notify me" and seen["before"]["hidden"] is False
    done = seen["subscribed"]
    assert done["registered"] == ["/sw.js"]
    assert done["userVisibleOnly"] is True
    assert bytes(done["key"]) == unb64url(vapid_key)
    assert done["posts"] == [{"url": "/status/acme/push", "method": "POST", "type": "application/json",
                              "body": {"subscription": {"endpoint": "https://push.example/abc",
                                                        "keys": {"p256dh": "P", "auth": "A"}},
                                       "components": [3, 12]}}]
    assert done["status"] == "You will get a notification on this device when something changes."
    assert done["text"] == "Stop notifications" and done["disabled"] is False

    assert seen["denied"]["status"] == "Notifications are blocked in this browser's settings."
    assert seen["denied"]["posts"] == [] and seen["denied"]["text"] == "Notify me"
    assert "not allowed" in seen["dismissed"]["status"]

    refused = seen["refused"]
    assert refused["status"] == "The push service address must start with https://."
    assert refused["unsubscribed"] == 1, "the browser does not keep a subscription the server refused"
    assert refused["text"] == "Notify me"

    assert seen["alreadySubscribed"]["text"] == "Stop notifications"
    stopped = seen["stopped"]
    assert stopped["posts"] == [{"url": "/status/acme/push/unsubscribe", "method": "POST", "type": "application/json",
                                 "body": {"endpoint": "https://push.example/abc"}}]
    assert stopped["unsubscribed"] == 1
    assert stopped["text"] == "Notify me"

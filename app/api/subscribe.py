"""The public side of subscriptions: the subscribe form, the confirmation and unsubscribe links of the mails, the
manage page, the browser-push endpoints and the service worker. Cookie-free like every public route; a private
page's form lives under the staff preview instead (pages/admin/subscribers.py).

Confirming and unsubscribing take a POST: mail scanners open every link in a mail, and a GET must change nothing.
The unsubscribe POST also answers RFC 8058 one-click requests (``List-Unsubscribe=One-Click``) from mail apps.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, NamedTuple

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app import config, html
from app.api.public import _hidden, _not_found, _visible
from app.notify import webpush
from app.ratelimit import SlidingWindow
from app.services import subscribers
from app.services.errors import Invalid, NotFound
from app.snapshot import PageSnapshot, store
from storage.models import StatusPage, Subscriber

router = APIRouter()

# Per client address: a person subscribing a few addresses is fine; a script sending mail to strangers is not.
FORM_LIMIT = SlidingWindow(limit=5, window_seconds=600)
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _page(snapshot: PageSnapshot, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(html.subscribe_page(snapshot, **context), status_code=status, headers=NO_STORE)


async def form_context(snapshot: PageSnapshot, *, preview: bool = False) -> dict[str, Any]:
    slug = snapshot.page.slug
    return {
        "email_offered": preview or await subscribers.mail_settings() is not None,
        "webhook_offered": not preview,
        "push_key": None if preview else subscribers.vapid().public_key,
        "push_url": f"/status/{slug}/push",
        "action": f"/admin/preview/{slug}/subscribe" if preview else f"/status/{slug}/subscribe",
    }


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.get("/status/{slug}/subscribe", include_in_schema=False)
async def subscribe_form(request: Request, slug: str) -> Response:
    snapshot = _visible(slug)
    if snapshot is None:
        return _hidden(request, slug)
    return _page(snapshot, view="form", heading="Subscribe to updates", **await form_context(snapshot))


@router.post("/status/{slug}/subscribe", include_in_schema=False)
async def subscribe(request: Request, slug: str) -> Response:
    snapshot = _visible(slug)
    if snapshot is None:
        return _not_found()
    form = await request.form()
    kind = str(form.get("kind") or "")
    values = {"email": str(form.get("email") or "").strip(), "url": str(form.get("url") or "").strip(),
              "components": [int(c) for c in form.getlist("components") if str(c).isdigit()]}
    context = await form_context(snapshot)
    wait = FORM_LIMIT.retry_after(_client(request), time.monotonic())
    if wait:
        minutes = max(1, round(wait / 60))
        return _page(snapshot, 429, view="form", heading="Subscribe to updates", values=values, kind=kind,
                     problem=f"Too many subscription requests from your network. Try again in {minutes} "
                             f"minute{'s' if minutes != 1 else ''}.", **context)
    page = await StatusPage.get_or_none(id=snapshot.page.id)
    if page is None:
        return _not_found()
    address = values["email"] if kind == "email" else values["url"]
    try:
        done = await subscribers.subscribe(page, kind=kind, address=address, component_ids=form.getlist("components"))
    except Invalid as exc:
        shown = {"email": context["email_offered"], "webhook": context["webhook_offered"]}.get(kind, False)
        # a message goes next to its field when the form shows that field; else it is the page's message
        problem = "Please check the form." if shown and set(exc.errors) <= {"email", "url", "components"} else \
            " ".join(exc.errors.values())
        return _page(snapshot, 422, view="form", heading="Subscribe to updates", values=values, kind=kind,
                     errors=exc.errors, problem=problem, **context)
    if done.kind == "email":
        return _page(snapshot, view="message", heading="Check your inbox",
                     message=f"If {values['email']} can receive updates from {snapshot.page.title}, a mail with a "
                             "link to confirm is on its way. Nothing will be sent until you open that link.")
    return _page(snapshot, view="message", heading="Subscribed",
                 message=f"{values['url']} will receive a POST for every incident and maintenance notice. Keep the "
                         "link below: it is the only way to change or stop this subscription.",
                 manage_url=done.manage_url, manage_text="Manage this webhook subscription")


class _Link(NamedTuple):
    snapshot: PageSnapshot
    subscriber: Subscriber


def _linked(slug: str, subscriber: Subscriber | None) -> _Link | Response:
    """The page and subscriber a mail's link names, or the answer that the link no longer works. A link works only
    under its own page's slug."""
    if subscriber is not None and subscriber.page.slug == slug:  # type: ignore[attr-defined]
        snapshot = store.get(subscriber.page_id)  # type: ignore[attr-defined]
        if snapshot is not None:
            return _Link(snapshot, subscriber)
    return _invalid_link(store.by_slug(slug))


def _invalid_link(snapshot: PageSnapshot | None) -> Response:
    if snapshot is None:
        return _not_found()
    return _page(snapshot, 404, view="message", heading="This link no longer works",
                 problem="The link has expired or was replaced by a newer one. Subscribe again from the form to get "
                         "a new one.", manage_url=f"/status/{snapshot.page.slug}/subscribe",
                 manage_text="Subscribe to updates")


@router.get("/status/{slug}/confirm/{token}", include_in_schema=False)
async def confirm_question(slug: str, token: str) -> Response:
    found = _linked(slug, await subscribers.to_confirm(token))
    if isinstance(found, Response):
        return found
    return _page(found.snapshot, view="confirm", heading="Confirm your subscription",
                 action=f"/status/{slug}/confirm/{token}",
                 question=f"Send updates from {found.snapshot.page.title} to {found.subscriber.address}?",
                 button="Confirm subscription")


@router.post("/status/{slug}/confirm/{token}", include_in_schema=False)
async def confirm(slug: str, token: str) -> Response:
    found = _linked(slug, await subscribers.confirm(token))
    if isinstance(found, Response):
        return found
    snapshot, subscriber = found
    return _page(snapshot, view="message", heading="You are subscribed",
                 message=f"{subscriber.address} will get updates from {snapshot.page.title}. Every mail has a link "
                         "to change your choice or unsubscribe.",
                 manage_url=subscribers.links(subscriber, slug).manage)


@router.get("/status/{slug}/subscription/{token}", include_in_schema=False)
async def manage(slug: str, token: str) -> Response:
    found = _linked(slug, await subscribers.subscription(token))
    if isinstance(found, Response):
        return found
    return _manage_page(*found, token)


def _manage_page(snapshot: PageSnapshot, subscriber: Subscriber, token: str, status: int = 200,
                 **context: Any) -> Response:
    slug = snapshot.page.slug
    shown = subscriber.address if subscriber.kind != "push" else "this browser"
    return _page(snapshot, status, view="manage", heading="Your subscription", address=shown,
                 chosen=list(subscriber.component_ids or []), action=f"/status/{slug}/subscription/{token}",
                 unsubscribe_action=f"/status/{slug}/unsubscribe/{token}", **context)


@router.post("/status/{slug}/subscription/{token}", include_in_schema=False)
async def manage_save(request: Request, slug: str, token: str) -> Response:
    found = _linked(slug, await subscribers.subscription(token))
    if isinstance(found, Response):
        return found
    snapshot, subscriber = found
    form = await request.form()
    try:
        subscriber = await subscribers.choose_components(token, form.getlist("components"))
    except (Invalid, NotFound) as exc:
        problem = next(iter(exc.errors.values())) if isinstance(exc, Invalid) else str(exc)
        return _manage_page(snapshot, subscriber, token, 422, problem=problem)
    saved = "Saved: you will hear about " + ("everything on this page." if not subscriber.component_ids else
                                              f"{len(subscriber.component_ids)} chosen component"
                                              f"{'s' if len(subscriber.component_ids) != 1 else ''}.")
    return _manage_page(snapshot, subscriber, token, message=saved)


@router.get("/status/{slug}/unsubscribe/{token}", include_in_schema=False)
async def unsubscribe_question(slug: str, token: str) -> Response:
    found = _linked(slug, await subscribers.subscription(token))
    if isinstance(found, Response):
        return found
    snapshot, subscriber = found
    return _page(snapshot, view="unsubscribe", heading="Unsubscribe", action=f"/status/{slug}/unsubscribe/{token}",
                 question=f"Stop sending updates from {snapshot.page.title} to {subscriber.address}?",
                 button="Unsubscribe")


@router.post("/status/{slug}/unsubscribe/{token}", include_in_schema=False)
async def unsubscribe(slug: str, token: str) -> Response:
    """The button of the unsubscribe page, and mail apps' one-click unsubscribe (RFC 8058), which POSTs
    ``List-Unsubscribe=One-Click`` here without a person looking at any page."""
    found = _linked(slug, await subscribers.subscription(token))
    if isinstance(found, Response):
        # already gone: a second click, or the one-click request came first; saying so is not a leak
        fallback = store.by_slug(slug)
        if fallback is None:
            return _not_found()
        return _page(fallback, view="message", heading="Unsubscribed",
                     message="This address gets no more updates from this page.")
    snapshot, subscriber = found
    await subscribers.unsubscribe(token)
    return _page(snapshot, view="message", heading="Unsubscribed",
                 message=f"{subscriber.address} gets no more updates from {snapshot.page.title}.",
                 manage_url=f"/status/{slug}/subscribe", manage_text="Subscribe again")


# --- browser push --------------------------------------------------------------------------------------------------

def _problem(status: int, title: str, errors: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=NO_STORE)


@router.post("/status/{slug}/push", include_in_schema=False)
async def push_subscribe(request: Request, slug: str) -> Response:
    snapshot = _visible(slug)
    if snapshot is None:
        return _problem(404, "No such page.")
    try:
        body = await request.json()
    except ValueError:
        return _problem(400, "Send JSON: {subscription, components}.")
    subscription = body.get("subscription") if isinstance(body, dict) else None
    if errors := webpush.validate_subscription(subscription):
        return _problem(422, "This browser's subscription cannot be used.", errors)
    if FORM_LIMIT.retry_after(_client(request), time.monotonic()):
        return _problem(429, "Too many subscription requests from your network; try again in a few minutes.")
    endpoint = str(subscription["endpoint"])  # type: ignore[index]
    problem = await subscribers.webhook_problem(endpoint, allow_private=config.current().subscriber_private_urls)
    if problem:
        return _problem(422, "This browser's push service cannot be used.", {"endpoint": problem})
    page = await StatusPage.get_or_none(id=snapshot.page.id)
    if page is None:
        return _problem(404, "No such page.")
    try:
        await subscribers.subscribe(page, kind="push", address=endpoint,
                                    component_ids=body.get("components") or [],  # type: ignore[union-attr]
                                    push_keys=dict(subscription["keys"]))  # type: ignore[index]
    except Invalid as exc:
        return _problem(422, "The subscription was refused.", exc.errors)
    return JSONResponse({"subscribed": True}, status_code=201, headers=NO_STORE)


@router.post("/status/{slug}/push/unsubscribe", include_in_schema=False)
async def push_unsubscribe(request: Request, slug: str) -> Response:
    page = await StatusPage.get_or_none(slug=slug)
    try:
        body = await request.json()
    except ValueError:
        body = None
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if page is None or not isinstance(endpoint, str):
        return _problem(400, "Send JSON: {endpoint}.")
    await subscribers.unsubscribe_push(page, endpoint)
    return Response(status_code=204, headers=NO_STORE)


@router.get("/sw.js", include_in_schema=False)
async def service_worker() -> Response:
    # at the root so that it may control every page; revalidated so that a fix reaches browsers soon
    return Response((TEMPLATES / "sw.js").read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"})


@router.get("/push.js", include_in_schema=False)
async def push_script() -> Response:
    return Response((TEMPLATES / "push.js").read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=300"})

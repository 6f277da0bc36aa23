"""Public, cookie-free routes served from snapshots: the status page fast path with live updates (SSE),
the Statuspage-compatible JSON, and the health check. None of them touch the database except /healthz."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from app import html
from app.api import statuspage
from app.runtime import state
from app.snapshot import PageSnapshot, store
from storage.db import ping

router = APIRouter()

# Short enough that a change shows up at once through a CDN; live updates do the rest.
PUBLIC_CACHE = "public, max-age=10"
KEEPALIVE_SECONDS = 15.0


def _not_found() -> Response:
    # Same answer for "no such page" and "not public": a private page's existence does not leak.
    return HTMLResponse("<!doctype html><title>Not found</title><h1>Page not found</h1>", status_code=404)


def _visible(slug: str) -> PageSnapshot | None:
    snapshot = store.by_slug(slug)
    return snapshot if snapshot is not None and snapshot.visible else None


def _for_host(request: Request) -> PageSnapshot | None:
    """The page bound to the request's Host as custom domain, else the default page."""
    host = request.headers.get("host", "")
    snapshot = store.by_domain(host) if host else None
    return snapshot or store.default()


def _with_etag(body: bytes) -> tuple[bytes, str]:
    return body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _cached(request: Request, snapshot: PageSnapshot, kind: str, render: Callable[[PageSnapshot], bytes],
            media_type: str, extra_headers: dict[str, str] | None = None) -> Response:
    """A body rendered once per snapshot version, with an ETag that a revalidating client or CDN gets 304 for."""
    body, etag = store.rendered(snapshot, kind, lambda s: _with_etag(render(s)))
    headers = {"Cache-Control": PUBLIC_CACHE, "ETag": etag, **(extra_headers or {})}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _page_response(request: Request, snapshot: PageSnapshot, live_url: str) -> Response:
    return _cached(request, snapshot, f"html:{live_url}",
                   lambda s: html.status_page(s, live_url=live_url).encode(), "text/html; charset=utf-8")


def _json(request: Request, snapshot: PageSnapshot, kind: str, build: Callable[[PageSnapshot], Any]) -> Response:
    return _cached(request, snapshot, f"json:{kind}",
                   lambda s: json.dumps(build(s), separators=(",", ":")).encode(), "application/json",
                   {"Access-Control-Allow-Origin": "*"})


JSON_DOCUMENTS: dict[str, Callable[[PageSnapshot], Any]] = {
    "summary": statuspage.summary,
    "status": statuspage.status_document,
    "components": statuspage.components_document,
}


@router.get("/healthz", include_in_schema=False)
async def healthz() -> Response:
    if await ping():
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
    return JSONResponse({"status": "unavailable"}, status_code=503, headers={"Cache-Control": "no-store"})


@router.get("/", include_in_schema=False)
async def root(request: Request) -> Response:
    if not state.has_owner:
        return RedirectResponse("/setup", status_code=303)
    snapshot = _for_host(request)
    if snapshot is None:
        return RedirectResponse("/admin", status_code=303)
    if not snapshot.visible:
        return _not_found()
    return _page_response(request, snapshot, f"/status/{snapshot.page.slug}/live")


@router.get("/status/{slug}", include_in_schema=False)
async def status_page(request: Request, slug: str) -> Response:
    snapshot = _visible(slug)
    if snapshot is None:
        return _not_found()
    return _page_response(request, snapshot, f"/status/{slug}/live")


@router.get("/status/{slug}/api/v2/{document}.json")
async def slug_json(request: Request, slug: str, document: str) -> Response:
    snapshot = _visible(slug)
    if snapshot is None or document not in JSON_DOCUMENTS:
        return JSONResponse({"error": "not found"}, status_code=404)
    return _json(request, snapshot, document, JSON_DOCUMENTS[document])


@router.get("/api/v2/{document}.json")
async def host_json(request: Request, document: str) -> Response:
    snapshot = _for_host(request)
    if snapshot is None or not snapshot.visible or document not in JSON_DOCUMENTS:
        return JSONResponse({"error": "not found"}, status_code=404)
    return _json(request, snapshot, document, JSON_DOCUMENTS[document])


def _sse(snapshot: PageSnapshot) -> bytes:
    payload = {"version": snapshot.version, "title": f"{snapshot.page.title} status",
               "indicator": snapshot.indicator.indicator, "html": html.status_body(snapshot)}
    return f"event: snapshot\ndata: {json.dumps(payload)}\n\n".encode()


@router.get("/status/{slug}/live", include_in_schema=False)
async def live(slug: str, v: int = -1) -> Response:
    """Server-sent events: the page's new body after every rebuild. One queue per visitor, no NiceGUI client."""
    snapshot = _visible(slug)
    if snapshot is None:
        return _not_found()
    page_id = snapshot.page.id
    latest: asyncio.Queue[PageSnapshot] = asyncio.Queue(maxsize=1)

    def on_rebuild(new: PageSnapshot) -> None:
        if latest.full():  # a slow visitor only ever needs the newest state
            latest.get_nowait()
        latest.put_nowait(new)

    async def stream() -> AsyncIterator[bytes]:
        stop = store.listen(page_id, on_rebuild)
        try:
            yield b"retry: 2000\n\n"
            current = store.get(page_id)
            if current is not None and current.version != v:
                yield store.rendered(current, "sse", _sse)
            while True:
                try:
                    new = await asyncio.wait_for(latest.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keepalive\n\n"
                    continue
                if not new.visible:
                    return
                yield store.rendered(new, "sse", _sse)
        finally:
            stop()

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

"""Public, cookie-free routes served from snapshots: the status page fast path with live updates (SSE),
the Statuspage-compatible JSON, and the health check. None of them touch the database except /healthz."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

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


def _not_found(headers: dict[str, str] | None = None) -> Response:
    # Same answer for "no such page" and "not public": a private page's existence does not leak.
    return HTMLResponse("<!doctype html><title>Not found</title><h1>Page not found</h1>", status_code=404,
                        headers=headers)


# NiceGUI's session cookie (Starlette's SessionMiddleware default name): only a browser that has been to a
# NiceGUI route carries it, so public visitors keep getting plain, cacheable answers.
SESSION_COOKIE = "session"


def _hidden(request: Request, slug: str) -> Response:
    """The answer for a page anonymous visitors may not see (or that does not exist). A browser with a session
    may belong to staff: send it to the preview, which answers 404 unless its user is signed in. Every slug gets
    the same redirect, so a session alone tells nothing about which pages exist."""
    # the answer depends on the cookie: a cache must not hand a visitor's 404 to staff, or the reverse
    if SESSION_COOKIE in request.cookies:
        return RedirectResponse(f"/admin/preview/{quote(slug, safe='')}", status_code=307,
                                headers={"Cache-Control": "no-store", "Vary": "Cookie"})
    return _not_found({"Vary": "Cookie"})


def _visible(slug: str) -> PageSnapshot | None:
    snapshot = store.by_slug(slug)
    return snapshot if snapshot is not None and snapshot.visible else None


def _for_host(request: Request) -> PageSnapshot | None:
    """The page bound to the request's Host as custom domain, else the default page."""
    host = request.headers.get("host", "")
    snapshot = store.by_domain(host) if host else None
    return snapshot or store.default()


# Below this size compressing costs more than it saves.
GZIP_MIN_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Rendered:
    """One public body in its plain and gzip forms, each with its own strong ETag (RFC 9110 8.8.3)."""

    body: bytes
    etag: str
    gzipped: bytes | None
    gzip_etag: str


def _prepare(body: bytes) -> Rendered:
    etag = hashlib.blake2b(body, digest_size=12).hexdigest()
    gzipped = gzip.compress(body, compresslevel=6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
    return Rendered(body, f'"{etag}"', gzipped, f'"{etag}-gz"')


def _cached(request: Request, snapshot: PageSnapshot, kind: str, render: Callable[[PageSnapshot], bytes],
            media_type: str, extra_headers: dict[str, str] | None = None) -> Response:
    """A body rendered and compressed once per snapshot version — a flood of visitors costs no rendering — with
    an ETag that a revalidating client or CDN gets 304 for."""
    rendered = store.rendered(snapshot, kind, lambda s: _prepare(render(s)))
    use_gzip = rendered.gzipped is not None and "gzip" in request.headers.get("accept-encoding", "")
    etag = rendered.gzip_etag if use_gzip else rendered.etag
    headers = {"Cache-Control": PUBLIC_CACHE, "ETag": etag, "Vary": "Accept-Encoding", **(extra_headers or {})}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if use_gzip:
        return Response(rendered.gzipped, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(rendered.body, media_type=media_type, headers=headers)


def _page_response(request: Request, snapshot: PageSnapshot, live_url: str) -> Response:
    return _cached(request, snapshot, f"html:{live_url}",
                   lambda s: html.status_page(s, live_url=live_url, body=_body(s)).encode(),
                   "text/html; charset=utf-8")


def _json(request: Request, snapshot: PageSnapshot, kind: str, build: Callable[[PageSnapshot], Any]) -> Response:
    return _cached(request, snapshot, f"json:{kind}",
                   lambda s: json.dumps(build(s), separators=(",", ":")).encode(), "application/json",
                   {"Access-Control-Allow-Origin": "*"})


JSON_DOCUMENTS: dict[str, Callable[[PageSnapshot], Any]] = {
    "summary": statuspage.summary,
    "status": statuspage.status_document,
    "components": statuspage.components_document,
    "incidents": statuspage.incidents_document,
    "incidents/unresolved": statuspage.unresolved_incidents_document,
    "scheduled-maintenances": statuspage.maintenances_document,
    "scheduled-maintenances/upcoming": statuspage.upcoming_maintenances_document,
    "scheduled-maintenances/active": statuspage.active_maintenances_document,
}


@router.get("/healthz", include_in_schema=False)
async def healthz() -> Response:
    if await ping():
        return JSONResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})
    return JSONResponse({"status": "unavailable"}, status_code=503, headers={"Cache-Control": "no-store"})


# The routes a flood hits are plain Starlette routes, not FastAPI ones: they need no parameter validation or
# dependency solving, and skipping it serves ~1.6x the requests per second (measured: docs/benchmarks.md).
def _fast(path: str):
    def register(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
        router.add_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)
        return endpoint
    return register


@_fast("/")
async def root(request: Request) -> Response:
    if not state.has_owner:
        return RedirectResponse("/setup", status_code=303)
    snapshot = _for_host(request)
    if snapshot is None:
        return RedirectResponse("/admin", status_code=303)
    if not snapshot.visible:
        return _hidden(request, snapshot.page.slug)
    return _page_response(request, snapshot, f"/status/{snapshot.page.slug}/live")


@_fast("/status/{slug}")
async def status_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    snapshot = _visible(slug)
    if snapshot is None:
        return _hidden(request, slug)
    return _page_response(request, snapshot, f"/status/{slug}/live")


@_fast("/status/{slug}/api/v2/{document:path}.json")
async def slug_json(request: Request) -> Response:
    slug, document = request.path_params["slug"], request.path_params["document"]
    snapshot = _visible(slug)
    if snapshot is None or document not in JSON_DOCUMENTS:
        return JSONResponse({"error": "not found"}, status_code=404)
    return _json(request, snapshot, document, JSON_DOCUMENTS[document])


@_fast("/api/v2/{document:path}.json")
async def host_json(request: Request) -> Response:
    document = request.path_params["document"]
    snapshot = _for_host(request)
    if snapshot is None or not snapshot.visible or document not in JSON_DOCUMENTS:
        return JSONResponse({"error": "not found"}, status_code=404)
    return _json(request, snapshot, document, JSON_DOCUMENTS[document])


def _body(snapshot: PageSnapshot) -> str:
    """The status body, rendered once per version for both the full page and the live-update event."""
    return store.rendered(snapshot, "body", html.status_body)


def _sse(snapshot: PageSnapshot) -> bytes:
    payload = {"version": snapshot.version, "title": f"{snapshot.page.title} status",
               "indicator": snapshot.indicator.indicator, "html": _body(snapshot)}
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

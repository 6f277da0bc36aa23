"""Public, cookie-free routes served from snapshots: the status page fast path with live updates (SSE), the
incident, maintenance and history pages, the Statuspage-compatible JSON, and the health check. Only /healthz and
what lies outside a snapshot (old incidents, the history) read the database, and those answers are cached."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse

from app import history, html
from app.api import metrics, statuspage
from app.observability import health
from app.runtime import state
from app.services import subscribers
from app.snapshot import IncidentView, MaintenanceView, PageSnapshot, fetch_incidents, fetch_maintenances, store

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
    return _answer(request, store.rendered(snapshot, kind, lambda s: _prepare(render(s))), media_type, extra_headers)


def _answer(request: Request, rendered: Rendered, media_type: str,
            extra_headers: dict[str, str] | None = None) -> Response:
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
                   lambda s: html.status_page(s, live_url=live_url, body=_body(s),
                                              push_key=subscribers.vapid().public_key).encode(),
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
    """200 ``{"status": "ok", "checks": {...}}``, or 503 naming the failing part (app/observability.py)."""
    code, body = await health()
    return JSONResponse(body, status_code=code, headers={"Cache-Control": "no-store"})


@router.get("/_beacon/tls-allowed", include_in_schema=False)
async def tls_allowed(domain: str = "") -> Response:
    """Caddy's on-demand TLS asks here before getting a certificate for a name (docs/deploy.md): only the custom
    domains of pages get one, so nobody can make the server request certificates for arbitrary names."""
    known = bool(domain) and store.by_domain(domain.strip().rstrip(".").lower()) is not None
    return Response(status_code=200 if known else 404, headers={"Cache-Control": "no-store"})


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


# --- incident, maintenance and history pages --------------------------------------------------------------------
HTML = "text/html; charset=utf-8"
# Ids are 32-bit integers on PostgreSQL: a longer number is no id, and must not reach the database as one.
MAX_ID = 2**31 - 1
SUBPAGE_CACHE_SIZE = 512
# What these pages read from the database may change without a new snapshot version (an old incident's write-up
# published, say): a rendered page is used for this long at most.
SUBPAGE_TTL_SECONDS = 30.0


class RenderCache:
    """Rendered pages by key, least recently used first out once ``size`` are kept, each for ``ttl`` seconds at
    most, so that a crawler walking every id and page number cannot grow memory without limit. Concurrent
    requests for one key share one render (a flood on a new incident reads the database once)."""

    def __init__(self, size: int, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.size, self.ttl, self.clock = size, ttl, clock
        self._entries: OrderedDict[Hashable, tuple[float, asyncio.Task[Rendered | None]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: Hashable, render: Callable[[], Awaitable[Rendered | None]]) -> Rendered | None:
        entry = self._entries.get(key)
        now = self.clock()
        if entry is None or now - entry[0] > self.ttl or (entry[1].done() and entry[1].cancelled()):
            task = asyncio.ensure_future(render())
            entry = (now, task)
            self._entries[key] = entry
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        try:
            # shielded: a visitor who leaves must not cancel the render that others wait for
            return await asyncio.shield(entry[1])
        except Exception:
            if self._entries.get(key) is entry:  # a failure is not cached
                del self._entries[key]
            raise

    def clear(self) -> None:
        self._entries.clear()


subpages = RenderCache(SUBPAGE_CACHE_SIZE, SUBPAGE_TTL_SECONDS)


def _subpage_key(snapshot: PageSnapshot, *parts: Hashable) -> tuple[Hashable, ...]:
    return (snapshot.page.id, snapshot.version, snapshot.built_at, *parts)


def _id(raw: str | None) -> int | None:
    """A positive id from a path or query, or None for anything else."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


async def _incident(snapshot: PageSnapshot, incident_id: int) -> IncidentView | None:
    """From the snapshot while it holds the incident (open or recent), else from the database."""
    from storage.models import Incident

    found = next((i for i in snapshot.incidents if i.id == incident_id), None)
    if found is None:
        found = next(iter(await fetch_incidents(Incident.filter(id=incident_id, page_id=snapshot.page.id))), None)
    return found


async def _maintenance(snapshot: PageSnapshot, maintenance_id: int) -> MaintenanceView | None:
    from storage.models import Maintenance

    found = next((m for m in snapshot.maintenances if m.id == maintenance_id), None)
    if found is None:
        found = next(iter(await fetch_maintenances(
            Maintenance.filter(id=maintenance_id, page_id=snapshot.page.id))), None)
    return found


@_fast("/status/{slug}/incidents/{id}")
async def incident_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    snapshot = _visible(slug)
    if snapshot is None:
        return _hidden(request, slug)
    incident_id = _id(request.path_params["id"])
    if incident_id is None:
        return _not_found()

    async def render() -> Rendered | None:
        incident = await _incident(snapshot, incident_id)
        return _prepare(html.incident_page(snapshot, incident).encode()) if incident else None

    rendered = await subpages.get(_subpage_key(snapshot, "incident", incident_id), render)
    return _answer(request, rendered, HTML) if rendered else _not_found()


@_fast("/status/{slug}/maintenance/{id}")
async def maintenance_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    snapshot = _visible(slug)
    if snapshot is None:
        return _hidden(request, slug)
    maintenance_id = _id(request.path_params["id"])
    if maintenance_id is None:
        return _not_found()

    async def render() -> Rendered | None:
        maintenance = await _maintenance(snapshot, maintenance_id)
        return _prepare(html.maintenance_page(snapshot, maintenance).encode()) if maintenance else None

    rendered = await subpages.get(_subpage_key(snapshot, "maintenance", maintenance_id), render)
    return _answer(request, rendered, HTML) if rendered else _not_found()


# A page number this long is past the end of any history; it is not parsed further.
BEYOND_ANY_HISTORY = 10**9


def _page_number(raw: str | None) -> int:
    """``?page=``: a positive number; anything that is not one means the first page."""
    if not raw or not raw.isascii() or not raw.isdigit():
        return 1
    return BEYOND_ANY_HISTORY if len(raw) > 9 else max(int(raw), 1)


@_fast("/status/{slug}/history")
async def history_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    snapshot = _visible(slug)
    if snapshot is None:
        return _hidden(request, slug)
    number = _page_number(request.query_params.get("page"))
    raw_component = request.query_params.get("component") or None
    component_id = _id(raw_component)
    known = component_id is not None and component_id in snapshot.component_names
    component = str(component_id) if known else None

    async def render() -> Rendered:
        if raw_component and not known:  # nothing to read: the filter names no component of this page
            result = history.HistoryPage(history.Pagination(1, 0), ())
            body = html.history_page(snapshot, result, problem="There is no such component on this page.")
        else:
            result = await history.load(snapshot.page.id, number, component_id=component_id if known else None)
            body = html.history_page(snapshot, result, component=component)
        return _prepare(body.encode())

    key = _subpage_key(snapshot, "history", number if not raw_component or known else 1,
                       component if known else ("unknown" if raw_component else None))
    rendered = await subpages.get(key, render)
    return _answer(request, rendered, HTML) if rendered else _not_found()


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
        stop = metrics.track_viewer(page_id, store.listen(page_id, on_rebuild))
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

"""Public, cookie-free feeds and badges of a status page, rendered from its snapshot once per version (through
``public._cached``: ETag, gzip, 304) — visitors never reach the database.

Feeds: ``/status/{slug}/feed.rss``, ``feed.atom``, ``maintenance.ics``. Badges: ``/badge/{slug}/status.svg`` and
per component ``status.svg``, ``uptime.svg?days=N`` and ``response.svg``, each with ``label``, ``style``
(flat, flat-square, for-the-badge), ``color`` and ``label_color``. A page anonymous visitors may not see answers
404 like a missing one; a bad badge option answers 400 with a short text.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from app import badges, feeds
from app.api.public import Rendered, _answer, _cached, _id, _not_found, _prepare, _visible
from app.snapshot import ComponentView, PageSnapshot

router = APIRouter()

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
ICS = "text/calendar; charset=utf-8"
SVG = "image/svg+xml"
FEED_HEADERS = {"Access-Control-Allow-Origin": "*"}
BADGE_HEADERS = {"Cache-Control": "public, max-age=60"}
MAX_DAYS = 365
MAX_LABEL = 100
# Badges with options of the visitor's choosing (any label, any colour) are kept here rather than in the snapshot
# store, whose entries live as long as the page: a crawler trying labels must not grow memory without limit.
CUSTOM_BADGES_KEPT = 1024


def _fast(path: str):
    # plain Starlette routes like public.py's: no parameter validation (a bad option is our 400, never a 422)
    def register(endpoint: Callable[[Request], object]) -> Callable[[Request], object]:
        router.add_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)
        return endpoint
    return register


# --- feeds ----------------------------------------------------------------------------------------------------------

def _feed(request: Request, kind: str, render: Callable[[PageSnapshot], str], media_type: str) -> Response:
    snapshot = _visible(request.path_params["slug"])
    if snapshot is None:
        return _not_found()
    return _cached(request, snapshot, f"feed:{kind}", lambda s: render(s).encode(), media_type, FEED_HEADERS)


@_fast("/status/{slug}/feed.rss")
async def rss_feed(request: Request) -> Response:
    return _feed(request, "rss", lambda s: feeds.rss(s, s.built_at), RSS)


@_fast("/status/{slug}/feed.atom")
async def atom_feed(request: Request) -> Response:
    return _feed(request, "atom", lambda s: feeds.atom(s, s.built_at), ATOM)


@_fast("/status/{slug}/maintenance.ics")
async def maintenance_calendar(request: Request) -> Response:
    return _feed(request, "ics", lambda s: feeds.ical(s, s.built_at), ICS)


# --- badges ---------------------------------------------------------------------------------------------------------

class BadOption(ValueError):
    """A badge query option that cannot be used; its message is the 400 answer."""


@dataclass(frozen=True, slots=True)
class Options:
    label: str | None
    style: str
    color: str | None
    label_color: str | None

    @property
    def default(self) -> bool:
        return self.label is None and self.color is None and self.label_color is None

    def key(self) -> str:
        return f"style={self.style}&label={self.label!r}&color={self.color}&label_color={self.label_color}"


def _options(request: Request) -> Options:
    q = request.query_params
    style = q.get("style") or "flat"
    if style not in badges.STYLES:
        raise BadOption(f"style must be one of: {', '.join(badges.STYLES)}")
    label = q.get("label")
    if label is not None and len(label) > MAX_LABEL:
        raise BadOption(f"label is limited to {MAX_LABEL} characters")
    color, label_color = q.get("color") or None, q.get("label_color") or None
    for name, value in (("color", color), ("label_color", label_color)):
        if value is not None:
            try:
                badges.resolve_color(value)
            except ValueError:
                raise BadOption(f"{name} must be one of {', '.join(sorted(badges.COLORS))} or #rrggbb") from None
    return Options(label, style, color, label_color)


def _days(request: Request, snapshot: PageSnapshot, component: ComponentView) -> int:
    kept = len(component.uptime) or snapshot.page.uptime_days
    raw = request.query_params.get("days")
    if raw is None or raw == "":
        return kept
    if not raw.isascii() or not raw.isdigit() or len(raw) > 3 or not 1 <= int(raw) <= MAX_DAYS:
        raise BadOption(f"days must be a whole number from 1 to {MAX_DAYS}")
    if int(raw) > kept:
        raise BadOption(f"days must be at most {kept}: this page keeps {kept} days of uptime")
    return int(raw)


_custom: OrderedDict[tuple[int, int, str], Rendered] = OrderedDict()


def _badge(request: Request, snapshot: PageSnapshot, kind: str, options: Options,
           build: Callable[[PageSnapshot], tuple[str, str, str]]) -> Response:
    """``build(snapshot)`` gives (default label, message, colour); the options decide the rest."""

    def render(s: PageSnapshot) -> bytes:
        label, message, color = build(s)
        return badges.badge(label if options.label is None else options.label, message, options.color or color,
                            style=options.style, label_color=options.label_color).encode()

    full_kind = f"badge:{kind}?{options.key()}"
    if options.default:
        return _cached(request, snapshot, full_kind, render, SVG, BADGE_HEADERS)
    key = (snapshot.page.id, snapshot.version, full_kind)
    rendered = _custom.get(key)
    if rendered is None:
        rendered = _prepare(render(snapshot))
        _custom[key] = rendered
        while len(_custom) > CUSTOM_BADGES_KEPT:
            _custom.popitem(last=False)
    else:
        _custom.move_to_end(key)
    return _answer(request, rendered, SVG, BADGE_HEADERS)


def _bad(problem: BadOption) -> Response:
    return PlainTextResponse(str(problem), status_code=400, headers={"Cache-Control": "no-store"})


def _component(snapshot: PageSnapshot, raw: str) -> ComponentView | None:
    component_id = _id(raw)
    return next((c for c in snapshot.all_components if c.id == component_id), None) if component_id else None


@_fast("/badge/{slug}/status.svg")
async def page_status_badge(request: Request) -> Response:
    snapshot = _visible(request.path_params["slug"])
    if snapshot is None:
        return _not_found()
    try:
        options = _options(request)
    except BadOption as problem:
        return _bad(problem)

    def build(s: PageSnapshot) -> tuple[str, str, str]:
        return ("status", *badges.indicator_badge(s.indicator.indicator))

    return _badge(request, snapshot, "page:status", options, build)


async def _component_badge(request: Request, kind: str, make: Callable[[Any, Any], tuple[str, str, str]], *,
                           shown: Callable[[PageSnapshot, Any], bool] = lambda s, c: True,
                           extra: Callable[[Request, PageSnapshot, Any], Any] | None = None) -> Response:
    """A badge about one component of a visible page: ``make(component, extra)`` gives (label, message, colour)
    from the snapshot it is rendered for; ``shown`` says whether the page shows what the badge would tell."""
    snapshot = _visible(request.path_params["slug"])
    component = _component(snapshot, request.path_params["component_id"]) if snapshot else None
    if snapshot is None or component is None or not shown(snapshot, component):
        return _not_found()
    try:
        options = _options(request)
        value = extra(request, snapshot, component) if extra else None
    except BadOption as problem:
        return _bad(problem)
    cid = component.id

    def build(s: PageSnapshot) -> tuple[str, str, str]:
        return make(next(c for c in s.all_components if c.id == cid), value)

    return _badge(request, snapshot, f"{kind}:{cid}" + (f":{value}" if value is not None else ""), options, build)


@_fast("/badge/{slug}/{component_id}/status.svg")
async def component_status_badge(request: Request) -> Response:
    return await _component_badge(request, "status", lambda c, _: (c.name, *badges.status_badge(c.status)))


@_fast("/badge/{slug}/{component_id}/uptime.svg")
async def component_uptime_badge(request: Request) -> Response:
    # a component whose uptime the page does not show does not show it in a badge either
    return await _component_badge(
        request, "uptime", lambda c, days: (f"uptime {days}d", *badges.uptime_badge(c.recent_uptime_percent(days))),
        shown=lambda s, c: c.show_uptime, extra=_days)


@_fast("/badge/{slug}/{component_id}/response.svg")
async def component_response_badge(request: Request) -> Response:
    return await _component_badge(
        request, "response", lambda c, _: ("response time", *badges.response_time_badge(last_day_latency_ms(c))),
        shown=lambda s, c: s.page.show_response_times)


def last_day_latency_ms(component: ComponentView) -> float | None:
    """The average response time of the component's monitors on the current UTC day, or on the day before while
    today has no measurement yet (just after midnight); None without any."""
    today = component.recent_latency_ms(1)
    return today if today is not None else component.recent_latency_ms(2)

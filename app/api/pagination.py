"""One way to paginate the management API's lists: ``?limit=`` (1..200, default 50) and an opaque ``?cursor=``.

A list route keeps answering a plain JSON array; when there is more, the response carries
``Link: <…?cursor=…>; rel="next"`` and ``X-Next-Cursor: …``. A cursor names the last item of the page before
(urlsafe base64 of JSON: that item's sort key, and for database-side pages an offset hint), so items added or
removed between two requests neither repeat nor get skipped. A cursor that cannot be read answers 422 with
``errors: {"cursor": …}``.

Use it as a parameter and hand it the list::

    async def list_things(actor: Key, paging: Paging) -> list[ThingOut]:
        return [_out(t) for t in paging.apply(await things.list_things(actor))]

``apply`` pages a list already in memory, sorted by ``key`` (default: the ``id``, ascending; ``order="desc"``
for newest first; ``order="list"`` for lists in an order no key expresses: the cursor's item is looked up).
``fetch`` pages a source read by offset and limit (e.g. ``audit.search``), sorted by ``key`` descending or
ascending.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Depends, Query, Request, Response

from app.services.errors import Invalid

T = TypeVar("T")
DEFAULT_LIMIT, MAX_LIMIT = 50, 200
_BAD = "This cursor is not valid; use the one a previous page returned (X-Next-Cursor or the Link header)."
_GONE = "The item this cursor points to no longer exists; start again without a cursor."
Order = Literal["asc", "desc", "list"]
KeyFn = Callable[[Any], Any]


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | str) and not isinstance(value, bool)


def _normal(key: Any) -> list[Any]:
    """A sort key as the cursor carries it: a list of numbers and strings."""
    return [*key] if isinstance(key, tuple | list) else [key]


def encode(key: Any, offset: int | None = None) -> str:
    data: dict[str, Any] = {"k": _normal(key)}
    if offset is not None:
        data["o"] = offset
    raw = json.dumps(data, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[list[Any], int]:
    """(the sort key, the offset hint) of a cursor; Invalid({"cursor": …}) for anything else."""
    try:
        text = cursor.strip()
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        key, offset = data["k"], data.get("o", 0)
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise Invalid({"cursor": _BAD}) from None
    if not isinstance(key, list) or not key or not all(_scalar(v) for v in key) \
            or not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise Invalid({"cursor": _BAD})
    return key, offset


@dataclass
class Pagination:
    """The page a request asks for (a route parameter: ``paging: Paging``)."""

    limit: int
    cursor: str | None
    request: Request | None = None
    response: Response | None = None

    @property
    def after(self) -> list[Any] | None:
        return None if self.cursor is None else decode(self.cursor)[0]

    def _beyond(self, key: Any, after: list[Any], order: Order) -> bool:
        mine = _normal(key)
        if len(mine) != len(after):
            raise Invalid({"cursor": _BAD})
        try:
            return mine > after if order == "asc" else mine < after
        except TypeError:  # a cursor of another list: a string where a number was
            raise Invalid({"cursor": _BAD}) from None

    def apply(self, items: Sequence[T], *, key: KeyFn = attrgetter("id"), order: Order = "asc") -> list[T]:
        """This page of ``items`` (every item, sorted as ``order`` says); sets the next-page headers."""
        after = self.after
        if after is None:
            rest = list(items)
        elif order == "list":
            keys = [_normal(key(item)) for item in items]
            if after not in keys:
                raise Invalid({"cursor": _GONE})
            rest = list(items[keys.index(after) + 1:])
        else:
            rest = [item for item in items if self._beyond(key(item), after, order)]
        page = rest[:self.limit]
        self._link(encode(key(page[-1])) if len(rest) > self.limit else None)
        return page

    async def fetch(self, read: Callable[[int, int], Awaitable[Sequence[T]]], *, key: KeyFn = attrgetter("id"),
                    order: Literal["asc", "desc"] = "desc") -> list[T]:
        """This page of a source read as ``read(offset, limit)`` in ``order`` of ``key``. The cursor's offset is
        a hint: it is moved back until the cursor's item (or one before it) is reached again, so rows removed
        meanwhile skip nothing, and rows up to the cursor's key are left out, so rows added meanwhile repeat
        nothing."""
        after, start = (None, 0) if self.cursor is None else decode(self.cursor)
        step = 1
        while after is not None and start > 0:  # find a place at or before the cursor's item
            probe = max(start - step, 0)
            first = await read(probe, 1)
            if not first or not self._beyond(key(first[0]), after, order):
                start = probe
                break
            start, step = probe, step * 2
        found: list[tuple[int, T]] = []
        offset = start
        while len(found) <= self.limit:
            want = self.limit + 1 - len(found)
            batch = list(await read(offset, want))
            for index, item in enumerate(batch):
                if after is None or self._beyond(key(item), after, order):
                    found.append((offset + index, item))
            offset += len(batch)
            if len(batch) < want:
                break
        page = found[:self.limit]
        more = len(found) > self.limit
        self._link(encode(key(page[-1][1]), page[-1][0] + 1) if more else None)
        return [item for _, item in page]

    def _link(self, next_cursor: str | None) -> None:
        if next_cursor is None or self.response is None:
            return
        self.response.headers["X-Next-Cursor"] = next_cursor
        if self.request is not None:
            url = self.request.url.include_query_params(cursor=next_cursor, limit=self.limit)
            self.response.headers["Link"] = f'<{url}>; rel="next"'


def pagination(request: Request, response: Response,
               limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page, 1 to 200")]
               = DEFAULT_LIMIT,
               cursor: Annotated[str | None, Query(
                   description="where to continue: the X-Next-Cursor (or Link rel=next) of the page before")]
               = None) -> Pagination:
    paging = Pagination(limit, cursor, request, response)
    if cursor is not None:
        decode(cursor)  # a bad cursor is refused before the route does any work
    return paging


Paging = Annotated[Pagination, Depends(pagination)]
NEXT_HEADERS = {"Link": {"description": 'the next page: `<url>; rel="next"` (absent on the last page)',
                         "schema": {"type": "string"}},
                "X-Next-Cursor": {"description": "the cursor of the next page (absent on the last page)",
                                  "schema": {"type": "string"}}}

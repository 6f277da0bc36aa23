"""Management API for public subscribers (/api/v1/subscribers): list, add, remove, export. ADMIN and up
(``subscriber.manage``), limited to the pages in the key's scope.

Adapters only: JSON → ``app.services.subscribers`` and rows → JSON. An e-mail subscriber added here gets the same
confirmation mail as one who used the public form, and receives news only once confirmed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from app.api.auth import api_actor
from app.api.management import _problems
from app.api.pagination import NEXT_HEADERS, Paging
from app.auth import Actor, scope
from app.services import pages, subscribers
from app.services.errors import Invalid, NotFound
from app.services.transaction import authorize
from app.services.validation import row_id
from storage.models import Subscriber

router = APIRouter(prefix="/api/v1", responses=_problems(401, 403))
Key = Annotated[Actor, Depends(api_actor)]
ACTION = "subscriber.manage"
Kind = Literal["email", "webhook", "push"]


class SubscriberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: str | StrictInt = Field(description="the page's id or slug")
    kind: Literal["email", "webhook"] = Field(description="email or webhook (browsers subscribe themselves)")
    address: str = Field(description="the e-mail address, or the webhook's http(s) URL")
    components: list[str | StrictInt] = Field(default_factory=list,
                                              description="only news touching these components of the page "
                                                          "(ids); empty: everything on the page")
    skip_confirmation: bool = Field(False, description="e-mail only: the address is confirmed already, send no "
                                                       "confirmation mail")


class SubscriberOut(BaseModel):
    id: str
    page_id: str
    page_slug: str
    kind: str
    address: str = Field(description="e-mail address, webhook URL or a browser's push endpoint")
    components: list[str] = Field(description="the names of the components it follows; empty: the whole page")
    confirmed: bool
    created_at: str | None = Field(json_schema_extra={"format": "date-time"})


def _out(r: subscribers.SubscriberRow) -> SubscriberOut:
    return SubscriberOut(id=str(r.id), page_id=str(r.page_id), page_slug=r.page_slug, kind=r.kind, address=r.address,
                         components=list(r.components), confirmed=r.confirmed, created_at=_time(r.created_at))


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _id(value: str) -> int:
    found = row_id(value)
    if found is None:
        raise NotFound(f"No subscriber with id {value}.")
    return found


async def _page_id(page: str | None, actor: Actor) -> int | None:
    return None if page is None else (await pages.find_page(page, actor=actor)).id


@router.get("/subscribers", tags=["subscribers"], summary="Subscribers, newest first",
            responses=_problems(404, 422) | {200: {"headers": NEXT_HEADERS}})
async def list_subscribers(actor: Key, paging: Paging,
                           page: Annotated[str | None, Query(description="only this page's (id or slug)")] = None,
                           kind: Annotated[Kind | None, Query(description="email, webhook or push")] = None,
                           search: Annotated[str, Query(description="part of the address")] = ""
                           ) -> list[SubscriberOut]:
    authorize(actor, ACTION)
    page_id = await _page_id(page, actor)

    async def read(offset: int, limit: int) -> list[subscribers.SubscriberRow]:
        rows, _ = await subscribers.list_subscribers(actor, page_id=page_id, kind=kind, search=search,
                                                     offset=offset, limit=limit)
        return rows

    rows = await paging.fetch(read, key=lambda r: (r.created_at.timestamp(), r.id), order="desc")
    return [_out(r) for r in rows]


@router.post("/subscribers", status_code=201, tags=["subscribers"], summary="Add a subscriber",
             description="An e-mail address gets a confirmation mail and receives news once confirmed (unless "
                         "`skip_confirmation`); a webhook receives news at once. Adding one that exists answers "
                         "200 with it.",
             responses=_problems(422) | {200: {"model": SubscriberOut, "description": "It existed already"}})
async def add_subscriber(body: SubscriberCreate, actor: Key, response: Response) -> SubscriberOut:
    authorize(actor, ACTION)
    page = await pages.page_field(None, body.page, actor)
    address = body.address.strip().lower() if body.kind == "email" else body.address.strip()
    try:
        added, new = await subscribers.add_subscriber(actor, page, kind=body.kind, address=address,
                                                      component_ids=body.components,
                                                      skip_confirmation=body.skip_confirmation)
    except Invalid as exc:
        raise Invalid({("address" if name in ("email", "url") else name): message
                       for name, message in exc.errors.items()}) from None
    await added.fetch_related("page")
    [row] = await subscribers.describe([added])
    if not new:
        response.status_code = 200
    response.headers["Location"] = f"/api/v1/subscribers/{row.id}"
    return _out(row)


@router.get("/subscribers.csv", tags=["subscribers"], summary="Every subscriber in scope as CSV",
            description="Columns: id, page, kind, address, components, confirmed, created_at.",
            responses={200: {"content": {"text/csv": {}}}} | _problems(404))
async def export_csv(actor: Key, page: Annotated[str | None, Query(description="only this page's")] = None
                     ) -> Response:
    authorize(actor, ACTION)
    text = await subscribers.export_csv(actor, await _page_id(page, actor))
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="subscribers.csv"'})


@router.get("/subscribers/{subscriber_id}", tags=["subscribers"], summary="One subscriber", responses=_problems(404))
async def get_subscriber(subscriber_id: str, actor: Key) -> SubscriberOut:
    authorize(actor, ACTION)
    s = await Subscriber.filter(id=_id(subscriber_id)).prefetch_related("page").first()
    if s is None or not await scope.page_in_scope(actor, s.page_id):  # type: ignore[attr-defined]
        raise NotFound(f"No subscriber with id {subscriber_id}.")
    [row] = await subscribers.describe([s])
    return _out(row)


@router.delete("/subscribers/{subscriber_id}", status_code=204, tags=["subscribers"], summary="Remove a subscriber",
               responses=_problems(404))
async def remove_subscriber(subscriber_id: str, actor: Key) -> Response:
    await subscribers.remove_subscriber(actor, _id(subscriber_id))
    return Response(status_code=204)

"""Management API for notification channels and their deliveries (/api/v1/channels, CONTRACT.md).

Adapters only: JSON → ``app.services.channels`` (ADMIN and up, audited) and rows → JSON. Secrets in a channel's
config come back masked; sending the mask back on a PATCH keeps the stored secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from app.api.auth import api_actor
from app.api.pagination import Paging
from app.api.types import RowId
from app.auth import Actor
from app.services import channels
from app.services.validation import MAX_ROW_ID
from storage.models import Channel, Delivery


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    from app.api.management import _problems as problems

    return problems(*codes)


router = APIRouter(prefix="/api/v1", responses=_problems(401, 403))
Key = Annotated[Actor, Depends(api_actor)]
Timestamp = Annotated[str | None, Field(json_schema_extra={"format": "date-time"})]
COMPONENTS_HELP = "only events touching these components (news about a whole page still passes); empty: all"
OPTIONS_HELP = ('{"flap_minutes": 5} at most one status-change notice per component per N minutes (0: every one); '
                '{"uptime_window": "24h"|"7d", "uptime_threshold": 99.9} for uptime.alert')
DeliveryStatus = Literal["pending", "sent", "failed", "dead"]
EVENTS_HELP = "event names (CONTRACT.md): incident.created, incident.updated, incident.resolved, maintenance.*, …"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelCreate(_Body):
    name: str
    kind: str = Field(description="webhook, discord, email or apprise")
    config: dict[str, Any] = Field(description='webhook: {"url", "secret"?, "headers"?}; discord: {"url", '
                                               '"username"?, "avatar_url"?}; email: {"host", "port", "security", '
                                               '"username"?, "password"?, "from_address", "to": [...]}; '
                                               'apprise: {"urls": [...]}')
    events: list[str] = Field(description=EVENTS_HELP)
    page_ids: list[int] = Field(default_factory=list, description="only events of these pages; empty: every page")
    component_ids: list[int] = Field(default_factory=list, description=COMPONENTS_HELP)
    options: dict[str, Any] = Field(default_factory=dict, description=OPTIONS_HELP)


class ChannelChange(_Body):
    name: str = None  # type: ignore[assignment]
    config: dict[str, Any] = None  # type: ignore[assignment]
    events: list[str] = Field(None, description=EVENTS_HELP)  # type: ignore[assignment]
    page_ids: list[int] = None  # type: ignore[assignment]
    component_ids: list[int] = Field(None, description=COMPONENTS_HELP)  # type: ignore[assignment]
    options: dict[str, Any] = Field(None, description=OPTIONS_HELP)  # type: ignore[assignment]
    enabled: bool = None  # type: ignore[assignment]


class ChannelOut(BaseModel):
    id: str
    name: str
    kind: str
    config: dict[str, Any]
    events: list[str]
    page_ids: list[int]
    component_ids: list[int]
    options: dict[str, Any]
    enabled: bool
    created_at: Timestamp
    updated_at: Timestamp


class TestOut(BaseModel):
    accepted: bool
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    channel_id: str | None = Field(description="the channel, or null for a delivery to a public subscriber")
    subscriber_id: str | None
    event: str
    page_id: str | None
    status: str = Field(description="pending, sent, failed or dead")
    attempts: int
    next_attempt_at: Timestamp
    last_error: str
    created_at: Timestamp
    sent_at: Timestamp


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _channel(c: Channel) -> ChannelOut:
    return ChannelOut(id=str(c.id), name=c.name, kind=c.kind, config=channels.public_config(c), events=c.events,
                      page_ids=c.page_ids, component_ids=c.component_ids or [], options=c.options or {},
                      enabled=c.enabled, created_at=_time(c.created_at),
                      updated_at=_time(c.updated_at))


def _delivery(d: Delivery) -> DeliveryOut:
    channel_id, subscriber_id = d.channel_id, d.subscriber_id  # type: ignore[attr-defined]
    return DeliveryOut(id=str(d.id), channel_id=None if channel_id is None else str(channel_id),
                       subscriber_id=None if subscriber_id is None else str(subscriber_id), event=d.event,
                       page_id=str(d.page_id) if d.page_id is not None else None, status=d.status,
                       attempts=d.attempts, next_attempt_at=_time(d.next_attempt_at), last_error=d.last_error,
                       created_at=_time(d.created_at), sent_at=_time(d.sent_at))


async def _get(actor: Actor, channel_id: int) -> Channel:
    from app.services.errors import NotFound

    found = [c for c in await channels.list_channels(actor) if c.id == channel_id]
    if not found:
        raise NotFound(f"No channel with id {channel_id}.")
    return found[0]


@router.get("/channels", tags=["notifications"], summary="List notification channels")
async def list_channels(actor: Key, paging: Paging) -> list[ChannelOut]:
    return [_channel(c) for c in paging.apply(await channels.list_channels(actor), key=lambda c: (c.name, c.id))]


@router.post("/channels", status_code=201, tags=["notifications"], summary="Create a channel",
             responses=_problems(422))
async def create_channel(body: ChannelCreate, actor: Key, response: Response) -> ChannelOut:
    channel = await channels.create_channel(actor, name=body.name, kind=body.kind, config=body.config,
                                            events=body.events, page_ids=body.page_ids,
                                            component_ids=body.component_ids, options=body.options)
    response.headers["Location"] = f"/api/v1/channels/{channel.id}"
    return _channel(channel)


@router.get("/channels/{channel_id}", tags=["notifications"], summary="One channel", responses=_problems(404))
async def get_channel(channel_id: RowId, actor: Key) -> ChannelOut:
    return _channel(await _get(actor, channel_id))


@router.patch("/channels/{channel_id}", tags=["notifications"], summary="Change a channel",
              responses=_problems(404, 422))
async def update_channel(channel_id: RowId, body: ChannelChange, actor: Key) -> ChannelOut:
    return _channel(await channels.update_channel(actor, channel_id, **body.model_dump(exclude_unset=True)))


@router.delete("/channels/{channel_id}", status_code=204, tags=["notifications"], summary="Delete a channel",
               responses=_problems(404))
async def delete_channel(channel_id: RowId, actor: Key) -> Response:
    await channels.delete_channel(actor, channel_id)
    return Response(status_code=204)


@router.post("/channels/{channel_id}/test", tags=["notifications"], summary="Send a test notification now",
             responses=_problems(404))
async def send_test(channel_id: RowId, actor: Key) -> TestOut:
    error = await channels.send_test(actor, channel_id)
    return TestOut(accepted=error is None, error=error)


@router.get("/deliveries", tags=["notifications"], summary="Deliveries, newest first")
async def list_deliveries(actor: Key, status: Annotated[list[DeliveryStatus] | None, Query(
        description="pending, sent, failed or dead; repeat for several")] = None,
        channel_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None, *, paging: Paging
        ) -> list[DeliveryOut]:
    rows = await channels.list_deliveries(actor, statuses=status, channel_id=channel_id, limit=1000)
    return [_delivery(d) for d in paging.apply(rows, order="desc")]


@router.post("/deliveries/{delivery_id}/retry", tags=["notifications"], summary="Send a failed delivery again",
             responses=_problems(404, 422))
async def retry_delivery(delivery_id: RowId, actor: Key) -> DeliveryOut:
    return _delivery(await channels.retry_delivery(actor, delivery_id))

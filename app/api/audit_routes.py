"""Management API for the audit trail (/api/v1/audit): search it, verify its hash chain, export it. ADMIN and up
(``audit.view``).

Adapters only: query → ``app.audit.search`` / ``verdict`` / ``verify_stored`` / ``export_json`` / ``export_csv``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from app import audit
from app.api.auth import api_actor
from app.api.management import _problems
from app.api.pagination import NEXT_HEADERS, Paging
from app.auth import Actor
from app.services.transaction import authorize

router = APIRouter(prefix="/api/v1", responses=_problems(401, 403))
Key = Annotated[Actor, Depends(api_actor)]
ACTION = "audit.view"


class AuditEntryOut(BaseModel):
    seq: int = Field(description="the entry's place in the chain, from 1")
    at: str = Field(json_schema_extra={"format": "date-time"})
    actor_type: str = Field(description="user, apikey or system")
    actor_id: str | None
    actor_label: str
    action: str
    entity_type: str
    entity_id: str | None
    changes: dict[str, Any] = Field(description='{field: {"old", "new"}}; secrets show as "***"')
    ip: str | None
    user_agent: str | None
    severity: str = Field(description="info, warning or critical")
    prev_hash: str
    hash: str


class BreakOut(BaseModel):
    seq: int
    reason: str


class VerifyOut(BaseModel):
    intact: bool
    message: str
    first_broken: BreakOut | None = Field(None, description="where the chain first does not hold")


class Filters:
    """The search filters, shared by the list and the export."""

    def __init__(self,
                 actor: Annotated[str | None, Query(description="part of the actor's label (e.g. an e-mail), "
                                                                "or its id")] = None,
                 action: Annotated[str | None, Query(description="part of the action, e.g. `page.` or "
                                                                 "`incident.create`")] = None,
                 entity_type: Annotated[str | None, Query(description="exactly, e.g. page, component, user")] = None,
                 entity_id: Annotated[str | None, Query(description="exactly")] = None,
                 severity: Annotated[Literal["info", "warning", "critical"] | None, Query()] = None,
                 since: Annotated[datetime | None, Query(description="from this moment (ISO 8601; no offset: "
                                                                     "UTC), inclusive")] = None,
                 until: Annotated[datetime | None, Query(description="before this moment, exclusive")] = None
                 ) -> None:
        self.values = {"actor": actor, "action": action, "entity_type": entity_type, "entity_id": entity_id,
                       "severity": severity, "since": since, "until": until}


def _out(stored: audit.StoredEntry) -> AuditEntryOut:
    e = stored.entry
    return AuditEntryOut(seq=e.seq, at=e.at, actor_type=e.actor_type, actor_id=e.actor_id, actor_label=e.actor_label,
                         action=e.action, entity_type=e.entity_type, entity_id=e.entity_id, changes=e.changes or {},
                         ip=e.ip, user_agent=e.user_agent, severity=e.severity, prev_hash=stored.prev_hash,
                         hash=stored.hash)


@router.get("/audit", tags=["audit"], summary="Audit entries, newest first",
            responses=_problems(422) | {200: {"headers": NEXT_HEADERS}})
async def list_audit(actor: Key, paging: Paging, filters: Annotated[Filters, Depends()]) -> list[AuditEntryOut]:
    authorize(actor, ACTION)

    async def read(offset: int, limit: int) -> list[audit.StoredEntry]:
        return await audit.search(**filters.values, offset=offset, limit=limit)

    return [_out(s) for s in await paging.fetch(read, key=lambda s: s.entry.seq, order="desc")]


@router.get("/audit/verify", tags=["audit"], summary="Check the audit trail's hash chain",
            description="`intact: false` names the first entry that was edited, removed or reordered.")
async def verify(actor: Key) -> VerifyOut:
    authorize(actor, ACTION)
    intact, message = await audit.verdict()
    broken = None if intact else await audit.verify_stored()
    return VerifyOut(intact=intact, message=message,
                     first_broken=None if broken is None else BreakOut(seq=broken.seq, reason=broken.reason))


@router.get("/audit/export", tags=["audit"], summary="Every matching entry as a JSON or CSV file",
            description="JSON keeps every hashed field and both hashes (enough to re-check the chain); CSV is for "
                        "spreadsheets (cells that look like formulas start with an apostrophe).",
            responses={200: {"content": {"application/json": {}, "text/csv": {}}}} | _problems(422))
async def export(actor: Key, filters: Annotated[Filters, Depends()],
                 format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json") -> Response:
    authorize(actor, ACTION)
    rows = await audit.search(**filters.values, limit=None)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    headers = {"Content-Disposition": f'attachment; filename="beacon-audit-{stamp}.{format}"'}
    if format == "csv":
        return Response(audit.export_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(audit.export_json(rows), media_type="application/json", headers=headers)

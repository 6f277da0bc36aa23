"""Incidents: open one, post updates on its timeline, resolve it, publish its root-cause write-up; and the
templates that prefill new ones.

Each incident holds the components it affects at a status of its own (``IncidentComponent``); the components
show what their holds give them (app/services/holds.py), so resolving one incident leaves a component alone
while another incident or a maintenance still holds it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q

from app import events
from app.auth import Actor, scope
from app.enums import ComponentStatus, IncidentImpact, IncidentStatus
from app.lifecycle import status_times
from app.services import holds
from app.services.components import parse_status, placement_problems
from app.services.errors import Invalid, NotFound
from app.services.pages import page_field
from app.services.transaction import Change, authorize, change, diff
from app.services.validation import collect, row_id, text_problem, to_moment
from storage.models import (
    Component,
    Incident,
    IncidentComponent,
    IncidentTemplate,
    IncidentUpdate,
)

NAME_MAX = 300
BODY_MAX = 20_000
RESOLVED_BODY = "This incident has been resolved."
# A clock a little ahead of ours must not make "now" look like the future.
FUTURE_GRACE = timedelta(minutes=5)


# --- input -------------------------------------------------------------------------------------------------------

def parse_impact(value: Any) -> IncidentImpact:
    try:
        return IncidentImpact(str(value).strip().upper())
    except ValueError:
        allowed = ", ".join(i.value for i in IncidentImpact)
        raise Invalid({"impact": f"Unknown impact '{value}'; use one of {allowed}."}) from None


def parse_incident_status(value: Any) -> IncidentStatus:
    try:
        return IncidentStatus(str(value).strip().upper())
    except ValueError:
        allowed = ", ".join(s.value for s in IncidentStatus)
        raise Invalid({"status": f"Unknown status '{value}'; use one of {allowed}."}) from None


def body_problem(body: str, *, required: bool = True) -> str | None:
    if required and not body.strip():
        return "Write what is happening: an update needs a message."
    return text_problem(body, "message", required=False, max_length=BODY_MAX)


async def _component_statuses(conn: Any, page_id: int, raw: Any) -> dict[int, ComponentStatus]:
    """``{component id: STATUS}`` from input keyed by id (int or text); every component must be on the page."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise Invalid({"components": "Give the components as {component id: STATUS}."})
    wanted: dict[int, ComponentStatus] = {}
    problems: list[str] = []
    for key, value in raw.items():
        cid = row_id(key)
        if cid is None:
            problems.append(f"'{key}' is not a component id.")
            continue
        try:
            wanted[cid] = parse_status(value)
        except Invalid as exc:
            problems.append(f"Component {cid}: {exc.errors['status']}")
    problems.extend(await placement_problems(conn, page_id, list(wanted)))
    if problems:
        raise Invalid({"components": " ".join(problems)})
    return wanted


async def _locked_incident(ch: Change, incident_id: int) -> Incident:
    await ch.lock(f"incident:{incident_id}")
    incident = await Incident.filter(id=incident_id).using_db(ch.conn).first()
    if incident is None or not await scope.page_in_scope(ch.actor, incident.page_id, ch.conn):  # type: ignore[attr-defined]
        raise NotFound(f"No incident with id {incident_id}.")
    return incident


def _event_data(incident: Incident, update: IncidentUpdate | None = None, **extra: Any) -> dict[str, Any]:
    return {"incident_id": incident.id, "page_id": incident.page_id,  # type: ignore[attr-defined]
            "name": incident.name, "status": incident.status.value, "impact": incident.impact.value,
            "update_id": update.id if update else None, **extra}


async def _hold(ch: Change, incident_id: int, statuses: dict[int, ComponentStatus]) -> None:
    """Record the status the incident holds each component at (new components join the incident)."""
    for cid, status in statuses.items():
        row = await IncidentComponent.filter(incident_id=incident_id, component_id=cid).using_db(ch.conn).first()
        if row is None:
            await IncidentComponent.create(using_db=ch.conn, incident_id=incident_id, component_id=cid, status=status)
        elif row.status != status:
            await IncidentComponent.filter(id=row.id).using_db(ch.conn).update(status=status)


async def _affected_ids(conn: Any, incident_id: int) -> list[int]:
    return list(await IncidentComponent.filter(incident_id=incident_id).using_db(conn)
                .values_list("component_id", flat=True))


# --- incidents ----------------------------------------------------------------------------------------------------

async def create_incident(actor: Actor, *, page: int | str, name: str, impact: Any = IncidentImpact.MINOR,
                          status: Any = IncidentStatus.INVESTIGATING, body: str = "",
                          components: dict[Any, Any] | None = None, started_at: Any = None,
                          resolved_at: Any = None, backfill: bool = False, pinned: bool = False,
                          now: datetime | None = None) -> Incident:
    """Open an incident with its first update, holding ``components`` ({id: STATUS}) at those statuses.

    ``backfill``: record an incident that is already over (``started_at`` and ``resolved_at`` in the past); it
    changes no component and notifies nobody."""
    authorize(actor, "incident.create")
    now = now or datetime.now(UTC)
    name, body = (name or "").strip(), body or ""
    errors = collect(name=text_problem(name, "title", max_length=NAME_MAX), body=body_problem(body))
    try:
        impact = parse_impact(impact)
    except Invalid as exc:
        errors.update(exc.errors)
    try:
        status = IncidentStatus.RESOLVED if backfill else parse_incident_status(status)
    except Invalid as exc:
        errors.update(exc.errors)
    async with change(actor, "incident.create") as ch:
        try:
            page_row = await page_field(ch.conn, page, actor)
        except Invalid as exc:
            errors.update(exc.errors)
            page_row = None
        # a time without an offset is read in the page's zone, as the people typing it think
        zone = page_row.time_zone if page_row is not None else "UTC"
        start = to_moment(started_at, zone) if started_at not in (None, "") else None
        if started_at not in (None, "") and start is None:
            errors["started_at"] = "Give the start as a date and time, e.g. 2026-11-23T14:05:00+01:00."
        end = to_moment(resolved_at, zone) if resolved_at not in (None, "") else None
        if resolved_at not in (None, "") and end is None:
            errors["resolved_at"] = "Give the resolution time as a date and time, e.g. 2026-11-23T15:00:00+01:00."
        if start is not None and start > now + FUTURE_GRACE:
            errors["started_at"] = "An incident cannot start in the future; schedule maintenance instead."
        if backfill:
            if start is None and "started_at" not in errors:
                errors["started_at"] = "A backfilled incident needs the time it started."
            end = end or start
            if end is not None and end > now + FUTURE_GRACE:
                errors["resolved_at"] = "A backfilled incident is over: its resolution time must be in the past."
            if start is not None and end is not None and end < start:
                errors["resolved_at"] = "The resolution time must be after the start."
        elif end is not None:
            errors["resolved_at"] = "Only a backfilled incident is created resolved; post a resolving update instead."
        statuses: dict[int, ComponentStatus] = {}
        if page_row is not None:
            try:
                statuses = await _component_statuses(ch.conn, page_row.id, components)
            except Invalid as exc:
                errors.update(exc.errors)
        if errors:
            raise Invalid(errors)
        assert page_row is not None
        start = start or now
        times = status_times(status, end if backfill else now, {})
        if status == IncidentStatus.RESOLVED and not backfill:
            times["resolved_at"] = now
        incident = await Incident.create(
            using_db=ch.conn, page_id=page_row.id, name=name, impact=impact, status=status, backfilled=backfill,
            pinned=pinned, started_at=start, **times)
        await _hold(ch, incident.id, statuses)
        component_changes = {} if backfill else await holds.reconcile(ch, statuses, now)
        update = await IncidentUpdate.create(
            using_db=ch.conn, incident_id=incident.id, status=status, body=body, author_id=actor.user_id,
            display_at=end if backfill else now,
            affected_components={str(k): v for k, v in component_changes.items()})
        await ch.audit("incident.create", "incident", incident.id, diff({}, {
            "page": page_row.slug, "name": name, "impact": impact, "status": status, "body": body,
            "components": {str(k): v.value for k, v in statuses.items()}, "started_at": start,
            "backfilled": backfill, "pinned": pinned, "component_changes": component_changes}))
        page_ids = {page_row.id} | await holds.pages_showing(ch.conn, statuses)
        ch.emit(events.INCIDENT_BACKFILLED if backfill else events.INCIDENT_CREATED,
                _event_data(incident, update), page_ids)
        if status == IncidentStatus.RESOLVED and not backfill:
            ch.emit(events.INCIDENT_RESOLVED, _event_data(incident, update), page_ids)
    return incident


async def post_update(actor: Actor, incident_id: int, *, status: Any, body: str,
                      components: dict[Any, Any] | None = None, now: datetime | None = None) -> IncidentUpdate:
    """Add an update to the timeline; it may move the incident to another status and change the statuses it holds
    components at (adding components it did not affect yet). Resolving releases every component it held."""
    authorize(actor, "incident.update")
    now = now or datetime.now(UTC)
    body = body or ""
    errors = collect(body=body_problem(body))
    try:
        status = parse_incident_status(status)
    except Invalid as exc:
        errors.update(exc.errors)
    async with change(actor, "incident.update") as ch:
        incident = await _locked_incident(ch, incident_id)
        try:
            statuses = await _component_statuses(ch.conn, incident.page_id, components)  # type: ignore[attr-defined]
        except Invalid as exc:
            errors.update(exc.errors)
        if errors:
            raise Invalid(errors)
        was_resolved = incident.status == IncidentStatus.RESOLVED
        await _hold(ch, incident.id, statuses)
        times = status_times(status, now, {f: getattr(incident, f) for f in
                                           ("identified_at", "monitoring_at", "resolved_at")})
        await Incident.filter(id=incident.id).using_db(ch.conn).update(status=status, updated_at=now, **times)
        touched = set(statuses) | set(await _affected_ids(ch.conn, incident.id))
        component_changes = await holds.reconcile(ch, touched, now) if not incident.backfilled else {}
        update = await IncidentUpdate.create(
            using_db=ch.conn, incident_id=incident.id, status=status, body=body, author_id=actor.user_id,
            display_at=now, affected_components={str(k): v for k, v in component_changes.items()})
        await ch.audit("incident.update", "incident", incident.id, {
            **diff({"status": incident.status}, {"status": status}), "body": {"old": None, "new": body},
            **({"components": {"old": None, "new": {str(k): v.value for k, v in statuses.items()}}}
               if statuses else {}),
            **({"component_changes": {"old": None, "new": component_changes}} if component_changes else {})})
        incident.status = status
        page_ids = {incident.page_id} | await holds.pages_showing(ch.conn, touched)  # type: ignore[attr-defined]
        name = events.INCIDENT_BACKFILLED if incident.backfilled else (
            events.INCIDENT_RESOLVED if status == IncidentStatus.RESOLVED and not was_resolved
            else events.INCIDENT_UPDATED)
        ch.emit(name, _event_data(incident, update, reopened=was_resolved and status != IncidentStatus.RESOLVED),
                page_ids)
    return update


async def resolve_incident(actor: Actor, incident_id: int, body: str = RESOLVED_BODY,
                           now: datetime | None = None) -> IncidentUpdate:
    """The one-click resolve: a RESOLVED update; each component goes back to OPERATIONAL unless something else
    still holds it."""
    return await post_update(actor, incident_id, status=IncidentStatus.RESOLVED, body=body or RESOLVED_BODY, now=now)


async def edit_incident(actor: Actor, incident_id: int, *, name: str | None = None, impact: Any = None,
                        pinned: bool | None = None) -> Incident:
    """Rename, change the impact, or pin to / unpin from the top of the page."""
    authorize(actor, "incident.update")
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if name is not None:
        values["name"] = name.strip()
        errors.update(collect(name=text_problem(values["name"], "title", max_length=NAME_MAX)))
    if impact is not None:
        try:
            values["impact"] = parse_impact(impact)
        except Invalid as exc:
            errors.update(exc.errors)
    if pinned is not None:
        values["pinned"] = bool(pinned)
    if errors:
        raise Invalid(errors)
    async with change(actor, "incident.update") as ch:
        incident = await _locked_incident(ch, incident_id)
        changes = diff({k: getattr(incident, k) for k in values}, values)
        if not changes:
            return incident
        await Incident.filter(id=incident_id).using_db(ch.conn).update(**values, updated_at=datetime.now(UTC))
        await ch.audit("incident.edit", "incident", incident_id, changes)
        for key, value in values.items():
            setattr(incident, key, value)
        page_ids = {incident.page_id} | await holds.pages_showing(  # type: ignore[attr-defined]
            ch.conn, await _affected_ids(ch.conn, incident_id))
        # a quiet edit: notifications are for news on the timeline, not for a fixed typo
        ch.emit(events.PAGE_UPDATED if incident.backfilled else events.INCIDENT_UPDATED,
                _event_data(incident, None, edited=sorted(changes)), page_ids)
    return incident


async def set_postmortem(actor: Actor, incident_id: int, body: str, *, publish: bool,
                         now: datetime | None = None) -> Incident:
    """Save the root-cause write-up, as a draft or published on the incident's page. Only a resolved incident
    has one; an empty body unpublishes it."""
    authorize(actor, "incident.update")
    now = now or datetime.now(UTC)
    body = body or ""
    problem = text_problem(body, "write-up", required=publish, max_length=BODY_MAX * 5)
    if problem:
        raise Invalid({"postmortem": problem})
    async with change(actor, "incident.update") as ch:
        incident = await _locked_incident(ch, incident_id)
        if incident.status != IncidentStatus.RESOLVED:
            raise Invalid({"postmortem": "Resolve the incident before writing its root-cause write-up."})
        published_at = (incident.postmortem_published_at or now) if publish and body.strip() else None
        before = {"postmortem_body": incident.postmortem_body, "postmortem_published": bool(
            incident.postmortem_published_at)}
        after = {"postmortem_body": body, "postmortem_published": published_at is not None}
        changes = diff(before, after)
        if not changes:
            return incident
        await Incident.filter(id=incident_id).using_db(ch.conn).update(
            postmortem_body=body, postmortem_published_at=published_at, updated_at=now)
        await ch.audit("incident.postmortem", "incident", incident_id, changes)
        incident.postmortem_body, incident.postmortem_published_at = body, published_at
        newly_published = published_at is not None and not before["postmortem_published"]
        ch.emit(events.INCIDENT_UPDATED if newly_published and not incident.backfilled else events.PAGE_UPDATED,
                _event_data(incident, None, postmortem=published_at is not None),
                {incident.page_id})  # type: ignore[attr-defined]
    return incident


async def delete_incident(actor: Actor, incident_id: int) -> None:
    """Remove an incident (one opened by mistake); the components it held are released."""
    async with change(actor, "incident.delete") as ch:
        incident = await _locked_incident(ch, incident_id)
        affected = await _affected_ids(ch.conn, incident_id)
        page_ids = {incident.page_id} | await holds.pages_showing(ch.conn, affected)  # type: ignore[attr-defined]
        await Incident.filter(id=incident_id).using_db(ch.conn).delete()
        component_changes = await holds.reconcile(ch, affected)
        await ch.audit("incident.delete", "incident", incident_id, {
            "name": {"old": incident.name, "new": None}, "status": {"old": incident.status, "new": None},
            **({"component_changes": {"old": None, "new": component_changes}} if component_changes else {})},
            severity="warning")
        ch.emit(events.INCIDENT_DELETED, {"incident_id": incident_id, "name": incident.name}, page_ids)


# --- reading ------------------------------------------------------------------------------------------------------

async def get_incident(incident_id: int, *, actor: Actor | None = None) -> Incident:
    """The incident; NotFound if there is none or, given an ``actor``, if its page is outside their scope."""
    incident = await Incident.filter(id=incident_id).first()
    if incident is None or not await scope.page_in_scope(actor, incident.page_id):  # type: ignore[attr-defined]
        raise NotFound(f"No incident with id {incident_id}.")
    return incident


async def list_incidents(page_id: int | None = None, *, limit: int = 200, actor: Actor | None = None
                         ) -> list[Incident]:
    """Open incidents first (pinned, then newest), then resolved ones, newest first; given an ``actor``, only
    those of pages in their scope."""
    query = Incident.all() if page_id is None else Incident.filter(page_id=page_id)
    if not scope.sees_everything(actor):
        query = query.filter(scope.page_q(actor, "page__"))  # type: ignore[arg-type]
    open_ = await query.filter(~Q(status=IncidentStatus.RESOLVED)).order_by("-pinned", "-started_at", "-id")
    done = await query.filter(status=IncidentStatus.RESOLVED).order_by("-started_at", "-id").limit(limit)
    return [*open_, *done]


async def timeline(incident_id: int) -> list[IncidentUpdate]:
    """The incident's updates, newest first, with their authors."""
    return await IncidentUpdate.filter(incident_id=incident_id).order_by("-display_at", "-id").prefetch_related(
        "author")


async def held_components(incident_id: int) -> dict[int, ComponentStatus]:
    rows = await IncidentComponent.filter(incident_id=incident_id).values_list("component_id", "status")
    return {cid: ComponentStatus(status) for cid, status in rows}


# --- templates ----------------------------------------------------------------------------------------------------

TEMPLATE_FIELDS = ("name", "title", "body", "impact", "components")


async def save_template(actor: Actor, *, name: str, title: str, body: str = "", impact: Any = IncidentImpact.MINOR,
                        components: dict[Any, Any] | None = None, template_id: int | None = None
                        ) -> IncidentTemplate:
    """Create a template, or replace the fields of ``template_id``."""
    authorize(actor, "template.manage")
    name, title, body = (name or "").strip(), (title or "").strip(), body or ""
    errors = collect(name=text_problem(name, "template name", max_length=100),
                     title=text_problem(title, "title", max_length=NAME_MAX),
                     body=body_problem(body, required=False))
    try:
        impact = parse_impact(impact)
    except Invalid as exc:
        errors.update(exc.errors)
    wanted: dict[str, str] = {}
    for key, value in (components or {}).items():
        cid = row_id(key)
        try:
            status = parse_status(value)
        except Invalid:
            errors["components"] = f"Unknown status '{value}' for component {key}."
            continue
        if cid is None:
            errors["components"] = f"'{key}' is not a component id."
            continue
        wanted[str(cid)] = status.value
    async with change(actor, "template.manage") as ch:
        known = set(await Component.filter(id__in=[int(k) for k in wanted]).using_db(ch.conn)
                    .values_list("id", flat=True)) if wanted else set()
        visible = await scope.visible_component_ids(actor, ch.conn) if wanted else None
        if visible is not None:
            # another team's components stay in a shared template that names them already, unseen by this actor
            existing = await IncidentTemplate.filter(id=template_id).using_db(ch.conn).first() \
                if template_id is not None else None
            known &= visible | {int(k) for k in (existing.components if existing else None) or {}}
        missing = [k for k in wanted if int(k) not in known]
        if missing:
            errors["components"] = f"No component with id {', '.join(missing)}."
        clash = IncidentTemplate.filter(name=name).using_db(ch.conn)
        if template_id is not None:
            clash = clash.exclude(id=template_id)
        if name and await clash.exists():
            errors["name"] = f"A template named '{name}' already exists."
        if errors:
            raise Invalid(errors)
        values = {"name": name, "title": title, "body": body, "impact": impact, "components": wanted}
        if template_id is None:
            template = await IncidentTemplate.create(using_db=ch.conn, **values)
            await ch.audit("template.create", "incident_template", template.id, diff({}, values))
        else:
            template = await IncidentTemplate.filter(id=template_id).using_db(ch.conn).first()
            if template is None:
                raise NotFound(f"No template with id {template_id}.")
            before = {k: getattr(template, k) for k in TEMPLATE_FIELDS}
            await IncidentTemplate.filter(id=template_id).using_db(ch.conn).update(**values)
            await ch.audit("template.update", "incident_template", template_id, diff(before, values))
            for key, value in values.items():
                setattr(template, key, value)
        ch.emit(events.TEMPLATE_CHANGED, {"template_id": template.id})
    return template


async def delete_template(actor: Actor, template_id: int) -> None:
    async with change(actor, "template.manage") as ch:
        template = await IncidentTemplate.filter(id=template_id).using_db(ch.conn).first()
        if template is None:
            raise NotFound(f"No template with id {template_id}.")
        await IncidentTemplate.filter(id=template_id).using_db(ch.conn).delete()
        await ch.audit("template.delete", "incident_template", template_id, {"name": {"old": template.name,
                                                                                      "new": None}})
        ch.emit(events.TEMPLATE_CHANGED, {"template_id": template_id})


async def list_templates() -> list[IncidentTemplate]:
    return await IncidentTemplate.all().order_by("name")

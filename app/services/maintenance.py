"""Scheduled maintenance: announce a window, start it (on time, by the timer, or early by hand), extend it,
post updates, complete it; recurring windows schedule their next occurrence when one completes.

While a window is IN_PROGRESS it holds its components at MAINTENANCE (app/services/holds.py): monitors do not open
incidents for them and the time does not count against their uptime.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app import events, recurrence
from app.auth import Actor, scope
from app.enums import MaintenanceState
from app.lifecycle import Window
from app.services import holds
from app.services.components import placement_problems
from app.services.errors import Invalid, NotFound
from app.services.pages import page_field, time_zones
from app.services.transaction import Change, authorize, change, diff
from app.services.validation import collect, row_id, text_problem, to_moment
from storage.models import Maintenance, MaintenanceComponent, MaintenanceUpdate

NAME_MAX = 300
BODY_MAX = 20_000
MAX_WINDOW = timedelta(days=31)
REMIND_MAX_MINUTES = 7 * 24 * 60
# Typing "now" into a form takes a moment: a start this little in the past still counts as now.
PAST_GRACE = timedelta(minutes=5)


def _problem_for_time(value: Any, field: str) -> str:
    return f"Give the {field} as a date and time, e.g. 2026-11-23T02:00 (read in the page's time zone)."


async def _component_ids(conn: Any, page_id: int, raw: Any) -> list[int]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple | set):
        raise Invalid({"components": "Give the components as a list of ids."})
    ids: list[int] = []
    problems: list[str] = []
    for value in raw:
        cid = row_id(value)
        if cid is None:
            problems.append(f"'{value}' is not a component id.")
        elif cid not in ids:
            ids.append(cid)
    problems.extend(await placement_problems(conn, page_id, ids))
    if problems:
        raise Invalid({"components": " ".join(problems)})
    return ids


async def _locked(ch: Change, maintenance_id: int) -> Maintenance:
    await ch.lock(f"maintenance:{maintenance_id}")
    row = await Maintenance.filter(id=maintenance_id).using_db(ch.conn).first()
    if row is None or not await scope.page_in_scope(ch.actor, row.page_id, ch.conn):  # type: ignore[attr-defined]
        raise NotFound(f"No maintenance with id {maintenance_id}.")
    return row


async def _affected(conn: Any, maintenance_id: int) -> list[int]:
    return list(await MaintenanceComponent.filter(maintenance_id=maintenance_id).using_db(conn)
                .values_list("component_id", flat=True))


def _event_data(m: Maintenance, **extra: Any) -> dict[str, Any]:
    return {"maintenance_id": m.id, "page_id": m.page_id, "name": m.name,  # type: ignore[attr-defined]
            "state": m.state.value, "scheduled_for": m.scheduled_for.isoformat(),
            "scheduled_until": m.scheduled_until.isoformat(), **extra}


async def _page_ids(conn: Any, m: Maintenance, component_ids: list[int]) -> set[int]:
    return {m.page_id} | await holds.pages_showing(conn, component_ids)  # type: ignore[attr-defined]


async def _note(ch: Change, m: Maintenance, state: MaintenanceState, body: str, at: datetime) -> None:
    if body.strip():
        await MaintenanceUpdate.create(using_db=ch.conn, maintenance_id=m.id, state=state, body=body,
                                       author_id=ch.actor.user_id, display_at=at)


# --- scheduling ---------------------------------------------------------------------------------------------------

async def schedule_maintenance(actor: Actor, *, page: int | str, name: str, body: str = "", starts_at: Any = None,
                               ends_at: Any = None, time_zone: str | None = None, components: Any = None,
                               recurrence_rule: dict[str, Any] | None = None, remind_minutes: Any = 60,
                               backfill: bool = False, now: datetime | None = None) -> Maintenance:
    """Announce a maintenance window on a page. Times without an offset are read in ``time_zone`` (the page's
    zone by default). A recurring window (``recurrence_rule``, see app/recurrence.py) starts at ``starts_at`` or,
    without it, at the rule's next occurrence; each completed occurrence schedules the next one.
    ``backfill``: record a window that is already over; it notifies nobody and changes no component."""
    authorize(actor, "maintenance.create")
    now = now or datetime.now(UTC)
    name, body = (name or "").strip(), body or ""
    errors = collect(name=text_problem(name, "title", max_length=NAME_MAX),
                     body=text_problem(body, "description", required=False, max_length=BODY_MAX))
    async with change(actor, "maintenance.create") as ch:
        try:
            page_row = await page_field(ch.conn, page, actor)
        except Invalid as exc:
            errors.update(exc.errors)
            page_row = None
        zone = (time_zone or (page_row.time_zone if page_row else "UTC") or "UTC").strip()
        if zone not in time_zones() and zone != "UTC":
            errors["time_zone"] = f"Unknown time zone '{zone}'; use a name such as Europe/Berlin."
            zone = "UTC"
        rule = None
        if recurrence_rule:
            if backfill:
                errors["recurrence"] = "A backfilled maintenance is over; it cannot recur."
            else:
                try:
                    rule = recurrence.parse(recurrence_rule)
                except ValueError as exc:
                    errors["recurrence"] = str(exc)
        start = to_moment(starts_at, zone) if starts_at not in (None, "") else None
        end = to_moment(ends_at, zone) if ends_at not in (None, "") else None
        if starts_at not in (None, "") and start is None:
            errors["starts_at"] = _problem_for_time(starts_at, "start")
        if ends_at not in (None, "") and end is None:
            errors["ends_at"] = _problem_for_time(ends_at, "end")
        if rule is not None and start is None and "starts_at" not in errors:
            start = recurrence.next_start(rule, now, zone)
            if start is None:
                errors["recurrence"] = "This rule never occurs; check its days and times."
        if rule is not None and start is not None and end is None and "ends_at" not in errors:
            end = start + rule.duration
        if start is None and "starts_at" not in errors:
            errors["starts_at"] = "Give the time the maintenance starts."
        if end is None and "ends_at" not in errors:
            errors["ends_at"] = "Give the time the maintenance ends."
        if start is not None and end is not None:
            if end <= start:
                errors["ends_at"] = "The end must be after the start."
            elif end - start > MAX_WINDOW:
                errors["ends_at"] = "A maintenance window can last at most 31 days."
            elif backfill and end > now:
                errors["ends_at"] = "A backfilled maintenance is over: its end must be in the past."
            elif not backfill and end <= now:
                errors["ends_at"] = ("This window has already ended. To record a past maintenance, "
                                     "mark it as backfilled.")
            elif not backfill and start < now - PAST_GRACE:
                errors["starts_at"] = ("The start is in the past. Leave it at now to start at once, or mark a "
                                       "past maintenance as backfilled.")
        remind = _minutes(remind_minutes)
        if remind is None:
            errors["remind_minutes"] = f"Give the reminder as whole minutes before the start (0-{REMIND_MAX_MINUTES})."
        component_ids: list[int] = []
        if page_row is not None:
            try:
                component_ids = await _component_ids(ch.conn, page_row.id, components)
            except Invalid as exc:
                errors.update(exc.errors)
        if errors:
            raise Invalid(errors)
        assert page_row is not None and start is not None and end is not None and remind is not None
        m = await _create_occurrence(ch, page_id=page_row.id, name=name, body=body, zone=zone, start=start, end=end,
                                     component_ids=component_ids, rule=rule, remind=remind, backfill=backfill)
        await ch.audit("maintenance.create", "maintenance", m.id, diff({}, {
            "page": page_row.slug, "name": name, "body": body, "scheduled_for": start, "scheduled_until": end,
            "time_zone": zone, "components": component_ids, "recurrence": recurrence_rule if rule else None,
            "remind_minutes": remind, "backfilled": backfill}))
        ch.emit(events.MAINTENANCE_BACKFILLED if backfill else events.MAINTENANCE_SCHEDULED, _event_data(m),
                await _page_ids(ch.conn, m, component_ids))
    return m


def _minutes(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 <= value <= REMIND_MAX_MINUTES:
        return value
    return None


async def _create_occurrence(ch: Change, *, page_id: int, name: str, body: str, zone: str, start: datetime,
                             end: datetime, component_ids: list[int], rule: recurrence.Rule | None, remind: int,
                             backfill: bool = False, series_id: int | None = None) -> Maintenance:
    m = await Maintenance.create(
        using_db=ch.conn, page_id=page_id, name=name, body=body, time_zone=zone, scheduled_for=start,
        scheduled_until=end, recurrence=recurrence.to_dict(rule) if rule else None, remind_minutes=remind,
        backfilled=backfill, series_id=series_id,
        state=MaintenanceState.COMPLETED if backfill else MaintenanceState.SCHEDULED,
        started_at=start if backfill else None, completed_at=end if backfill else None)
    if rule is not None and series_id is None:
        await Maintenance.filter(id=m.id).using_db(ch.conn).update(series_id=m.id)
        m.series_id = m.id
    for cid in component_ids:
        await MaintenanceComponent.create(using_db=ch.conn, maintenance_id=m.id, component_id=cid)
    return m


async def _schedule_next(ch: Change, m: Maintenance, after: datetime) -> Maintenance | None:
    """The series' next occurrence after ``after`` (recurring windows only)."""
    if not m.recurrence:
        return None
    try:
        rule = recurrence.parse(m.recurrence)
        start = recurrence.next_start(rule, max(after, m.scheduled_for), m.time_zone)
    except ValueError:  # a rule stored by hand that no longer parses: the series ends rather than breaking
        return None
    if start is None:
        return None
    following = await _create_occurrence(
        ch, page_id=m.page_id, name=m.name, body=m.body, zone=m.time_zone,  # type: ignore[attr-defined]
        start=start, end=start + rule.duration, component_ids=await _affected(ch.conn, m.id), rule=rule,
        remind=m.remind_minutes, series_id=m.series_id or m.id)
    await ch.audit("maintenance.create", "maintenance", following.id, diff({}, {
        "name": m.name, "scheduled_for": following.scheduled_for, "scheduled_until": following.scheduled_until,
        "series_id": following.series_id}))
    ch.emit(events.MAINTENANCE_SCHEDULED, _event_data(following, recurring=True),
            await _page_ids(ch.conn, following, await _affected(ch.conn, following.id)))
    return following


# --- transitions --------------------------------------------------------------------------------------------------

async def start_maintenance(actor: Actor, maintenance_id: int, body: str = "", now: datetime | None = None
                            ) -> Maintenance:
    """Start the window now (the timer calls this on time; staff may start early). Its components go to
    MAINTENANCE unless something worse holds them."""
    authorize(actor, "maintenance.update")
    now = now or datetime.now(UTC)
    async with change(actor, "maintenance.update") as ch:
        m = await _locked(ch, maintenance_id)
        if m.state != MaintenanceState.SCHEDULED:
            raise Invalid({"state": f"This maintenance is {m.state.value.lower().replace('_', ' ')}; only a "
                                    "scheduled one can start."})
        await _start(ch, m, now, body)
    return m


async def _start(ch: Change, m: Maintenance, now: datetime, body: str = "") -> None:
    early = now < m.scheduled_for
    values = {"state": MaintenanceState.IN_PROGRESS, "started_at": now}
    await Maintenance.filter(id=m.id).using_db(ch.conn).update(**values, updated_at=now)
    m.state, m.started_at = MaintenanceState.IN_PROGRESS, now
    await _note(ch, m, MaintenanceState.IN_PROGRESS, body, now)
    affected = await _affected(ch.conn, m.id)
    component_changes = await holds.reconcile(ch, affected, now)
    await ch.audit("maintenance.start", "maintenance", m.id, {
        "state": {"old": MaintenanceState.SCHEDULED, "new": MaintenanceState.IN_PROGRESS},
        **({"early": {"old": None, "new": True}} if early else {}),
        **({"component_changes": {"old": None, "new": component_changes}} if component_changes else {})})
    ch.emit(events.MAINTENANCE_STARTED, _event_data(m, early=early), await _page_ids(ch.conn, m, affected))


async def complete_maintenance(actor: Actor, maintenance_id: int, body: str = "", now: datetime | None = None
                               ) -> Maintenance:
    """End the window now (on time by the timer, or early by hand): components are restored unless something else
    holds them; a recurring window schedules its next occurrence."""
    authorize(actor, "maintenance.update")
    now = now or datetime.now(UTC)
    async with change(actor, "maintenance.update") as ch:
        m = await _locked(ch, maintenance_id)
        if m.state == MaintenanceState.COMPLETED:
            raise Invalid({"state": "This maintenance is already completed."})
        if m.state == MaintenanceState.SCHEDULED and now < m.scheduled_for:
            raise Invalid({"state": "This maintenance has not started; cancel it instead."})
        problem = text_problem(body or "", "message", required=False, max_length=BODY_MAX)
        if problem:
            raise Invalid({"body": problem})
        await _complete(ch, m, now, body)
    return m


async def _complete(ch: Change, m: Maintenance, now: datetime, body: str = "") -> None:
    was = m.state
    # a window that passed while nobody was watching ran from its start to its end as scheduled
    end = min(now, m.scheduled_until)
    started = m.started_at or min(m.scheduled_for, end)
    await Maintenance.filter(id=m.id).using_db(ch.conn).update(
        state=MaintenanceState.COMPLETED, started_at=started, completed_at=end, updated_at=now)
    m.state, m.started_at, m.completed_at = MaintenanceState.COMPLETED, started, end
    await _note(ch, m, MaintenanceState.COMPLETED, body, now)
    affected = await _affected(ch.conn, m.id)
    component_changes = await holds.reconcile(ch, affected, now)
    await ch.audit("maintenance.complete", "maintenance", m.id, {
        "state": {"old": was, "new": MaintenanceState.COMPLETED},
        **({"early": {"old": None, "new": True}} if now < m.scheduled_until else {}),
        **({"component_changes": {"old": None, "new": component_changes}} if component_changes else {})})
    ch.emit(events.MAINTENANCE_COMPLETED, _event_data(m, early=now < m.scheduled_until),
            await _page_ids(ch.conn, m, affected))
    await _schedule_next(ch, m, now)


async def extend_maintenance(actor: Actor, maintenance_id: int, ends_at: Any, body: str = "",
                             now: datetime | None = None) -> Maintenance:
    """Move the end of a scheduled or running window (later to extend, earlier to shorten)."""
    authorize(actor, "maintenance.update")
    now = now or datetime.now(UTC)
    async with change(actor, "maintenance.update") as ch:
        m = await _locked(ch, maintenance_id)
        end = to_moment(ends_at, m.time_zone)
        if m.state == MaintenanceState.COMPLETED:
            raise Invalid({"ends_at": "This maintenance is already completed."})
        if end is None:
            raise Invalid({"ends_at": _problem_for_time(ends_at, "end")})
        if end <= now:
            raise Invalid({"ends_at": "The new end must be in the future; complete the maintenance to end it now."})
        if end <= m.scheduled_for:
            raise Invalid({"ends_at": "The end must be after the start."})
        if end - m.scheduled_for > MAX_WINDOW:
            raise Invalid({"ends_at": "A maintenance window can last at most 31 days."})
        problem = text_problem(body or "", "message", required=False, max_length=BODY_MAX)
        if problem:
            raise Invalid({"body": problem})
        before = m.scheduled_until
        await Maintenance.filter(id=m.id).using_db(ch.conn).update(scheduled_until=end, updated_at=now)
        m.scheduled_until = end
        await _note(ch, m, m.state, body or "", now)
        await ch.audit("maintenance.extend", "maintenance", m.id, {"scheduled_until": {"old": before, "new": end}})
        ch.emit(events.MAINTENANCE_UPDATED, _event_data(m, previous_until=before.isoformat()),
                await _page_ids(ch.conn, m, await _affected(ch.conn, m.id)))
    return m


async def post_maintenance_update(actor: Actor, maintenance_id: int, body: str, now: datetime | None = None
                                  ) -> MaintenanceUpdate:
    authorize(actor, "maintenance.update")
    now = now or datetime.now(UTC)
    body = body or ""
    problem = text_problem(body, "message", max_length=BODY_MAX)
    if problem:
        raise Invalid({"body": "Write what is happening: an update needs a message." if not body.strip()
                       else problem})
    async with change(actor, "maintenance.update") as ch:
        m = await _locked(ch, maintenance_id)
        update = await MaintenanceUpdate.create(using_db=ch.conn, maintenance_id=m.id, state=m.state, body=body,
                                                author_id=actor.user_id, display_at=now)
        await Maintenance.filter(id=m.id).using_db(ch.conn).update(updated_at=now)
        await ch.audit("maintenance.update", "maintenance", m.id, {"body": {"old": None, "new": body}})
        ch.emit(events.MAINTENANCE_BACKFILLED if m.backfilled else events.MAINTENANCE_UPDATED,
                _event_data(m, update_id=update.id), await _page_ids(ch.conn, m, await _affected(ch.conn, m.id)))
    return update


async def cancel_maintenance(actor: Actor, maintenance_id: int, *, end_series: bool = False,
                             now: datetime | None = None) -> None:
    """Call off a window that has not started. For a recurring one, the next occurrence is scheduled unless
    ``end_series``."""
    authorize(actor, "maintenance.cancel")
    now = now or datetime.now(UTC)
    async with change(actor, "maintenance.cancel") as ch:
        m = await _locked(ch, maintenance_id)
        if m.state != MaintenanceState.SCHEDULED:
            raise Invalid({"state": "Only a maintenance that has not started can be cancelled; complete it instead."})
        affected = await _affected(ch.conn, m.id)
        page_ids = await _page_ids(ch.conn, m, affected)
        if not end_series:
            await _schedule_next(ch, m, max(now, m.scheduled_for))
        await Maintenance.filter(id=m.id).using_db(ch.conn).delete()
        await ch.audit("maintenance.cancel", "maintenance", m.id, {
            "name": {"old": m.name, "new": None}, "scheduled_for": {"old": m.scheduled_for, "new": None},
            **({"series_ended": {"old": None, "new": True}} if end_series and m.recurrence else {})},
            severity="warning")
        ch.emit(events.MAINTENANCE_CANCELLED, _event_data(m), page_ids)


# --- the timer's side ---------------------------------------------------------------------------------------------

TIMER = Actor.system("maintenance timer")


async def windows() -> list[Window]:
    """Every window that may still have something to do."""
    rows = await Maintenance.filter(state__in=[MaintenanceState.SCHEDULED, MaintenanceState.IN_PROGRESS]).values(
        "id", "state", "scheduled_for", "scheduled_until", "remind_minutes", "reminded_at")
    return [Window(id=r["id"], state=MaintenanceState(r["state"]), scheduled_for=r["scheduled_for"],
                   scheduled_until=r["scheduled_until"], remind_minutes=r["remind_minutes"],
                   reminded=r["reminded_at"] is not None) for r in rows]


async def start_due(maintenance_id: int, now: datetime) -> bool:
    """Start the window if it is still due (another process may have been first)."""
    async with change(TIMER, "maintenance.update") as ch:
        m = await _locked(ch, maintenance_id)
        if m.state != MaintenanceState.SCHEDULED or m.scheduled_for > now or m.scheduled_until <= now:
            return False
        await _start(ch, m, now)
    return True


async def complete_due(maintenance_id: int, now: datetime) -> bool:
    async with change(TIMER, "maintenance.update") as ch:
        m = await _locked(ch, maintenance_id)
        if m.state == MaintenanceState.COMPLETED or m.scheduled_until > now:
            return False
        await _complete(ch, m, now)
    return True


async def remind_due(maintenance_id: int, now: datetime) -> bool:
    """Publish ``maintenance.reminder`` once, ``remind_minutes`` before the start."""
    async with change(TIMER, "maintenance.update") as ch:
        m = await _locked(ch, maintenance_id)
        if m.state != MaintenanceState.SCHEDULED or m.reminded_at is not None or m.backfilled:
            return False
        await Maintenance.filter(id=m.id).using_db(ch.conn).update(reminded_at=now)
        await ch.audit("maintenance.remind", "maintenance", m.id, {"reminded_at": {"old": None, "new": now}})
        ch.emit(events.MAINTENANCE_REMINDER, _event_data(m, starts_in_minutes=max(
            0, round((m.scheduled_for - now).total_seconds() / 60))))
    return True


# --- reading ------------------------------------------------------------------------------------------------------

async def get_maintenance(maintenance_id: int, *, actor: Actor | None = None) -> Maintenance:
    """The window; NotFound if there is none or, given an ``actor``, if its page is outside their scope."""
    m = await Maintenance.filter(id=maintenance_id).first()
    if m is None or not await scope.page_in_scope(actor, m.page_id):  # type: ignore[attr-defined]
        raise NotFound(f"No maintenance with id {maintenance_id}.")
    return m


async def list_maintenances(page_id: int | None = None, *, limit: int = 200, actor: Actor | None = None
                            ) -> list[Maintenance]:
    """In progress first, then upcoming (soonest first), then completed (latest first); given an ``actor``, only
    those of pages in their scope."""
    query = Maintenance.all() if page_id is None else Maintenance.filter(page_id=page_id)
    if not scope.sees_everything(actor):
        query = query.filter(scope.page_q(actor, "page__"))  # type: ignore[arg-type]
    running = await query.filter(state=MaintenanceState.IN_PROGRESS).order_by("scheduled_until")
    upcoming = await query.filter(state=MaintenanceState.SCHEDULED).order_by("scheduled_for")
    done = await query.filter(state=MaintenanceState.COMPLETED).order_by("-scheduled_for").limit(limit)
    return [*running, *upcoming, *done]


async def components_in_maintenance(component_ids: list[int] | None = None) -> set[int]:
    """Components an in-progress window holds (monitoring opens no incident for them)."""
    query = MaintenanceComponent.filter(maintenance__state=MaintenanceState.IN_PROGRESS)
    if component_ids is not None:
        query = query.filter(component_id__in=component_ids)
    return set(await query.values_list("component_id", flat=True))


async def maintenance_updates(maintenance_id: int) -> list[MaintenanceUpdate]:
    return await MaintenanceUpdate.filter(maintenance_id=maintenance_id).order_by("-display_at", "-id") \
        .prefetch_related("author")

"""Per-page public snapshots: an immutable view of everything a status page shows, rebuilt when an event
says the page changed. The live page, the cached HTML, the JSON APIs, feeds and badges all render from it,
so visitors never query the database (ARCHITECTURE.md rule 5)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app import events
from app.enums import ComponentStatus, IncidentImpact, IncidentStatus, MaintenanceState
from app.status import Indicator, page_indicator, worst
from app.uptime import Day, window, window_latency_ms, window_percent

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ComponentView:
    id: int
    name: str
    description: str
    link: str
    status: ComponentStatus
    position: int
    group_id: int | None
    only_show_if_degraded: bool
    show_uptime: bool
    created_at: datetime
    updated_at: datetime
    uptime: tuple[Day, ...] = ()  # the page's uptime window, oldest day first

    kind = "component"

    @property
    def uptime_percent(self) -> float | None:
        """Uptime over the page's whole window; None without data."""
        return window_percent(self.uptime)

    @property
    def average_latency_ms(self) -> float | None:
        return window_latency_ms(self.uptime)

    def recent_uptime_percent(self, days: int) -> float | None:
        """Uptime over the last ``days`` days of the window (the bars a narrow screen shows)."""
        return window_percent(self.uptime[-days:])

    def recent_latency_ms(self, days: int) -> float | None:
        return window_latency_ms(self.uptime[-days:])


@dataclass(frozen=True, slots=True)
class GroupView:
    id: int
    name: str
    description: str
    parent_id: int | None
    position: int
    status: ComponentStatus
    created_at: datetime
    updated_at: datetime
    groups: tuple[GroupView, ...] = ()
    components: tuple[ComponentView, ...] = ()

    kind = "group"

    @property
    def items(self) -> tuple[ComponentView | GroupView, ...]:
        """Components and child groups in display order: they share one position sequence per level."""
        return ordered(self.components, self.groups)

    @property
    def component_ids(self) -> list[int]:
        """Every component inside this group, nested groups included, in display order."""
        ids: list[int] = []
        for item in self.items:
            ids.extend(item.component_ids if isinstance(item, GroupView) else [item.id])
        return ids


def ordered(components: Iterable[ComponentView], groups: Iterable[GroupView]) -> tuple[ComponentView | GroupView, ...]:
    return tuple(sorted([*components, *groups], key=lambda item: (item.position, item.kind, item.id)))


@dataclass(frozen=True, slots=True)
class AffectedComponent:
    """A component status change an incident update made."""

    component_id: int
    old_status: ComponentStatus | None
    new_status: ComponentStatus | None


@dataclass(frozen=True, slots=True)
class UpdateView:
    id: int
    status: IncidentStatus
    body: str
    display_at: datetime
    created_at: datetime
    updated_at: datetime
    affected_components: tuple[AffectedComponent, ...] = ()


@dataclass(frozen=True, slots=True)
class IncidentView:
    id: int
    name: str
    status: IncidentStatus
    impact: IncidentImpact
    pinned: bool
    backfilled: bool
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime
    updated_at: datetime
    component_ids: tuple[int, ...] = ()  # affected components, on this page or not
    updates: tuple[UpdateView, ...] = ()  # newest first
    identified_at: datetime | None = None
    postmortem_body: str = ""  # the root-cause write-up, shown once published
    postmortem_published_at: datetime | None = None

    @property
    def postmortem(self) -> str:
        """The published write-up, or ''."""
        return self.postmortem_body if self.postmortem_published_at else ""

    @property
    def resolved(self) -> bool:
        return self.status == IncidentStatus.RESOLVED

    @property
    def latest_update(self) -> UpdateView | None:
        return self.updates[0] if self.updates else None

    def ended_at(self, now: datetime) -> datetime:
        """When it stopped affecting anything: resolution time, or ``now`` while it is open."""
        if not self.resolved:
            return now
        return self.resolved_at or self.updated_at


@dataclass(frozen=True, slots=True)
class MaintenanceUpdateView:
    id: int
    state: MaintenanceState
    body: str
    display_at: datetime
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class MaintenanceView:
    id: int
    name: str
    body: str  # the description given when it was scheduled
    state: MaintenanceState
    time_zone: str
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    component_ids: tuple[int, ...] = ()
    updates: tuple[MaintenanceUpdateView, ...] = ()  # newest first
    backfilled: bool = False
    recurring: bool = False

    @property
    def latest_update(self) -> MaintenanceUpdateView | None:
        return self.updates[0] if self.updates else None

    @property
    def ends_at(self) -> datetime:
        """When it ended, or is due to end."""
        return self.completed_at or self.scheduled_until


@dataclass(frozen=True, slots=True)
class PageInfo:
    id: int
    slug: str
    title: str
    description: str
    public: bool
    active: bool
    custom_domain: str | None
    time_zone: str
    theme: str
    brand_color: str
    footer_text: str
    updated_at: datetime
    header_color: str | None = None
    logo_file: str | None = None
    favicon_file: str | None = None
    uptime_days: int = 90
    show_response_times: bool = True
    incident_history_days: int = 14


@dataclass(frozen=True, slots=True)
class MetricView:
    """A custom metric the page charts (its points are drawn on request: app/api/metric_routes.py)."""

    id: int
    name: str
    suffix: str
    description: str
    decimals: int


@dataclass(frozen=True, slots=True)
class PageSnapshot:
    page: PageInfo
    url: str
    indicator: Indicator
    groups: tuple[GroupView, ...]  # top level
    components: tuple[ComponentView, ...]  # top level (not in a group)
    all_components: tuple[ComponentView, ...]  # every component on the page, in display order
    all_groups: tuple[GroupView, ...]  # every group on the page, parents before children
    built_at: datetime
    version: int = 0
    open_incidents: tuple[IncidentView, ...] = ()  # unresolved: pinned first, then newest
    incidents: tuple[IncidentView, ...] = ()  # open ones and those of the uptime or history window, newest first
    active_maintenances: tuple[MaintenanceView, ...] = ()  # IN_PROGRESS, soonest to end first
    upcoming_maintenances: tuple[MaintenanceView, ...] = ()  # SCHEDULED and not yet ended, soonest first
    maintenances: tuple[MaintenanceView, ...] = ()  # the above and recently ended ones, newest first
    metrics: tuple[MetricView, ...] = ()  # custom metrics charted on the page, in order

    @property
    def items(self) -> tuple[ComponentView | GroupView, ...]:
        """The top level in display order."""
        return ordered(self.components, self.groups)

    @property
    def updated_at(self) -> datetime:
        times = [self.page.updated_at, *(c.updated_at for c in self.all_components),
                 *(i.updated_at for i in self.open_incidents),
                 *(m.updated_at for m in (*self.active_maintenances, *self.upcoming_maintenances))]
        return max(times)

    @property
    def recent_incidents(self) -> tuple[IncidentView, ...]:
        """Incidents of the last ``incident_history_days`` days (and every open one), newest first."""
        since = self.built_at - timedelta(days=self.page.incident_history_days)
        return tuple(i for i in self.incidents if not i.resolved or i.ended_at(self.built_at) >= since)

    @property
    def component_names(self) -> dict[int, str]:
        return {c.id: c.name for c in self.all_components}

    def incident_url(self, incident_id: int) -> str:
        """The absolute address of an incident's page (the shortlink of the JSON API)."""
        origin = (f"https://{self.page.custom_domain}" if self.page.custom_domain
                  else self.url.removesuffix(f"/status/{self.page.slug}"))
        return f"{origin}/status/{self.page.slug}/incidents/{incident_id}"

    @property
    def visible(self) -> bool:
        """Whether anonymous visitors may see it (drafts and private pages are not served publicly)."""
        return self.page.public and self.page.active


def assemble(page: PageInfo, url: str, groups: Iterable[dict[str, Any]], placements: Iterable[dict[str, Any]],
             version: int = 0, *, incidents: Iterable[dict[str, Any]] = (),
             incident_updates: Iterable[dict[str, Any]] = (), incident_components: Iterable[dict[str, Any]] = (),
             maintenances: Iterable[dict[str, Any]] = (), maintenance_components: Iterable[dict[str, Any]] = (),
             maintenance_updates: Iterable[dict[str, Any]] = (), daily_uptime: Iterable[dict[str, Any]] = (),
             settled_days: Mapping[int, Mapping[date, Day]] | None = None,
             metrics: Iterable[dict[str, Any]] = (), now: datetime | None = None) -> PageSnapshot:
    """Pure: build the snapshot tree from plain rows (``Model.values()`` dicts with the models' field names).

    ``groups``: dicts with id, name, description, parent_id, position, created_at, updated_at.
    ``placements``: dicts with the component's fields plus group_id and position.
    ``incidents`` / ``maintenances``: the page's rows that ``activity_since`` asks for; their ``*_updates`` and
    ``*_components`` rows carry ``incident_id`` / ``maintenance_id``. ``daily_uptime``: rollup rows of the
    page's components (``component_id``, ``day``, …) for the uptime window; ``settled_days``: Days already
    built for part of the window (``SettledDays``), which ``daily_uptime`` then need not repeat. ``now``: the
    build time, which decides what is upcoming and which UTC day the uptime window ends with.
    """
    now = now or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    by_parent: dict[int | None, list[dict[str, Any]]] = {}
    group_rows = {g["id"]: g for g in groups}
    for g in group_rows.values():
        parent = g["parent_id"] if g["parent_id"] in group_rows else None
        by_parent.setdefault(parent, []).append(g)

    incident_views = _incidents(incidents, incident_updates, incident_components)
    days_by_component = _uptime_days(daily_uptime, incident_views, today, _window_days(page), now, settled_days)
    comps_by_group: dict[int | None, list[ComponentView]] = {}
    for p in placements:
        gid = p["group_id"] if p["group_id"] in group_rows else None
        comps_by_group.setdefault(gid, []).append(ComponentView(
            id=p["id"], name=p["name"], description=p["description"], link=p["link"],
            status=ComponentStatus(p["status"]), position=p["position"], group_id=gid,
            only_show_if_degraded=p["only_show_if_degraded"], show_uptime=p["show_uptime"],
            created_at=p["created_at"], updated_at=p["updated_at"],
            uptime=window(days_by_component.get(p["id"], {}), today, _window_days(page))))
    for comps in comps_by_group.values():
        comps.sort(key=lambda c: (c.position, c.id))

    def build(parent: int | None, seen: frozenset[int]) -> tuple[GroupView, ...]:
        built = []
        for g in sorted(by_parent.get(parent, []), key=lambda r: (r["position"], r["id"])):
            if g["id"] in seen:  # a cycle in stored parents must not hang the page
                continue
            components = tuple(comps_by_group.get(g["id"], []))
            children = build(g["id"], seen | {g["id"]})
            status = worst([*(c.status for c in components), *(child.status for child in children)])
            built.append(GroupView(id=g["id"], name=g["name"], description=g.get("description", ""),
                                   parent_id=parent, position=g["position"], status=status,
                                   created_at=g["created_at"], updated_at=g["updated_at"],
                                   groups=children, components=components))
        return tuple(built)

    top_groups = build(None, frozenset())

    top_components = tuple(comps_by_group.get(None, []))
    all_components, all_groups = _flatten(ordered(top_components, top_groups))

    open_incidents = tuple(sorted((i for i in incident_views if not i.resolved),
                                  key=lambda i: (not i.pinned, -i.started_at.timestamp(), -i.id)))
    maintenance_views = _maintenances(maintenances, maintenance_components, maintenance_updates)
    active = tuple(sorted((m for m in maintenance_views if m.state == MaintenanceState.IN_PROGRESS),
                          key=lambda m: (m.scheduled_until, m.id)))
    upcoming = tuple(sorted((m for m in maintenance_views
                             if m.state == MaintenanceState.SCHEDULED and m.scheduled_until > now),
                            key=lambda m: (m.scheduled_for, m.id)))
    indicator = page_indicator((c.status for c in all_components), (i.impact for i in open_incidents),
                               maintenance_in_progress=bool(active))
    return PageSnapshot(page=page, url=url, indicator=indicator, groups=top_groups, components=top_components,
                        all_components=tuple(all_components), all_groups=tuple(all_groups),
                        built_at=now, version=version, open_incidents=open_incidents,
                        incidents=tuple(sorted(incident_views, key=lambda i: (-i.started_at.timestamp(), -i.id))),
                        active_maintenances=active, upcoming_maintenances=upcoming,
                        maintenances=tuple(sorted(maintenance_views,
                                                  key=lambda m: (-m.scheduled_for.timestamp(), -m.id))),
                        metrics=tuple(MetricView(**m) for m in metrics))


def _flatten(items: Iterable[ComponentView | GroupView]) -> tuple[list[ComponentView], list[GroupView]]:
    """Every component and group below ``items``, in display order (groups before their contents)."""
    components: list[ComponentView] = []
    groups: list[GroupView] = []
    for item in items:
        if isinstance(item, GroupView):
            groups.append(item)
            inner_components, inner_groups = _flatten(item.items)
            components.extend(inner_components)
            groups.extend(inner_groups)
        else:
            components.append(item)
    return components, groups


def _same_content(a: PageSnapshot, b: PageSnapshot) -> bool:
    return replace(a, version=0, built_at=b.built_at) == replace(b, version=0)


def with_component_status(s: PageSnapshot, component_id: int, status: ComponentStatus, updated_at: datetime,
                          version: int) -> PageSnapshot | None:
    """Pure: the snapshot with one component's status changed, its groups and the page indicator recomputed;
    None when the component is not on the page. A status change is the commonest write on an outage day, and
    applying it in memory needs no database round trip, so visitors see it at once even under a flood."""
    if all(c.id != component_id for c in s.all_components):
        return None

    def component(c: ComponentView) -> ComponentView:
        return replace(c, status=status, updated_at=updated_at) if c.id == component_id else c

    def group(g: GroupView) -> GroupView:
        components = tuple(component(c) for c in g.components)
        children = tuple(group(child) for child in g.groups)
        return replace(g, components=components, groups=children,
                       status=worst([*(c.status for c in components), *(child.status for child in children)]))

    top_components = tuple(component(c) for c in s.components)
    top_groups = tuple(group(g) for g in s.groups)
    all_components, all_groups = _flatten(ordered(top_components, top_groups))
    indicator = page_indicator((c.status for c in all_components), (i.impact for i in s.open_incidents),
                               maintenance_in_progress=bool(s.active_maintenances))
    return replace(s, components=top_components, groups=top_groups, all_components=tuple(all_components),
                   all_groups=tuple(all_groups), indicator=indicator, version=version)


# The widest window a page may ask for; guards the rollup query against a bad stored value.
MAX_WINDOW_DAYS = 366


def _window_days(page: PageInfo) -> int:
    return max(1, min(page.uptime_days, MAX_WINDOW_DAYS))


def activity_since(page: PageInfo, now: datetime) -> datetime:
    """The oldest moment the snapshot needs incidents and maintenance from: the first day of the uptime
    window (for the bars' tooltips) or the incident history, whichever reaches further back."""
    first_day = now.astimezone(UTC).date() - timedelta(days=_window_days(page) - 1)
    return min(datetime.combine(first_day, time(), UTC), now - timedelta(days=max(page.incident_history_days, 0)))


def _status_or_none(value: Any) -> ComponentStatus | None:
    try:
        return ComponentStatus(value)
    except ValueError:
        return None


def _affected(raw: Any) -> tuple[AffectedComponent, ...]:
    """``{component_id: {"old": STATUS, "new": STATUS}}`` as an update stored it; anything malformed is skipped
    rather than breaking the public page."""
    changes = []
    for key, change in (raw if isinstance(raw, dict) else {}).items():
        if not str(key).isdigit() or not isinstance(change, dict):
            continue
        changes.append(AffectedComponent(int(key), _status_or_none(change.get("old")),
                                         _status_or_none(change.get("new"))))
    return tuple(changes)


def _incidents(rows: Iterable[dict[str, Any]], updates: Iterable[dict[str, Any]],
               affected: Iterable[dict[str, Any]]) -> list[IncidentView]:
    updates_of: dict[int, list[UpdateView]] = {}
    for u in updates:
        updates_of.setdefault(u["incident_id"], []).append(UpdateView(
            id=u["id"], status=IncidentStatus(u["status"]), body=u["body"] or "", display_at=u["display_at"],
            created_at=u["created_at"], updated_at=u["updated_at"],
            affected_components=_affected(u.get("affected_components"))))
    components_of: dict[int, list[int]] = {}
    for a in affected:
        components_of.setdefault(a["incident_id"], []).append(a["component_id"])
    return [IncidentView(
        id=r["id"], name=r["name"], status=IncidentStatus(r["status"]), impact=IncidentImpact(r["impact"]),
        pinned=r["pinned"], backfilled=r["backfilled"], started_at=r["started_at"],
        monitoring_at=r["monitoring_at"], resolved_at=r["resolved_at"], created_at=r["created_at"],
        updated_at=r["updated_at"], component_ids=tuple(sorted(components_of.get(r["id"], []))),
        updates=tuple(sorted(updates_of.get(r["id"], []), key=lambda u: (u.display_at, u.id), reverse=True)),
        identified_at=r.get("identified_at"), postmortem_body=r.get("postmortem_body") or "",
        postmortem_published_at=r.get("postmortem_published_at"),
    ) for r in rows]


def _maintenances(rows: Iterable[dict[str, Any]], affected: Iterable[dict[str, Any]],
                  updates: Iterable[dict[str, Any]] = ()) -> list[MaintenanceView]:
    components_of: dict[int, list[int]] = {}
    for a in affected:
        components_of.setdefault(a["maintenance_id"], []).append(a["component_id"])
    updates_of: dict[int, list[MaintenanceUpdateView]] = {}
    for u in updates:
        updates_of.setdefault(u["maintenance_id"], []).append(MaintenanceUpdateView(
            id=u["id"], state=MaintenanceState(u["state"]), body=u["body"] or "", display_at=u["display_at"],
            created_at=u["created_at"], updated_at=u["updated_at"]))
    return [MaintenanceView(
        id=r["id"], name=r["name"], body=r["body"] or "", state=MaintenanceState(r["state"]),
        time_zone=r["time_zone"], scheduled_for=r["scheduled_for"], scheduled_until=r["scheduled_until"],
        started_at=r["started_at"], completed_at=r["completed_at"], created_at=r["created_at"],
        updated_at=r["updated_at"], component_ids=tuple(sorted(components_of.get(r["id"], []))),
        updates=tuple(sorted(updates_of.get(r["id"], []), key=lambda u: (u.display_at, u.id), reverse=True)),
        backfilled=bool(r.get("backfilled")), recurring=bool(r.get("recurrence")),
    ) for r in rows]


INCIDENT_FIELDS = ("id", "name", "status", "impact", "pinned", "backfilled", "started_at", "identified_at",
                   "monitoring_at", "resolved_at", "created_at", "updated_at", "postmortem_body",
                   "postmortem_published_at")
MAINTENANCE_FIELDS = ("id", "name", "body", "state", "time_zone", "scheduled_for", "scheduled_until", "started_at",
                      "completed_at", "created_at", "updated_at", "backfilled", "recurrence")


async def _incident_rows(query: Any) -> tuple[list[dict], list[dict], list[dict]]:
    """The rows of an Incident queryset, with their updates and affected components."""
    from storage.models import IncidentComponent, IncidentUpdate

    incidents = await query.values(*INCIDENT_FIELDS)
    ids = [i["id"] for i in incidents]
    if not ids:
        return incidents, [], []
    updates = await IncidentUpdate.filter(incident_id__in=ids).values(
        "id", "incident_id", "status", "body", "display_at", "created_at", "updated_at", "affected_components")
    affected = await IncidentComponent.filter(incident_id__in=ids).values("incident_id", "component_id")
    return incidents, updates, affected


async def _maintenance_rows(query: Any) -> tuple[list[dict], list[dict], list[dict]]:
    """The rows of a Maintenance queryset, with their affected components and updates."""
    from storage.models import MaintenanceComponent, MaintenanceUpdate

    maintenances = await query.values(*MAINTENANCE_FIELDS)
    ids = [m["id"] for m in maintenances]
    if not ids:
        return maintenances, [], []
    affected = await MaintenanceComponent.filter(maintenance_id__in=ids).values("maintenance_id", "component_id")
    updates = await MaintenanceUpdate.filter(maintenance_id__in=ids).values(
        "id", "maintenance_id", "state", "body", "display_at", "created_at", "updated_at")
    return maintenances, affected, updates


async def fetch_incidents(query: Any) -> list[IncidentView]:
    """IncidentViews of an Incident queryset (history and incident pages reach past the snapshot)."""
    return _incidents(*await _incident_rows(query))


async def fetch_maintenances(query: Any) -> list[MaintenanceView]:
    return _maintenances(*await _maintenance_rows(query))


def day_of(r: Mapping[str, Any]) -> Day:
    """A rollup row as a bar's Day (no incidents yet)."""
    status = _STATUS_BY_VALUE.get(r["worst_status"]) if r["worst_status"] else None
    return Day(day=r["day"], observed_seconds=r["observed_seconds"], down_seconds=r["down_seconds"],
               degraded_seconds=r["degraded_seconds"], maintenance_seconds=r["maintenance_seconds"],
               worst_status=status, avg_latency_ms=r["avg_latency_ms"])


_STATUS_BY_VALUE = {s.value: s for s in ComponentStatus}  # a dict lookup; the enum call costs 10× as much


def _uptime_days(rows: Iterable[dict[str, Any]], incidents: Iterable[IncidentView], today: date, days: int,
                 now: datetime, settled: Mapping[int, Mapping[date, Day]] | None = None
                 ) -> dict[int, dict[date, Day]]:
    """Per component, its rollup days (``settled`` ones first, then ``rows``) with the names of the incidents that
    affected it on each UTC day."""
    first = today - timedelta(days=days - 1)
    by_component: dict[int, dict[date, Day]] = {
        cid: {d: day for d, day in known.items() if first <= d <= today} for cid, known in (settled or {}).items()}
    for r in rows:
        if not first <= r["day"] <= today:
            continue
        by_component.setdefault(r["component_id"], {})[r["day"]] = day_of(r)
    names: dict[tuple[int, date], list[str]] = {}
    for incident in sorted(incidents, key=lambda i: (i.started_at, i.id)):
        start = max(incident.started_at.astimezone(UTC).date(), first)
        end = min(incident.ended_at(now).astimezone(UTC).date(), today)
        for offset in range((end - start).days + 1):
            for component_id in incident.component_ids:
                names.setdefault((component_id, start + timedelta(days=offset)), []).append(incident.name)
    for (component_id, day), incident_names in names.items():
        known = by_component.setdefault(component_id, {})
        known[day] = replace(known.get(day) or Day(day), incidents=tuple(incident_names))
    return by_component


async def _daily_rows(query: Any) -> list[dict[str, Any]]:
    """The rollup rows of a ``values()`` query, fetched without tortoise's per-value conversion: a 90-day page of
    30 components is 2,700 rows, and parsing each date through tortoise cost ~40 ms of event-loop time per
    rebuild. The query holds only integers and a date from our own database, so inlining them is safe."""
    from tortoise import connections

    rows = await connections.get("default").execute_query_dict(query.sql(params_inline=True))
    for row in rows:  # SQLite answers text, PostgreSQL a date
        if isinstance(row["day"], str):
            row["day"] = date.fromisoformat(row["day"][:10])
    return rows


async def load(page_id: int, base_url: str, version: int = 0, now: datetime | None = None) -> PageSnapshot | None:
    """Read one page from the database and assemble its snapshot; None when the page is gone.

    A fixed number of queries per page, whatever its number of components, incidents or days."""
    from tortoise.expressions import Q

    from storage.models import ComponentGroup, DailyUptime, Incident, Maintenance, Metric, Placement, StatusPage

    now = now or datetime.now(UTC)
    row = await StatusPage.filter(id=page_id).first()
    if row is None:
        return None
    page = PageInfo(id=row.id, slug=row.slug, title=row.title, description=row.description, public=row.public,
                    active=row.active, custom_domain=row.custom_domain, time_zone=row.time_zone, theme=row.theme,
                    brand_color=row.brand_color, footer_text=row.footer_text, updated_at=row.updated_at,
                    header_color=row.header_color, logo_file=row.logo_file, favicon_file=row.favicon_file,
                    uptime_days=row.uptime_days, show_response_times=row.show_response_times,
                    incident_history_days=row.incident_history_days)
    groups = await ComponentGroup.filter(page_id=page_id).values(
        "id", "name", "description", "parent_id", "position", "created_at", "updated_at")
    placements = await Placement.filter(page_id=page_id).values(
        "group_id", "position", id="component__id", name="component__name",
        description="component__description", link="component__link", status="component__status",
        only_show_if_degraded="component__only_show_if_degraded", show_uptime="component__show_uptime",
        created_at="component__created_at", updated_at="component__updated_at")

    since = activity_since(page, now)
    incidents, updates, incident_components = await _incident_rows(Incident.filter(
        Q(page_id=page_id) & (~Q(status=IncidentStatus.RESOLVED) | Q(resolved_at__gte=since)
                              | Q(resolved_at__isnull=True, updated_at__gte=since))))
    maintenances, maintenance_components, maintenance_updates = await _maintenance_rows(Maintenance.filter(
        Q(page_id=page_id) & (Q(state__in=[MaintenanceState.SCHEDULED, MaintenanceState.IN_PROGRESS])
                              | Q(scheduled_until__gte=since))))
    component_ids = [p["id"] for p in placements]
    today = now.astimezone(UTC).date()
    first_day = today - timedelta(days=_window_days(page) - 1)
    recent_from = max(first_day, today - timedelta(days=SETTLED_AFTER_DAYS - 1))
    figures = ("component_id", "day", "observed_seconds", "down_seconds", "degraded_seconds", "maintenance_seconds",
               "worst_status", "avg_latency_ms")
    reads, generation = settled_cache.plan(component_ids, first_day, recent_from)
    rows = []
    for start, cids in reads.items():
        rows += await _daily_rows(DailyUptime.filter(
            component_id__in=cids, day__gte=start, day__lt=recent_from).values(*figures))
    fresh = settled_cache.fill(reads, first_day, recent_from, rows, generation) if reads else {}
    daily_uptime = await _daily_rows(DailyUptime.filter(
        component_id__in=component_ids, day__gte=recent_from).values(*figures)) if component_ids else []

    metrics = await Metric.filter(page_id=page_id, display=True).order_by("position", "id").values(
        "id", "name", "suffix", "description", "decimals")
    url = f"https://{row.custom_domain}/" if row.custom_domain else f"{base_url}/status/{row.slug}"
    return assemble(page, url, groups, placements, version, metrics=metrics, incidents=incidents,
                    incident_updates=updates,
                    incident_components=incident_components, maintenances=maintenances,
                    maintenance_components=maintenance_components, maintenance_updates=maintenance_updates,
                    daily_uptime=daily_uptime, settled_days=settled_cache.days(component_ids, fresh), now=now)


# Days before the last two never change in normal running (monitoring writes today's rollup, and just after
# midnight the end of yesterday's), so their bars are read once and kept: a page of 500 components × 90 days
# then reads 1,000 rows per rebuild instead of 45,000 (docs/benchmarks.md).
SETTLED_AFTER_DAYS = 2


@dataclass
class SettledDays:
    """Per component, the Days of the uptime window from ``first`` up to (not including) ``until``, as read from
    the database. When the window moves on (a new UTC day) only the newly settled day is read; everything is
    forgotten when older history may have been written (``storage.rollups.history_generation()``: the demo, a
    backfill, an import) or another process wrote (``SnapshotStore.load_all``)."""

    by_component: dict[int, dict[date, Day]] = field(default_factory=dict)
    spans: dict[int, tuple[date, date]] = field(default_factory=dict)
    generation: int = -1

    def clear(self) -> None:
        self.by_component.clear()
        self.spans.clear()

    def _check_generation(self) -> None:
        from storage.rollups import history_generation

        if history_generation() != self.generation:
            self.clear()
            self.generation = history_generation()

    def plan(self, component_ids: Iterable[int], first: date, until: date
             ) -> tuple[dict[date, list[int]], int]:
        """What to read: {from day: components} whose days from that day up to ``until`` are not known (``first``
        for a component not known at all), and the generation to hand back to ``fill``."""
        self._check_generation()
        reads: dict[date, list[int]] = {}
        for cid in component_ids:
            span = self.spans.get(cid)
            if span == (first, until):
                continue
            start = span[1] if span and span[0] <= first <= span[1] <= until else first
            reads.setdefault(start, []).append(cid)
        return reads, self.generation

    def fill(self, reads: Mapping[date, list[int]], first: date, until: date, rows: Iterable[Mapping[str, Any]],
             generation: int) -> dict[int, dict[date, Day]]:
        """Merge what was read into what is known, dropping days that left the window. Kept unless history was
        written while it was read (then only this build uses it)."""
        fresh: dict[int, dict[date, Day]] = {}
        for start, cids in reads.items():
            for cid in cids:
                known = self.by_component.get(cid, {}) if start != first else {}
                fresh[cid] = {d: day for d, day in known.items() if d >= first}
        for r in rows:
            if r["component_id"] in fresh:
                fresh[r["component_id"]][r["day"]] = day_of(r)
        self._check_generation()
        if generation == self.generation:
            for cid, days in fresh.items():
                self.by_component[cid] = days
                self.spans[cid] = (first, until)
        return fresh

    def days(self, component_ids: Iterable[int], fresh: Mapping[int, dict[date, Day]]) -> dict[int, dict[date, Day]]:
        return {cid: fresh[cid] if cid in fresh else self.by_component[cid]
                for cid in component_ids if cid in fresh or cid in self.by_component}


settled_cache = SettledDays()


# A sleep timed against the wall clock may end a little early (the event loop sleeps on a monotonic clock,
# and the wall clock gets adjusted): rebuilding a few seconds after midnight makes sure the new day has begun.
ROLLOVER_DELAY_SECONDS = 5.0


def seconds_until_rollover(now: datetime) -> float:
    """From ``now`` to a few seconds after the next UTC midnight."""
    now = now.astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(), UTC)
    return (midnight - now).total_seconds() + ROLLOVER_DELAY_SECONDS


Listener = Callable[[PageSnapshot], None]


# Events that carry page ids (for notification filters) but change nothing a public page shows: a monitor's own
# state is staff-only; the component status it causes arrives as its own event.
NOT_SHOWN = frozenset({events.MONITOR_STATE_CHANGED, events.MONITOR_CHANGED})


@dataclass
class SnapshotStore:
    """Every page's current snapshot, kept in memory and rebuilt on events; derivable from the database."""

    base_url: str = ""
    default_id: int | None = None
    by_id: dict[int, PageSnapshot] = field(default_factory=dict)
    _listeners: dict[int, set[Listener]] = field(default_factory=dict)
    _rendered: dict[tuple[int, str], tuple[int, Any]] = field(default_factory=dict)
    _dirty: set[int] = field(default_factory=set)
    _rebuilding: dict[int, asyncio.Task] = field(default_factory=dict)
    _rollover: asyncio.Task | None = None
    _version: int = 0

    def reset(self, base_url: str) -> None:
        """Forget everything (start-up, tests); snapshots are rebuilt from the database by ``load_all``."""
        for task in self._rebuilding.values():
            task.cancel()
        self.base_url = base_url
        self.default_id = None
        self.by_id.clear()
        self._listeners.clear()
        self._rendered.clear()
        self._dirty.clear()
        self._rebuilding.clear()

    # --- reading ------------------------------------------------------------------------------------------
    def get(self, page_id: int) -> PageSnapshot | None:
        return self.by_id.get(page_id)

    def by_slug(self, slug: str) -> PageSnapshot | None:
        return next((s for s in self.by_id.values() if s.page.slug == slug), None)

    def by_domain(self, host: str) -> PageSnapshot | None:
        host = host.split(":")[0].lower().rstrip(".")  # "status.acme.com." is the same name
        return next((s for s in self.by_id.values() if s.page.custom_domain == host), None)

    def default(self) -> PageSnapshot | None:
        return self.by_id.get(self.default_id) if self.default_id is not None else None

    def rendered(self, snapshot: PageSnapshot, kind: str, render: Callable[[PageSnapshot], Any]) -> Any:
        """``render(snapshot)``, computed once per snapshot version and kind."""
        key = (snapshot.page.id, kind)
        cached = self._rendered.get(key)
        if cached is not None and cached[0] == snapshot.version:
            return cached[1]
        value = render(snapshot)
        self._rendered[key] = (snapshot.version, value)
        return value

    # --- live listeners -----------------------------------------------------------------------------------
    def listen(self, page_id: int, listener: Listener) -> Callable[[], None]:
        """Call ``listener(snapshot)`` after each rebuild of the page; returns the function that stops it."""
        self._listeners.setdefault(page_id, set()).add(listener)
        return lambda: self._listeners.get(page_id, set()).discard(listener)

    def listener_count(self, page_id: int) -> int:
        return len(self._listeners.get(page_id, ()))

    # --- rebuilding ---------------------------------------------------------------------------------------
    async def load_all(self) -> None:
        from storage.models import StatusPage

        settled_cache.clear()  # another process may have written history
        page_ids = set(await StatusPage.all().values_list("id", flat=True))
        for page_id in set(self.by_id) - page_ids:  # removed by someone else
            await self.rebuild(page_id)
        for page_id in sorted(page_ids):
            await self.rebuild(page_id)
        await self._refresh_default()

    async def _refresh_default(self) -> None:
        from app.services.pages import default_page

        page = await default_page()
        self.default_id = page.id if page else None

    async def rebuild(self, page_id: int) -> PageSnapshot | None:
        self._version += 1
        snapshot = await load(page_id, self.base_url, self._version)
        if snapshot is None:
            self.by_id.pop(page_id, None)
            for key in [k for k in self._rendered if k[0] == page_id]:
                del self._rendered[key]
            return None
        self._publish(snapshot)
        return snapshot

    def _publish(self, snapshot: PageSnapshot) -> None:
        page_id = snapshot.page.id
        current = self.by_id.get(page_id)
        if current is not None and _same_content(current, snapshot):
            return  # e.g. a reload after another process wrote elsewhere: no new version, nothing to push
        self.by_id[page_id] = snapshot
        for listener in list(self._listeners.get(page_id, ())):
            try:
                listener(snapshot)
            except Exception:
                log.exception("snapshot.listener_failed page=%s", page_id)

    def apply_status_change(self, page_id: int, component_id: int, status: ComponentStatus,
                            updated_at: datetime) -> bool:
        """Apply a committed status change in memory; False when a full rebuild is needed instead."""
        current = self.by_id.get(page_id)
        if current is None:
            return False
        self._version += 1
        changed = with_component_status(current, component_id, status, updated_at, self._version)
        if changed is None:
            return False
        self._publish(changed)
        task = self._rebuilding.get(page_id)
        if task is not None and not task.done():
            # a rebuild that read the database before this change committed would overwrite it: read again
            self._dirty.add(page_id)
        return True

    def schedule(self, page_id: int) -> asyncio.Task:
        """Rebuild soon; bursts of events for one page collapse into one rebuild after the current one."""
        self._dirty.add(page_id)
        task = self._rebuilding.get(page_id)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._rebuild_while_dirty(page_id))
            self._rebuilding[page_id] = task
        return task

    async def _rebuild_while_dirty(self, page_id: int) -> None:
        while page_id in self._dirty:
            self._dirty.discard(page_id)
            await self.rebuild(page_id)

    async def on_event(self, event: events.Event) -> None:
        if event.name in NOT_SHOWN:
            return
        page_ids = set(event.page_ids)
        if event.name == events.COMPONENT_STATUS_CHANGED and "updated_at" in event.data:
            status = ComponentStatus(event.data["new_status"])
            at = datetime.fromisoformat(event.data["updated_at"])
            page_ids = {p for p in page_ids
                        if not self.apply_status_change(p, event.data["component_id"], status, at)}
        tasks = [self.schedule(page_id) for page_id in page_ids]
        if tasks:
            await asyncio.gather(*tasks)
        if event.name in {events.PAGE_CREATED, events.PAGE_DELETED, events.PAGE_UPDATED}:
            await self._refresh_default()

    # --- the daily rollover -------------------------------------------------------------------------------
    def start_rollover(self) -> None:
        """Rebuild every page shortly after each UTC midnight, so that the uptime bars move on by a day even
        when nothing else changes. One task per process."""
        self.stop_rollover()
        self._rollover = asyncio.get_running_loop().create_task(self._roll_over_daily())

    def stop_rollover(self) -> None:
        if self._rollover is not None:
            self._rollover.cancel()
            self._rollover = None

    async def rebuild_all(self) -> None:
        await asyncio.gather(*(self.schedule(page_id) for page_id in list(self.by_id)))

    async def _roll_over_daily(self) -> None:
        while True:
            await asyncio.sleep(seconds_until_rollover(datetime.now(UTC)))
            try:
                await self.rebuild_all()
                log.info("snapshot.rolled_over pages=%s", len(self.by_id))
            except Exception:  # the next night must still come
                log.exception("snapshot.rollover_failed")

    async def settle(self) -> None:
        """Wait for every scheduled rebuild (tests and shutdown)."""
        while any(not t.done() for t in self._rebuilding.values()):
            await asyncio.gather(*self._rebuilding.values(), return_exceptions=True)


store = SnapshotStore()

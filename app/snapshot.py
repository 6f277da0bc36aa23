"""Per-page public snapshots: an immutable view of everything a status page shows, rebuilt when an event
says the page changed. The live page, the cached HTML, the JSON APIs, feeds and badges all render from it,
so visitors never query the database (ARCHITECTURE.md rule 5)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app import events
from app.enums import ComponentStatus
from app.status import Indicator, page_indicator, worst

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

    kind = "component"


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

    @property
    def items(self) -> tuple[ComponentView | GroupView, ...]:
        """The top level in display order."""
        return ordered(self.components, self.groups)

    @property
    def updated_at(self) -> datetime:
        times = [self.page.updated_at, *(c.updated_at for c in self.all_components)]
        return max(times)

    @property
    def visible(self) -> bool:
        """Whether anonymous visitors may see it (drafts and private pages are not served publicly)."""
        return self.page.public and self.page.active


def assemble(page: PageInfo, url: str, groups: Iterable[dict[str, Any]], placements: Iterable[dict[str, Any]],
             version: int = 0) -> PageSnapshot:
    """Pure: build the snapshot tree from plain rows.

    ``groups``: dicts with id, name, description, parent_id, position, created_at, updated_at.
    ``placements``: dicts with the component's fields plus group_id and position.
    """
    by_parent: dict[int | None, list[dict[str, Any]]] = {}
    group_rows = {g["id"]: g for g in groups}
    for g in group_rows.values():
        parent = g["parent_id"] if g["parent_id"] in group_rows else None
        by_parent.setdefault(parent, []).append(g)
    comps_by_group: dict[int | None, list[ComponentView]] = {}
    for p in placements:
        gid = p["group_id"] if p["group_id"] in group_rows else None
        comps_by_group.setdefault(gid, []).append(ComponentView(
            id=p["id"], name=p["name"], description=p["description"], link=p["link"],
            status=ComponentStatus(p["status"]), position=p["position"], group_id=gid,
            only_show_if_degraded=p["only_show_if_degraded"], show_uptime=p["show_uptime"],
            created_at=p["created_at"], updated_at=p["updated_at"]))
    for comps in comps_by_group.values():
        comps.sort(key=lambda c: (c.position, c.id))

    all_groups: list[GroupView] = []
    all_components: list[ComponentView] = []

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

    def walk(items: tuple[ComponentView | GroupView, ...]) -> None:
        for item in items:
            if isinstance(item, GroupView):
                all_groups.append(item)
                walk(item.items)
            else:
                all_components.append(item)

    top_components = tuple(comps_by_group.get(None, []))
    walk(ordered(top_components, top_groups))
    indicator = page_indicator(c.status for c in all_components)
    return PageSnapshot(page=page, url=url, indicator=indicator, groups=top_groups, components=top_components,
                        all_components=tuple(all_components), all_groups=tuple(all_groups),
                        built_at=datetime.now(UTC), version=version)


async def load(page_id: int, base_url: str, version: int = 0) -> PageSnapshot | None:
    """Read one page from the database and assemble its snapshot; None when the page is gone."""
    from storage.models import ComponentGroup, Placement, StatusPage

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
    url = f"https://{row.custom_domain}/" if row.custom_domain else f"{base_url}/status/{row.slug}"
    return assemble(page, url, groups, placements, version)


Listener = Callable[[PageSnapshot], None]


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
        host = host.split(":")[0].lower()
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
        self.by_id[page_id] = snapshot
        for listener in list(self._listeners.get(page_id, ())):
            try:
                listener(snapshot)
            except Exception:
                log.exception("snapshot.listener_failed page=%s", page_id)
        return snapshot

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
        tasks = [self.schedule(page_id) for page_id in event.page_ids]
        if tasks:
            await asyncio.gather(*tasks)
        if event.name in {events.PAGE_CREATED, events.PAGE_DELETED, events.PAGE_UPDATED}:
            await self._refresh_default()

    async def settle(self) -> None:
        """Wait for every scheduled rebuild (tests and shutdown)."""
        while any(not t.done() for t in self._rebuilding.values()):
            await asyncio.gather(*self._rebuilding.values(), return_exceptions=True)


store = SnapshotStore()

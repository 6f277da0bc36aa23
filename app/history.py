"""A page's incident and maintenance history: merged, newest first, grouped by month in the page's time zone and
cut into pages. The ordering, grouping and paging are pure functions over the snapshot's views; ``load`` reads
one page of results from the database (history reaches past what a snapshot holds)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal, TypeVar

from app.enums import MaintenanceState
from app.snapshot import IncidentView, MaintenanceView, fetch_incidents, fetch_maintenances

PER_PAGE = 25
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")

Kind = Literal["incident", "maintenance"]
Item = IncidentView | MaintenanceView
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Ref:
    """What the light query reads of an entry: enough to order it and fetch it."""

    kind: Kind
    id: int
    at: datetime


def kind(item: Item) -> Kind:
    return "incident" if isinstance(item, IncidentView) else "maintenance"


def when(item: Item) -> datetime:
    """The moment history files an entry under: an incident's start, a maintenance's scheduled start."""
    return item.started_at if isinstance(item, IncidentView) else item.scheduled_for


def ref(item: Item) -> Ref:
    return Ref(kind(item), item.id, when(item))


def _newest_first(r: Ref) -> tuple[float, int, int]:
    # ties: incidents before maintenances, then the later-created (higher id) first — stable across pages
    return (-r.at.timestamp(), 0 if r.kind == "incident" else 1, -r.id)


def newest_first(refs: Iterable[Ref]) -> list[Ref]:
    return sorted(refs, key=_newest_first)


def merge(incidents: Iterable[IncidentView], maintenances: Iterable[MaintenanceView]) -> list[Item]:
    """Incidents and maintenances in one list, newest first."""
    return sorted([*incidents, *maintenances], key=lambda item: _newest_first(ref(item)))


@dataclass(frozen=True, slots=True)
class Month:
    year: int
    month: int
    items: tuple[Item, ...]

    @property
    def label(self) -> str:
        """'November 2026'."""
        return f"{MONTHS[self.month - 1]} {self.year}"


def group_by_month(items: Iterable[Item], zone: tzinfo) -> list[Month]:
    """Consecutive entries of one calendar month (in ``zone``) under one heading, in the given order. Months
    without entries get no heading."""
    months: list[Month] = []
    for item in items:
        local = when(item).astimezone(zone)
        if months and (months[-1].year, months[-1].month) == (local.year, local.month):
            months[-1] = Month(local.year, local.month, (*months[-1].items, item))
        else:
            months.append(Month(local.year, local.month, (item,)))
    return months


@dataclass(frozen=True, slots=True)
class Pagination:
    """Page ``number`` (from 1) of ``total`` entries, ``per_page`` at a time. A number past the end is kept: the
    page then says there is nothing there rather than showing another page's entries."""

    number: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def start(self) -> int:
        return (self.number - 1) * self.per_page

    @property
    def stop(self) -> int:
        return self.start + self.per_page

    @property
    def beyond_end(self) -> bool:
        return self.number > self.pages

    @property
    def newer(self) -> int | None:
        """The page of newer entries, or None on the first page."""
        return min(self.number - 1, self.pages) if self.number > 1 else None

    @property
    def older(self) -> int | None:
        """The page of older entries, or None on the last page (and past it)."""
        return self.number + 1 if self.number < self.pages else None


def paginate(items: Sequence[T], number: int, per_page: int = PER_PAGE) -> tuple[Pagination, Sequence[T]]:
    """Page ``number`` of ``items`` (numbers below 1 mean the first page)."""
    pagination = Pagination(max(number, 1), len(items), per_page)
    return pagination, items[pagination.start:pagination.stop]


@dataclass(frozen=True, slots=True)
class HistoryPage:
    pagination: Pagination
    items: tuple[Item, ...]  # newest first


async def load(page_id: int, number: int, *, component_id: int | None = None, per_page: int = PER_PAGE,
               now: datetime | None = None) -> HistoryPage:
    """One page of a status page's history: its incidents (open ones too) and its maintenance windows that have
    begun, newest first; with ``component_id``, only those that affect that component.

    Reads a count and the (id, time) pairs of each table — no more of them than reach the requested page — then
    the full rows of just the entries shown."""
    from tortoise.expressions import Q

    from storage.models import Incident, Maintenance

    now = now or datetime.now(UTC)
    number = max(number, 1)
    incidents = Incident.filter(page_id=page_id)
    maintenances = Maintenance.filter(Q(page_id=page_id)
                                      & (Q(scheduled_for__lte=now) | ~Q(state=MaintenanceState.SCHEDULED)))
    if component_id is not None:
        incidents = incidents.filter(affected__component_id=component_id)
        maintenances = maintenances.filter(affected__component_id=component_id)
    pagination = Pagination(number, await incidents.count() + await maintenances.count(), per_page)
    if pagination.beyond_end or not pagination.total:
        return HistoryPage(pagination, ())

    reach = pagination.stop  # the newest ``stop`` of each table hold every entry of the merged page
    refs = newest_first([
        *(Ref("incident", i, at) for i, at in await incidents.order_by("-started_at", "-id").limit(reach)
          .values_list("id", "started_at")),
        *(Ref("maintenance", i, at) for i, at in await maintenances.order_by("-scheduled_for", "-id").limit(reach)
          .values_list("id", "scheduled_for")),
    ])[pagination.start:pagination.stop]
    incident_ids = [r.id for r in refs if r.kind == "incident"]
    maintenance_ids = [r.id for r in refs if r.kind == "maintenance"]
    fetched = [
        *(await fetch_incidents(Incident.filter(id__in=incident_ids)) if incident_ids else []),
        *(await fetch_maintenances(Maintenance.filter(id__in=maintenance_ids)) if maintenance_ids else []),
    ]
    return HistoryPage(pagination, tuple(merge([i for i in fetched if isinstance(i, IncidentView)],
                                               [m for m in fetched if isinstance(m, MaintenanceView)])))

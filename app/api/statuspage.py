"""Pure builders of Atlassian Statuspage v2 JSON shapes from a page snapshot (CONTRACT.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.enums import MaintenanceState
from app.snapshot import ComponentView, GroupView, IncidentView, MaintenanceView, PageSnapshot, UpdateView

# Statuspage lists at most this many incidents or maintenances in its list documents.
LIST_LIMIT = 50


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def page(s: PageSnapshot) -> dict[str, Any]:
    return {"id": str(s.page.id), "name": s.page.title, "url": s.url, "time_zone": s.page.time_zone,
            "updated_at": _time(s.updated_at)}


def status(s: PageSnapshot) -> dict[str, Any]:
    return {"indicator": s.indicator.indicator, "description": s.indicator.description}


def component(s: PageSnapshot, c: ComponentView) -> dict[str, Any]:
    return {
        "id": str(c.id), "name": c.name, "status": c.status.statuspage, "created_at": _time(c.created_at),
        "updated_at": _time(c.updated_at), "position": c.position, "description": c.description or None,
        "showcase": True, "start_date": c.created_at.date().isoformat(),
        "group_id": str(c.group_id) if c.group_id is not None else None, "page_id": str(s.page.id),
        "group": False, "only_show_if_degraded": c.only_show_if_degraded,
    }


def group(s: PageSnapshot, g: GroupView) -> dict[str, Any]:
    return {
        "id": str(g.id), "name": g.name, "status": g.status.statuspage, "created_at": _time(g.created_at),
        "updated_at": _time(g.updated_at), "position": g.position, "description": g.description or None,
        "showcase": False, "start_date": None,
        "group_id": str(g.parent_id) if g.parent_id is not None else None, "page_id": str(s.page.id),
        "group": True, "only_show_if_degraded": False,
        "components": [str(cid) for cid in g.component_ids],
    }


def components(s: PageSnapshot) -> list[dict[str, Any]]:
    """Groups and components in display order, as Statuspage lists them."""
    return [*(component(s, c) for c in s.all_components), *(group(s, g) for g in s.all_groups)]


def _affected_components(s: PageSnapshot, u: UpdateView) -> list[dict[str, Any]]:
    names = s.component_names
    return [{"code": str(a.component_id), "name": names[a.component_id],
             "old_status": a.old_status.statuspage if a.old_status else None,
             "new_status": a.new_status.statuspage if a.new_status else None}
            for a in u.affected_components if a.component_id in names]


def update_object(s: PageSnapshot, incident_id: int, u: UpdateView) -> dict[str, Any]:
    return {"id": str(u.id), "status": u.status.statuspage, "body": u.body, "incident_id": str(incident_id),
            "created_at": _time(u.created_at), "updated_at": _time(u.updated_at), "display_at": _time(u.display_at),
            "affected_components": _affected_components(s, u)}


def _components_of(s: PageSnapshot, ids: tuple[int, ...]) -> list[dict[str, Any]]:
    """The affected components that are on this page (a component may sit on several pages)."""
    wanted = set(ids)
    return [component(s, c) for c in s.all_components if c.id in wanted]


def incident(s: PageSnapshot, i: IncidentView) -> dict[str, Any]:
    return {
        # Statuspage moves a resolved incident to "postmortem" once its write-up is published
        "id": str(i.id), "name": i.name, "status": "postmortem" if i.postmortem else i.status.statuspage,
        "impact": i.impact.statuspage,
        "created_at": _time(i.created_at), "updated_at": _time(i.updated_at), "monitoring_at": _time(i.monitoring_at),
        "resolved_at": _time(i.resolved_at), "started_at": _time(i.started_at), "shortlink": s.incident_url(i.id),
        "page_id": str(s.page.id), "incident_updates": [update_object(s, i.id, u) for u in i.updates],
        "components": _components_of(s, i.component_ids),
    }


def maintenance_url(s: PageSnapshot, maintenance_id: int) -> str:
    """The absolute address of a maintenance's page, next to the page's incident pages."""
    incident_url = s.incident_url(maintenance_id)
    return incident_url.removesuffix(f"/incidents/{maintenance_id}") + f"/maintenance/{maintenance_id}"


def maintenance_updates(m: MaintenanceView) -> list[dict[str, Any]]:
    """Its updates, newest first, with the description it was scheduled with as the oldest one (Statuspage posts
    the description as a maintenance's first, "scheduled" update)."""
    updates = [{"id": str(u.id), "status": u.state.statuspage, "body": u.body, "incident_id": str(m.id),
                "created_at": _time(u.created_at), "updated_at": _time(u.updated_at),
                "display_at": _time(u.display_at), "affected_components": []} for u in m.updates]
    if m.body and not (m.updates and m.updates[-1].body == m.body):
        updates.append({"id": f"maintenance-{m.id}", "status": MaintenanceState.SCHEDULED.statuspage, "body": m.body,
                        "incident_id": str(m.id), "created_at": _time(m.created_at),
                        "updated_at": _time(m.updated_at), "display_at": _time(m.created_at),
                        "affected_components": []})
    return updates


def maintenance(s: PageSnapshot, m: MaintenanceView) -> dict[str, Any]:
    """A maintenance as Statuspage shows one: an incident with impact "maintenance" and a window."""
    return {
        "id": str(m.id), "name": m.name, "status": m.state.statuspage, "impact": "maintenance",
        "created_at": _time(m.created_at), "updated_at": _time(m.updated_at), "monitoring_at": None,
        "resolved_at": _time(m.completed_at), "started_at": _time(m.started_at or m.scheduled_for),
        "shortlink": maintenance_url(s, m.id), "page_id": str(s.page.id), "incident_updates": maintenance_updates(m),
        "components": _components_of(s, m.component_ids),
        "scheduled_for": _time(m.scheduled_for), "scheduled_until": _time(m.scheduled_until),
    }


def _current_maintenances(s: PageSnapshot) -> list[dict[str, Any]]:
    return [maintenance(s, m) for m in (*s.active_maintenances, *s.upcoming_maintenances)]


def summary(s: PageSnapshot) -> dict[str, Any]:
    return {"page": page(s), "status": status(s), "components": components(s),
            "incidents": [incident(s, i) for i in s.open_incidents],
            "scheduled_maintenances": _current_maintenances(s)}


def status_document(s: PageSnapshot) -> dict[str, Any]:
    return {"page": page(s), "status": status(s)}


def components_document(s: PageSnapshot) -> dict[str, Any]:
    return {"page": page(s), "components": components(s)}


def incidents_document(s: PageSnapshot) -> dict[str, Any]:
    """The most recent incidents, open or resolved, newest first."""
    return {"page": page(s), "incidents": [incident(s, i) for i in s.incidents[:LIST_LIMIT]]}


def unresolved_incidents_document(s: PageSnapshot) -> dict[str, Any]:
    return {"page": page(s), "incidents": [incident(s, i) for i in s.open_incidents]}


def maintenances_document(s: PageSnapshot) -> dict[str, Any]:
    """The most recent maintenances: upcoming, in progress and recently ended, latest window first."""
    return {"page": page(s), "scheduled_maintenances": [maintenance(s, m) for m in s.maintenances[:LIST_LIMIT]]}


def upcoming_maintenances_document(s: PageSnapshot) -> dict[str, Any]:
    return {"page": page(s), "scheduled_maintenances": [maintenance(s, m) for m in s.upcoming_maintenances]}


def active_maintenances_document(s: PageSnapshot) -> dict[str, Any]:
    return {"page": page(s), "scheduled_maintenances": [maintenance(s, m) for m in s.active_maintenances]}

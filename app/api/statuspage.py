"""Pure builders of Atlassian Statuspage v2 JSON shapes from a page snapshot (CONTRACT.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.snapshot import ComponentView, GroupView, PageSnapshot


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


def summary(s: PageSnapshot) -> dict[str, Any]:
    return {"page": page(s), "status": status(s), "components": components(s), "incidents": [],
            "scheduled_maintenances": []}


def status_document(s: PageSnapshot) -> dict[str, Any]:
    return {"page": page(s), "status": status(s)}


def components_document(s: PageSnapshot) -> dict[str, Any]:
    return {"page": page(s), "components": components(s)}

"""``python main.py demo``: the demo page of CONTRACT.md, loaded through the services, idempotently."""

from __future__ import annotations

from app.auth import Actor
from app.enums import ComponentStatus
from app.services import components, pages
from app.services.errors import NotFound
from storage.models import ComponentGroup

SLUG = "demo"

# (group, parent group or None, components); 30 components in 5 groups, "Europe" nested two levels deep.
GROUPS: list[tuple[str, str | None, list[str]]] = [
    ("Website", None, ["Marketing site", "Documentation", "Blog", "Status widget", "CDN"]),
    ("API", None, ["REST API", "GraphQL API", "Webhooks", "Authentication", "Rate limiter", "Search API"]),
    ("Regions", None, ["US East", "US West", "Asia Pacific"]),
    ("Europe", "Regions", ["Frankfurt", "Dublin", "Paris", "Stockholm"]),
    ("Data", None, ["Primary database", "Read replicas", "Object storage", "Backups", "Analytics pipeline",
                    "Message queue", "Cache", "Email delivery", "SMS delivery", "Payments", "Billing",
                    "Dashboard"]),
]
DEGRADED = {"Search API": ComponentStatus.DEGRADED, "Dublin": ComponentStatus.PARTIAL_OUTAGE}


async def load_demo() -> int:
    """Create the demo page if it is missing; returns its id."""
    actor = Actor.system("demo")
    try:
        return (await pages.find_page(SLUG)).id
    except NotFound:
        pass
    page = await pages.create_page(actor, title="Acme Cloud", slug=SLUG,
                                   description="Live status of Acme Cloud services")
    group_ids: dict[str, int] = {}
    for name, parent, names in GROUPS:
        group = await components.create_group(actor, page_id=page.id, name=name,
                                               parent_id=group_ids.get(parent) if parent else None)
        group_ids[name] = group.id
        for component_name in names:
            await components.create_component(actor, name=component_name, pages=[page.id], group_id=group.id,
                                              status=DEGRADED.get(component_name, ComponentStatus.OPERATIONAL))
    assert await ComponentGroup.filter(page_id=page.id).count() == len(GROUPS)
    return page.id

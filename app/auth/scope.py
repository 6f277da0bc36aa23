"""Which status pages an actor may see and touch: the team boundary of one install serving several customers.

The rule, as Beacon reads it:

- OWNER and ADMIN (and the system, which acts as OWNER) see every page.
- A page with no team is shared by the whole install, so an install without teams behaves as before.
- A page with a team is visible, and writable, only to OWNER/ADMIN and to members of that team. Writing still
  needs the role app/auth/permissions.py asks for: a READ_ONLY member may look, never change.
- A component is in scope when at least one page showing it is in scope, or when no page shows it.
- An incident or a maintenance window is in scope when its page is; a group when its page is.
- API keys and signed-in users act with their user's teams (``Actor.user_id``); an actor below ADMIN without a
  user sees only the team-less pages.

Something out of scope is answered exactly like something that does not exist (``NotFound`` with the usual
"No … with id N." text, 404 in the API, "No such …" in the admin), so that its existence does not leak.

Each call costs at most one query (none for OWNER/ADMIN). Inside a service transaction pass its ``conn``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from tortoise.expressions import Q

from app.auth.actor import Actor
from app.enums import Role
from app.services.errors import NotFound
from storage.models import Component, StatusPage

T = TypeVar("T")


def sees_everything(actor: Actor | None) -> bool:
    """True for callers the team boundary does not apply to (``None``: an internal call with no actor)."""
    return actor is None or actor.role >= Role.ADMIN


def page_q(actor: Actor, prefix: str = "") -> Q:
    """The condition a page in scope meets, for a query on pages (``prefix=""``) or on rows that reach a page
    through ``prefix`` (e.g. ``"page__"`` for incidents)."""
    shared = Q(**{f"{prefix}team_id": None})
    if actor.user_id is None:
        return shared
    return shared | Q(**{f"{prefix}team__members__id": actor.user_id})


async def visible_page_ids(actor: Actor | None, conn: Any = None) -> set[int] | None:
    """The ids of the pages the actor may see; None means every page."""
    if sees_everything(actor):
        return None
    assert actor is not None
    return set(await StatusPage.filter(page_q(actor)).using_db(conn).values_list("id", flat=True))


async def page_in_scope(actor: Actor | None, page_id: int | None, conn: Any = None) -> bool:
    if page_id is None:
        return False
    if sees_everything(actor):
        return True
    assert actor is not None
    return await StatusPage.filter(page_q(actor), id=page_id).using_db(conn).exists()


async def require_page(actor: Actor | None, page_id: int | None, conn: Any = None, *,
                       message: str | None = None) -> None:
    """NotFound (``message``, by default "No status page with id N.") unless the page is in the actor's scope.
    It does not check that a page in scope exists: callers look the row up themselves."""
    if not await page_in_scope(actor, page_id, conn):
        raise NotFound(message or f"No status page with id {page_id}.")


async def filter_pages(actor: Actor | None, pages: Iterable[T], conn: Any = None) -> list[T]:
    """The pages (StatusPage rows, or anything with an ``id``) the actor may see, in their order."""
    pages = list(pages)
    visible = await visible_page_ids(actor, conn)
    return pages if visible is None else [p for p in pages if p.id in visible]  # type: ignore[attr-defined]


def component_q(actor: Actor) -> Q:
    """The condition a component in scope meets: on no page, or on at least one page in scope."""
    on_a_visible_page = Q(placements__page__team_id=None) | Q(placements__page__team__members__id=actor.user_id) \
        if actor.user_id is not None else Q(placements__page__team_id=None)
    return Q(placements__id=None) | (Q(placements__id__not_isnull=True) & on_a_visible_page)


async def visible_component_ids(actor: Actor | None, conn: Any = None) -> set[int] | None:
    """The ids of the components the actor may see; None means every component."""
    if sees_everything(actor):
        return None
    assert actor is not None
    return set(await Component.filter(component_q(actor)).using_db(conn).distinct().values_list("id", flat=True))


async def component_in_scope(actor: Actor | None, component_id: int, conn: Any = None) -> bool:
    if sees_everything(actor):
        return True
    assert actor is not None
    return await Component.filter(component_q(actor), id=component_id).using_db(conn).exists()


async def require_component(actor: Actor | None, component_id: int, conn: Any = None) -> None:
    """NotFound ("No component with id N.") unless the component is in the actor's scope."""
    if not await component_in_scope(actor, component_id, conn):
        raise NotFound(f"No component with id {component_id}.")

"""What the admin screen tests share: a page with two components, and driving inputs the simulated user cannot
type into."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.auth import Actor
from app.services import components, pages
from tests.conftest import settle

ELSEWHERE = Actor.system("test-elsewhere")


async def acme(zone: str = "UTC") -> tuple[int, dict[str, int]]:
    """The page 'acme' (in ``zone``) with the components API and Database; the page id and the components' ids."""
    page = await pages.create_page(ELSEWHERE, title="Acme Cloud", slug="acme")
    if zone != "UTC":
        await pages.update_page(ELSEWHERE, page.id, time_zone=zone)
    ids = {name: (await components.create_component(ELSEWHERE, name=name, pages=[page.id])).id
           for name in ("API", "Database")}
    await settle()
    return page.id, ids


def element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


def set_value(user: User, marker: str, value) -> None:
    """What choosing in a select or picking a date or time does (the simulated user cannot drive those inputs)."""
    with user:
        element(user, marker).set_value(value)


def click(user: User, text: str) -> None:
    user.find(kind=ui.button, content=text).click()

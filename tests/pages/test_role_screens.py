"""The permission matrix in a browser session: each role, and a member of another team, signs in through the login
form and opens every admin screen; each screen offers exactly the actions the role table allows (the services
refuse the rest anyway: tests/test_permission_matrix.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nicegui import ui
from nicegui.testing import User

from app.auth import Actor, allowed
from app.enums import Role
from app.runtime import state
from app.services import components, incidents, maintenance, pages, users
from storage.models import StatusPage, Team
from storage.models import User as Account
from tests.conftest import settle

SYSTEM = Actor.system("test")
PASSWORD = "correct horse battery"
OUTSIDER = "member of another team"
WHO = {"READ_ONLY": Role.READ_ONLY, "MEMBER": Role.MEMBER, "ADMIN": Role.ADMIN, "OWNER": Role.OWNER,
       OUTSIDER: Role.MEMBER}

# (screen, a control it shows, the action that control performs, whether the control is about team A's page)
CONTROLS = [
    ("/admin", "Create page", "page.create", False),
    ("/admin", "Add component", "component.create", True),
    ("/admin/incidents", "New incident", "incident.create", False),
    ("/admin/incidents/{incident}", "Post update", "incident.update", True),
    ("/admin/incidents/{incident}", "Delete", "incident.delete", True),
    ("/admin/maintenance", "Schedule maintenance", "maintenance.create", False),
    ("/admin/maintenance/{maintenance}", "Start now", "maintenance.update", True),
    ("/admin/maintenance/{maintenance}", "Cancel", "maintenance.cancel", True),
    ("/admin/users", "Invite", "user.invite", False),
    ("/admin/teams", "Create team", "team.manage", False),
    ("/admin/audit", "Verify chain", "audit.view", False),
]


async def _world(who: str) -> dict[str, int]:
    """Team A's page with a component, an open incident and a scheduled maintenance; the account ``who`` in team A
    (or, for the outsider, in team B)."""
    await users.create_first_owner(email="first-owner@example.com", password=PASSWORD)
    state.has_owner = True
    team_a, team_b = await Team.create(name="A"), await Team.create(name="B")
    page = await pages.create_page(SYSTEM, title="Acme Cloud", slug="acme")
    await StatusPage.filter(id=page.id).update(team_id=team_a.id)
    await components.create_component(SYSTEM, name="API", pages=[page.id])
    incident = await incidents.create_incident(SYSTEM, page=page.id, name="Errors", impact="MINOR", body="Looking.")
    start = datetime.now(UTC) + timedelta(days=1)
    window = await maintenance.schedule_maintenance(SYSTEM, page=page.id, name="Upgrade", starts_at=start,
                                                    ends_at=start + timedelta(hours=1))
    account = await users.create_user(SYSTEM, email="person@example.com", password=PASSWORD, role=WHO[who])
    await (team_b if who == OUTSIDER else team_a).members.add(await Account.get(id=account.id))
    await settle()
    return {"incident": incident.id, "maintenance": window.id}


async def _sign_in(user: User) -> None:
    await user.open("/login")
    user.find("E-mail").type("person@example.com")
    user.find("Password").type(PASSWORD)
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)


def _offers(user: User, control: str) -> bool:
    try:
        buttons = user.find(kind=ui.button).elements
    except AssertionError:  # the screen has no button at all
        return False
    return any(button.text == control for button in buttons)


@pytest.mark.parametrize("who", list(WHO))
async def test_each_screen_offers_exactly_what_the_role_may_do(user: User, who: str):
    ids = await _world(who)
    await _sign_in(user)

    offered, expected = {}, {}
    for screen, control, action, about_the_page in CONTROLS:
        await user.open(screen.format(**ids))
        offered[(screen, control)] = _offers(user, control)
        expected[(screen, control)] = allowed(WHO[who], action) and not (who == OUTSIDER and about_the_page)

    assert offered == expected

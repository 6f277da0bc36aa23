"""Team scope in the admin screens through NiceGUI's simulated user: a MEMBER of team A sees only A's page (and the
pages of no team) on the dashboard; B's screens and B's private preview answer as if B did not exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from nicegui import ui
from nicegui.testing import User

from app.auth import Actor
from app.enums import Role
from app.services import components, incidents, maintenance, pages
from storage.models import StatusPage, Team
from tests.conftest import settle

ELSEWHERE = Actor.system("test-elsewhere")


@pytest.fixture
async def member_of_alpha(user: User) -> tuple[User, dict[str, int]]:
    """Two teams' private pages and a shared one; the simulated user signed in as a MEMBER of team A."""
    from app.runtime import state
    from app.services import users

    ids: dict[str, int] = {}
    for slug, title in (("alpha", "Alpha Cloud"), ("bravo", "Bravo Cloud"), ("everyone", "Shared Status")):
        page = await pages.create_page(ELSEWHERE, title=title, slug=slug, public=slug == "everyone")
        ids[slug] = page.id
        ids[f"{slug}_api"] = (await components.create_component(ELSEWHERE, name=f"{title} API",
                                                                 pages=[page.id])).id
    ids["incident"] = (await incidents.create_incident(ELSEWHERE, page="bravo", name="Bravo outage",
                                                       body="Looking.")).id
    start = datetime.now(UTC) + timedelta(days=1)
    ids["window"] = (await maintenance.schedule_maintenance(ELSEWHERE, page="bravo", name="Bravo upgrade",
                                                            starts_at=start, ends_at=start + timedelta(hours=1))).id
    await users.create_first_owner(email="owner@example.com", password="correct horse")
    member = await users.create_user(ELSEWHERE, email="member@alpha.test", password="correct horse", role=Role.MEMBER)
    team_a, team_b = await Team.create(name="Alpha"), await Team.create(name="Bravo")
    await team_a.members.add(member)
    await StatusPage.filter(id=ids["alpha"]).update(team_id=team_a.id)
    await StatusPage.filter(id=ids["bravo"]).update(team_id=team_b.id)
    await settle()
    state.has_owner = True
    await user.open("/login")
    user.find("E-mail").type("member@alpha.test")
    user.find("Password").type("correct horse")
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)
    return user, ids


async def test_the_dashboard_shows_a_member_only_their_teams_pages_and_the_shared_ones(member_of_alpha):
    user, _ = member_of_alpha
    await user.should_see("Alpha Cloud")
    await user.should_see("Shared Status")
    await user.should_not_see("Bravo Cloud")
    await user.should_not_see("Bravo Cloud API")


async def test_another_teams_page_screens_say_there_is_no_such_page(member_of_alpha):
    user, ids = member_of_alpha
    for address in (f"/admin/pages/{ids['bravo']}", "/admin/pages/bravo", f"/admin/pages/{ids['bravo']}/structure"):
        await user.open(address)
        await user.should_see("There is no such status page.")
        await user.should_not_see("Bravo Cloud")
    await user.open(f"/admin/pages/{ids['alpha']}")
    await user.should_see("Alpha Cloud")


async def test_another_teams_incidents_and_maintenance_are_not_found_and_not_listed(member_of_alpha):
    user, ids = member_of_alpha
    await user.open(f"/admin/incidents/{ids['incident']}")
    await user.should_see("No such incident.")
    await user.open(f"/admin/maintenance/{ids['window']}")
    await user.should_see("No such maintenance.")
    await user.open("/admin/incidents")
    await user.should_see("No incidents. All quiet.")
    await user.should_not_see("Bravo outage")
    await user.open("/admin/maintenance")
    await user.should_not_see("Bravo upgrade")
    await user.open("/admin/incidents/new?page=bravo")  # the composer offers only pages in scope
    await user.should_see("Alpha Cloud API")
    await user.should_not_see("Bravo Cloud")


async def test_the_preview_of_another_teams_private_page_is_refused(member_of_alpha):
    user, _ = member_of_alpha
    own = await user.http_client.get("/admin/preview/alpha")
    assert own.status_code == 200 and "Alpha Cloud" in own.text
    other = await user.http_client.get("/admin/preview/bravo")
    assert other.status_code == 404
    assert "Bravo Cloud" not in other.text


async def test_the_dashboard_follows_a_page_moving_into_the_members_team(member_of_alpha):
    from app import events
    from app.events import Event, bus

    user, ids = member_of_alpha
    await user.should_not_see("Bravo Cloud")
    team_a = await Team.get(name="Alpha")
    # what app/services/teams.py does when a page is given to a team
    await StatusPage.filter(id=ids["bravo"]).update(team_id=team_a.id)
    bus.publish(Event(events.USER_CHANGED, {"team_id": team_a.id, "page_id": ids["bravo"]}))
    await settle()
    await user.should_see("Bravo Cloud", retries=20)
    await StatusPage.filter(id=ids["alpha"]).update(team_id=None)
    await StatusPage.filter(id=ids["bravo"]).update(team_id=(await Team.get(name="Bravo")).id)
    bus.publish(Event(events.USER_CHANGED, {"team_id": team_a.id}))
    await settle()
    await user.should_not_see("Bravo Cloud", retries=20)
    await user.should_see("Alpha Cloud")

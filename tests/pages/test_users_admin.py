"""The people screen and the invitation page through NiceGUI's simulated user (no browser)."""

from __future__ import annotations

from nicegui import ui
from nicegui.testing import User

from app.auth import Actor
from app.enums import Role
from app.services import users
from storage.models import User as Account

PASSWORD = "correct horse battery"
SYSTEM = Actor.system("test")


async def _sign_in_as(user: User, email: str, role: Role) -> None:
    """An owner exists (the setup is done), then ``email`` with ``role`` signs in through the login form."""
    from app.runtime import state

    if not await users.owner_exists():
        await users.create_first_owner(email="owner@example.com", password=PASSWORD)
    state.has_owner = True
    if email != "owner@example.com":
        await users.create_user(SYSTEM, email=email, password=PASSWORD, role=role)
    await user.open("/login")
    user.find("E-mail").type(email)
    user.find("Password").type(PASSWORD)
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)


def _element(user: User, marker: str) -> ui.element:
    return next(iter(user.find(marker=marker).elements))


async def test_an_admin_invites_a_member_and_sees_the_one_time_link(user: User):
    await _sign_in_as(user, "admin@example.com", Role.ADMIN)
    await user.open("/admin/users")
    await user.should_see("Invite someone")

    assert set(_element(user, "invite-role").options) == {Role.MEMBER.value, Role.READ_ONLY.value}
    user.find(marker="email").type("new@example.com")
    user.find(kind=ui.button, content="Invite").click()

    await user.should_see("It is shown only now", retries=50)
    link = _element(user, "invite-link").text
    assert link.startswith("http://") and "/invite/" in link
    invited = await Account.get(email="new@example.com")
    assert (invited.role, invited.is_active) == (Role.MEMBER, False)
    await user.should_see("Invited")


async def test_a_member_sees_the_refusal_and_no_controls(user: User):
    await _sign_in_as(user, "member@example.com", Role.MEMBER)
    await user.open("/admin/users")

    await user.should_see("You cannot manage people")
    await user.should_not_see("Invite someone")
    await user.should_not_see("owner@example.com")
    for control in (ui.button, ui.input, ui.select):
        await user.should_not_see(kind=control)


async def test_deleting_the_last_owner_shows_why_it_is_refused(user: User):
    await _sign_in_as(user, "owner@example.com", Role.OWNER)
    owner = await Account.get(email="owner@example.com")
    await user.open("/admin/users")
    await user.should_see("owner@example.com (you)")

    user.find(marker=f"delete-{owner.id}").click()
    user.find(kind=ui.button, content="Yes, delete").click()

    await user.should_see("last active owner", retries=50)
    assert await Account.exists(id=owner.id)


async def test_an_admin_sees_no_controls_for_owners_and_admins(user: User):
    await _sign_in_as(user, "admin@example.com", Role.ADMIN)
    await users.create_user(SYSTEM, email="member@example.com", password=PASSWORD, role=Role.MEMBER)
    member = await Account.get(email="member@example.com")
    owner = await Account.get(email="owner@example.com")
    await user.open("/admin/users")
    await user.should_see("member@example.com")

    await user.should_see(marker=f"delete-{member.id}")
    await user.should_not_see(marker=f"delete-{owner.id}")
    await user.should_not_see(marker=f"reset-{owner.id}")
    with user:
        _element(user, f"role-{member.id}").set_value(Role.READ_ONLY.value)
    await user.should_see("is now Read-only", retries=50)
    assert (await Account.get(id=member.id)).role == Role.READ_ONLY


async def test_an_invited_person_sets_a_password_then_signs_in(user: User):
    await _sign_in_as(user, "owner@example.com", Role.OWNER)
    _, token = await users.invite_user(SYSTEM, email="new@example.com", role=Role.MEMBER)
    await user.open("/logout")
    await user.open(f"/invite/{token}")
    await user.should_see("Choose a password for new@example.com")

    user.find("Password").type("short")
    user.find("Repeat password").type("short")
    user.find(kind=ui.button, content="Set password").click()
    await user.should_see("Use at least 10 characters.", retries=50)
    user.find("Password").clear().type(PASSWORD)
    user.find("Repeat password").clear().type(PASSWORD)
    user.find(kind=ui.button, content="Set password").click()

    await user.should_see("Sign in to Beacon", retries=50)
    assert await users.authenticate("new@example.com", PASSWORD) is not None


async def test_an_unknown_invitation_link_says_so(user: User):
    await _sign_in_as(user, "owner@example.com", Role.OWNER)
    await user.open("/invite/not-a-real-token")

    await user.should_see("Invitation not valid")
    await user.should_see("Ask an administrator for a new invitation")



async def test_an_owner_deactivates_and_resets_the_password_of_a_member(user: User):
    await _sign_in_as(user, "owner@example.com", Role.OWNER)
    member = await users.create_user(SYSTEM, email="member@example.com", password=PASSWORD, role=Role.MEMBER)
    await user.open("/admin/users")
    await user.should_see("member@example.com")

    user.find(marker=f"deactivate-{member.id}").click()
    user.find(kind=ui.button, content="Yes, deactivate").click()
    await user.should_see("member@example.com deactivated", retries=50)
    await user.should_see(marker=f"reactivate-{member.id}")
    user.find(marker=f"reset-{member.id}").click()
    user.find(marker="new-password").type("a brand new password")
    user.find(kind=ui.button, content="Set password").click()
    await user.should_see("Password of member@example.com reset", retries=50)

    stored = await Account.get(id=member.id)
    assert (stored.is_active, stored.session_epoch) == (False, 2)

# --- /admin/teams (kept here: this file is the one the people and teams screens were given) ------------------------

async def test_an_admin_creates_a_team_adds_a_member_and_assigns_a_page(user: User):
    from app.services import pages, teams

    await _sign_in_as(user, "admin@example.com", Role.ADMIN)
    page = await pages.create_page(SYSTEM, title="Acme Cloud", slug="acme")
    member = await users.create_user(SYSTEM, email="member@example.com", password=PASSWORD, role=Role.MEMBER)
    await user.open("/admin/teams")
    await user.should_see("No teams yet.")

    user.find(marker="team-name").type("Platform")
    user.find(kind=ui.button, content="Create team").click()
    await user.should_see("Team 'Platform' created", retries=50)
    team = (await teams.list_teams())[0]
    with user:
        _element(user, f"add-member-{team.id}").set_value(member.id)
    user.find(marker=f"add-{team.id}").click()
    await user.should_see("member@example.com added to Platform", retries=50)
    with user:
        _element(user, f"page-team-{page.id}").set_value(team.id)
    await user.should_see("Team of Acme Cloud changed", retries=50)

    (listed,) = await teams.list_teams()
    assert [m.email for m in listed.members] == ["member@example.com"]
    assert [p.title for p in listed.pages] == ["Acme Cloud"]


async def test_a_member_cannot_manage_teams_on_the_screen(user: User):
    await _sign_in_as(user, "member@example.com", Role.MEMBER)
    await user.open("/admin/teams")

    await user.should_see("You cannot manage teams")
    await user.should_not_see(kind=ui.button)


def _nav_links(user: User) -> set[str]:
    return {link.text for link in user.find(kind=ui.link).elements if link.text in {
        "Dashboard", "Incidents", "Maintenance", "Users", "Teams", "Audit"}}


async def test_the_navigation_shows_a_read_only_user_only_the_screens_they_may_use(user: User):
    await _sign_in_as(user, "viewer@example.com", Role.READ_ONLY)

    assert _nav_links(user) == {"Dashboard", "Incidents", "Maintenance"}


async def test_the_navigation_shows_an_admin_the_people_teams_and_audit_screens(user: User):
    await _sign_in_as(user, "admin@example.com", Role.ADMIN)

    assert _nav_links(user) == {"Dashboard", "Incidents", "Maintenance", "Users", "Teams", "Audit"}

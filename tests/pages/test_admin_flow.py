"""The first-run and admin journey through NiceGUI's simulated user (no browser)."""

from nicegui import ui
from nicegui.testing import User

from app.snapshot import store
from tests.conftest import settle


async def test_first_visit_creates_owner_then_pages_and_components(user: User):
    await user.open("/setup")
    await user.should_see("Welcome to Beacon")
    user.find("E-mail").type("owner@example.com")
    user.find("Password").type("correct horse")
    user.find("Repeat password").type("correct horse")
    user.find("Create owner account").click()
    await user.should_see("Status pages", retries=50)
    await user.should_see("No status pages yet")

    user.find("Title").type("Acme Cloud").trigger("blur")
    assert next(iter(user.find("Slug").elements)).value == "acme-cloud"  # suggested from the title
    user.find("Create page").click()
    await user.should_see("/status/acme-cloud")

    user.find("New component name").type("API")
    user.find("Add component").click()
    await user.should_see("Component 'API' added")
    await settle()
    assert [c.name for c in store.by_slug("acme-cloud").all_components] == ["API"]

    user.find(ui.select).click()
    user.find("Major outage").click()
    await user.should_see("API: Major outage")
    await settle()
    assert store.by_slug("acme-cloud").indicator.description == "Major System Outage"


async def _owner(email: str = "owner@example.com", password: str = "correct horse"):
    from app.runtime import state
    from app.services import users

    owner = await users.create_first_owner(email=email, password=password)
    state.has_owner = True
    return owner


async def _sign_in(user: User, email: str = "owner@example.com", password: str = "correct horse") -> None:
    await user.open("/login")
    user.find("E-mail").type(email)
    user.find("Password").type(password)
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)


async def test_admin_requires_sign_in(user: User):
    await _owner()
    await user.open("/admin")
    await user.should_see("Sign in to Beacon")


async def test_setup_is_closed_once_an_owner_exists(user: User):
    await _owner()
    await user.open("/setup")
    await user.should_see("Sign in to Beacon")
    await user.should_not_see("Create owner account")


async def test_wrong_password_shows_one_message_without_saying_which_part(user: User):
    await _owner()
    await user.open("/login")
    user.find("E-mail").type("owner@example.com")
    user.find("Password").type("wrong password")
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("The e-mail or password is not correct.", retries=50)
    await user.should_not_see("Status pages")

    user.find("E-mail").clear().type("nobody@example.com")
    user.find("Password").type("correct horse")
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("The e-mail or password is not correct.", retries=50)


async def test_setup_rejects_mismatched_and_short_passwords(user: User):
    from app.services import users

    await user.open("/setup")
    user.find("E-mail").type("owner@example.com")
    user.find("Password").type("short")
    user.find("Repeat password").type("short")
    user.find("Create owner account").click()
    await user.should_see("Use at least 10 characters.", retries=50)
    assert not await users.owner_exists()


async def test_bad_page_and_component_input_shows_field_messages_and_writes_nothing(user: User):
    from storage.models import Component, StatusPage

    await _owner()
    await _sign_in(user)
    user.find("Create page").click()
    await user.should_see("Enter a title.")
    await user.should_see("Enter a slug")

    user.find("Title").type("Acme")
    user.find("Slug").clear().type("acme cloud")
    user.find("Create page").click()
    await user.should_see("A slug cannot contain spaces")
    assert await StatusPage.all().count() == 0

    user.find("Slug").clear().type("acme")
    user.find("Create page").click()
    await user.should_see("Status page 'Acme' created")

    user.find("Title").type("Acme again")
    user.find("Slug").clear().type("acme")
    user.find("Create page").click()
    await user.should_see("already used by another page")
    assert await StatusPage.all().count() == 1

    user.find("New component name").type("   ")
    user.find("Add component").click()
    await user.should_see("Enter a component name.")
    assert await Component.all().count() == 0


async def test_sign_out_ends_the_session(user: User):
    await _owner()
    await _sign_in(user)
    await user.open("/logout")
    await user.should_see("Sign in to Beacon")
    await user.open("/admin")
    await user.should_see("Sign in to Beacon")

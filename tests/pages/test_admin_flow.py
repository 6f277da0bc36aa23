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
    await user.should_see("Status pages")
    await user.should_see("No status pages yet")

    user.find("Title").type("Acme Cloud")
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

from app.auth import Actor
from app.services import components, pages
from app.snapshot import store
from tests.conftest import settle


async def test_a_status_change_reaches_the_page_snapshot(beacon):
    actor = Actor.system("test")
    page = await pages.create_page(actor, title="Acme", slug="acme")
    component = await components.create_component(actor, name="API", pages=[page.id])
    await settle()
    await components.set_status(actor, component.id, "MAJOR_OUTAGE")
    await settle()
    snapshot = store.by_slug("acme")
    assert snapshot.indicator.indicator == "critical"
    assert snapshot.all_components[0].status.value == "MAJOR_OUTAGE"

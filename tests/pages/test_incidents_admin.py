"""The incident screens through NiceGUI's simulated user (no browser): the composer, templates, the live preview,
posting updates, resolving, the postmortem, the list and what a read-only account may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nicegui import ui
from nicegui.testing import User

from app.enums import ComponentStatus, IncidentImpact, IncidentStatus
from app.runtime import state
from app.services import incidents, pages, users
from storage.models import Component, Incident, IncidentTemplate
from tests.conftest import settle
from tests.pages.screens import ELSEWHERE, acme, click, element, set_value


async def _status(component_id: int) -> ComponentStatus:
    return (await Component.get(id=component_id)).status


def _links_in_order(user: User, marker: str) -> list[str]:
    assert user.client is not None
    return [e.text for e in user.client.layout.descendants() if isinstance(e, ui.link) and marker in e._markers]


async def test_the_composer_opens_an_incident_holding_the_chosen_component_statuses(signed_in: User):
    _, ids = await acme()
    await signed_in.open("/admin/incidents/new?page=acme")
    await signed_in.should_see("Affected components")

    signed_in.find(marker="title").type("API errors")
    set_value(signed_in, "impact", "MAJOR")
    signed_in.find(marker="body").type("Requests fail with **500**.")
    set_value(signed_in, f"component-{ids['API']}", "MAJOR_OUTAGE")
    click(signed_in, "Open incident")

    await signed_in.should_see("Post an update", retries=50)  # the incident is written, then its page opens
    await signed_in.should_see("API: Operational → Major outage")
    incident = await Incident.get(name="API errors")
    assert (incident.impact, incident.status) == (IncidentImpact.MAJOR, IncidentStatus.INVESTIGATING)
    assert await incidents.held_components(incident.id) == {ids["API"]: ComponentStatus.MAJOR_OUTAGE}
    assert await _status(ids["API"]) == ComponentStatus.MAJOR_OUTAGE
    assert await _status(ids["Database"]) == ComponentStatus.OPERATIONAL


async def test_picking_a_template_prefills_title_message_impact_and_components(signed_in: User):
    _, ids = await acme()
    await incidents.save_template(ELSEWHERE, name="Database down", title="Database unavailable",
                                  body="We are *looking into it*.", impact=IncidentImpact.PARTIAL,
                                  components={ids["Database"]: "PARTIAL_OUTAGE"})
    await signed_in.open("/admin/incidents/new")
    await signed_in.should_see("Affected components")

    signed_in.find(marker="template").click()
    signed_in.find("Database down").click()

    assert element(signed_in, "title").value == "Database unavailable"
    assert element(signed_in, "body").value == "We are *looking into it*."
    assert element(signed_in, "impact").value == "PARTIAL"
    assert element(signed_in, f"component-{ids['Database']}").value == "PARTIAL_OUTAGE"
    assert element(signed_in, f"component-{ids['API']}").value == "none"
    assert "<em>looking into it</em>" in element(signed_in, "body-preview").content


async def test_the_preview_renders_the_markdown_as_it_is_typed(signed_in: User):
    await acme()
    await signed_in.open("/admin/incidents/new")
    await signed_in.should_see("The formatted text appears here as you type")

    signed_in.find(marker="body").type("Logins are **slow** for [some users](https://example.com).")

    preview = element(signed_in, "body-preview").content
    assert "<strong>slow</strong>" in preview
    assert 'href="https://example.com"' in preview
    await signed_in.should_not_see("The formatted text appears here as you type")


async def test_an_empty_message_shows_on_its_field_and_opens_nothing(signed_in: User):
    await acme()
    await signed_in.open("/admin/incidents/new")
    await signed_in.should_see("Affected components")

    signed_in.find(marker="title").type("API errors")
    click(signed_in, "Open incident")

    await signed_in.should_see("Write what is happening: an update needs a message.")
    assert element(signed_in, "title").value == "API errors"  # nothing typed is lost
    assert await Incident.all().count() == 0


async def test_a_backfill_is_read_in_the_pages_time_zone_and_a_future_one_is_refused_on_its_field(signed_in: User):
    _, ids = await acme(zone="Europe/Berlin")
    await signed_in.open("/admin/incidents/new")
    await signed_in.should_see("Affected components")
    signed_in.find(marker="title").type("Night outage")
    signed_in.find(marker="body").type("The API was down overnight.")
    signed_in.find("Backfill (already over)").click()
    await signed_in.should_see("Times are read in the page's time zone, Europe/Berlin.")

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    set_value(signed_in, "started_at", tomorrow)
    click(signed_in, "Open incident")
    await signed_in.should_see("An incident cannot start in the future; schedule maintenance instead.")
    assert await Incident.all().count() == 0

    set_value(signed_in, "started_at", "2025-01-10T03:00")
    set_value(signed_in, "resolved_at", "2025-01-10T04:30")
    click(signed_in, "Open incident")

    await signed_in.should_see("Backfilled")
    incident = await Incident.get(name="Night outage")
    assert (incident.status, incident.backfilled) == (IncidentStatus.RESOLVED, True)
    assert incident.started_at == datetime(2025, 1, 10, 2, 0, tzinfo=UTC)  # 03:00 in Berlin (UTC+1)
    assert incident.resolved_at == datetime(2025, 1, 10, 3, 30, tzinfo=UTC)
    assert await _status(ids["API"]) == ComponentStatus.OPERATIONAL


async def test_posting_an_update_changes_the_components_and_one_click_resolve_restores_them(signed_in: User):
    page_id, ids = await acme()
    incident = await incidents.create_incident(ELSEWHERE, page=page_id, name="API errors", impact="MAJOR",
                                               body="Investigating.", components={ids["API"]: "MAJOR_OUTAGE"})
    await signed_in.open(f"/admin/incidents/{incident.id}")
    await signed_in.should_see("Post an update")
    assert element(signed_in, f"component-{ids['API']}").value == "MAJOR_OUTAGE"  # what it holds now

    set_value(signed_in, "update-status", "MONITORING")
    set_value(signed_in, f"component-{ids['API']}", "DEGRADED")
    signed_in.find(marker="update-body").type("A fix is deployed; error rates are falling.")
    click(signed_in, "Post update")

    await signed_in.should_see("Update posted")
    await signed_in.should_see("API: Major outage → Degraded performance")
    await signed_in.should_see("A fix is deployed; error rates are falling.")
    assert await _status(ids["API"]) == ComponentStatus.DEGRADED
    assert (await Incident.get(id=incident.id)).status == IncidentStatus.MONITORING

    click(signed_in, "Resolve")

    await signed_in.should_see("Incident resolved")
    await signed_in.should_see("This incident has been resolved.")
    await signed_in.should_see("API: Degraded performance → Operational")
    assert await _status(ids["API"]) == ComponentStatus.OPERATIONAL
    assert (await Incident.get(id=incident.id)).status == IncidentStatus.RESOLVED


async def test_a_postmortem_is_published_and_unpublished(signed_in: User):
    page_id, _ = await acme()
    incident = await incidents.create_incident(ELSEWHERE, page=page_id, name="API errors", body="Investigating.")
    await incidents.resolve_incident(ELSEWHERE, incident.id)
    await signed_in.open(f"/admin/incidents/{incident.id}")
    await signed_in.should_see("Postmortem")

    signed_in.find(marker="postmortem").type("## Root cause\n\nAn expired certificate.")
    assert "<h2>Root cause</h2>" in element(signed_in, "postmortem-preview").content
    click(signed_in, "Publish")

    await signed_in.should_see("Postmortem published")
    stored = await Incident.get(id=incident.id)
    assert stored.postmortem_body == "## Root cause\n\nAn expired certificate."
    assert stored.postmortem_published_at is not None

    click(signed_in, "Unpublish")
    await signed_in.should_see("Postmortem unpublished")
    assert (await Incident.get(id=incident.id)).postmortem_published_at is None


async def test_pin_rename_and_delete_from_the_incident_screen(signed_in: User):
    page_id, ids = await acme()
    incident = await incidents.create_incident(ELSEWHERE, page=page_id, name="API erors", body="Investigating.",
                                               components={ids["API"]: "PARTIAL_OUTAGE"})
    await signed_in.open(f"/admin/incidents/{incident.id}")
    await signed_in.should_see("Post an update")

    click(signed_in, "Pin")
    await signed_in.should_see("Pinned to the top of the page")
    assert (await Incident.get(id=incident.id)).pinned

    click(signed_in, "Edit title and impact")
    signed_in.find(marker="edit-title").clear().type("API errors")
    set_value(signed_in, "edit-impact", "PARTIAL")
    click(signed_in, "Save")
    await signed_in.should_see("Incident saved")
    stored = await Incident.get(id=incident.id)
    assert (stored.name, stored.impact) == ("API errors", IncidentImpact.PARTIAL)

    click(signed_in, "Delete")
    click(signed_in, "Delete incident")
    await signed_in.should_see("No incidents. All quiet.")
    assert not await Incident.filter(id=incident.id).exists()
    assert await _status(ids["API"]) == ComponentStatus.OPERATIONAL


async def test_the_list_shows_open_incidents_first_pinned_then_newest_and_filters_by_page(signed_in: User):
    page_id, _ = await acme()
    other = await pages.create_page(ELSEWHERE, title="Internal", slug="internal")
    now = datetime.now(UTC)
    await incidents.create_incident(ELSEWHERE, page=page_id, name="Old outage", body="Over.", backfill=True,
                                    started_at=now - timedelta(hours=1), resolved_at=now - timedelta(minutes=30))
    await incidents.create_incident(ELSEWHERE, page=page_id, name="Slow search", body="Looking.",
                                    started_at=now - timedelta(days=2))
    await incidents.create_incident(ELSEWHERE, page=other.id, name="VPN flaky", body="Looking.",
                                    started_at=now - timedelta(days=1), pinned=True)
    await incidents.create_incident(ELSEWHERE, page=page_id, name="API errors", body="Looking.")

    await signed_in.open("/admin/incidents")
    await signed_in.should_see("Old outage")

    assert _links_in_order(signed_in, "incident-link") == ["VPN flaky", "API errors", "Slow search", "Old outage"]

    signed_in.find(marker="page-filter").click()
    signed_in.find("Internal").click()
    await signed_in.should_not_see("API errors")
    assert _links_in_order(signed_in, "incident-link") == ["VPN flaky"]


async def test_incidents_opened_and_updated_elsewhere_show_without_a_reload(signed_in: User):
    page_id, ids = await acme()
    await signed_in.open("/admin/incidents")
    await signed_in.should_see("No incidents. All quiet.")

    incident = await incidents.create_incident(ELSEWHERE, page=page_id, name="Search is slow", body="Looking.",
                                               components={ids["API"]: "DEGRADED"})
    await settle()
    await signed_in.should_see("Search is slow")

    await signed_in.open(f"/admin/incidents/{incident.id}")
    await signed_in.should_see("Post an update")
    signed_in.find(marker="update-body").type("Half-typed")
    await incidents.post_update(ELSEWHERE, incident.id, status="IDENTIFIED", body="An index was rebuilding.")
    await settle()
    await signed_in.should_see("An index was rebuilding.")
    assert element(signed_in, "update-body").value == "Half-typed"  # the form is left alone


async def test_an_unknown_or_malformed_id_says_so_with_a_way_back(signed_in: User):
    for address in ("/admin/incidents/999", "/admin/incidents/abc"):
        await signed_in.open(address)
        await signed_in.should_see("No such incident.")
        await signed_in.should_see("Back to the incidents")


async def test_a_template_is_created_and_edited_on_the_templates_screen(signed_in: User):
    _, ids = await acme()
    await signed_in.open("/admin/templates")
    await signed_in.should_see("New template")

    signed_in.find(marker="template-name").type("API down")
    signed_in.find(marker="template-title").type("API unavailable")
    signed_in.find(marker="template-body").type("We are investigating.")
    set_value(signed_in, "template-impact", "MAJOR")
    set_value(signed_in, f"component-{ids['API']}", "MAJOR_OUTAGE")
    click(signed_in, "Save template")

    await signed_in.should_see("Template 'API down' saved")
    template = await IncidentTemplate.get(name="API down")
    assert (template.title, template.body, template.impact) == ("API unavailable", "We are investigating.",
                                                                 IncidentImpact.MAJOR)
    assert template.components == {str(ids["API"]): "MAJOR_OUTAGE"}
    await signed_in.should_see("API: Major outage")

    click(signed_in, "Edit")
    await signed_in.should_see("Edit template 'API down'")
    signed_in.find(marker="template-title").clear().type("API down for everyone")
    click(signed_in, "Save template")
    await signed_in.should_see("Title: API down for everyone")
    assert (await IncidentTemplate.get(id=template.id)).title == "API down for everyone"


async def test_a_read_only_account_is_offered_no_changes_and_is_refused(user: User):
    await users.create_first_owner(email="owner@example.com", password="correct horse")
    state.has_owner = True
    await users.create_user(ELSEWHERE, email="viewer@example.com", password="correct horse", role="READ_ONLY")
    page_id, _ = await acme()
    incident = await incidents.create_incident(ELSEWHERE, page=page_id, name="API errors", body="Investigating.")
    await user.open("/login")
    user.find("E-mail").type("viewer@example.com")
    user.find("Password").type("correct horse")
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)

    await user.open("/admin/incidents")
    await user.should_see("API errors")
    await user.should_not_see(kind=ui.button, content="New incident")

    await user.open(f"/admin/incidents/{incident.id}")
    await user.should_see("Timeline")
    await user.should_not_see(kind=ui.button, content="Post update")
    await user.should_not_see(kind=ui.button, content="Resolve")
    await user.should_not_see(kind=ui.button, content="Delete")

    await user.open("/admin/incidents/new")
    await user.should_see("You cannot open incidents: This needs the MEMBER role or higher (incident.create); "
                          "your role is READ_ONLY.")
    await user.should_not_see(kind=ui.button, content="Open incident")
    assert await Incident.all().count() == 1

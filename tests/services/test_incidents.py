"""Incidents through the services, on SQLite and PostgreSQL: lifecycle, component holds and restore rules,
backfill, postmortem, templates, bad input, permissions and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import events
from app.auth import Actor
from app.enums import ComponentStatus, IncidentStatus, Role
from app.services import components, incidents, maintenance, pages
from app.services.errors import Forbidden, Invalid
from app.snapshot import store
from storage.models import AuditEntryRow, Component, Incident, IncidentComponent, IncidentUpdate
from tests.conftest import settle

OWNER = Actor.system("test")
MEMBER = Actor(kind="user", id=None, label="member@x", role=Role.MEMBER)
READ_ONLY = Actor(kind="user", id=None, label="ro@x", role=Role.READ_ONLY)


@pytest.fixture
async def acme(beacon):
    page = await pages.create_page(OWNER, title="Acme", slug="acme")
    page = await pages.update_page(OWNER, page.id, time_zone="Europe/Berlin")
    api = await components.create_component(OWNER, name="API", pages=[page.id])
    web = await components.create_component(OWNER, name="Website", pages=[page.id])
    db = await components.create_component(OWNER, name="Database", pages=[page.id])
    return page, api, web, db


async def status_of(component) -> ComponentStatus:
    return (await Component.get(id=component.id)).status


async def test_opening_an_incident_sets_its_components_and_shows_it_on_the_page(acme, published):
    page, api, web, _ = acme
    incident = await incidents.create_incident(
        MEMBER, page="acme", name="API errors", impact="MAJOR", body="We are looking into errors.",
        components={api.id: "MAJOR_OUTAGE", str(web.id): "degraded_performance"})
    await settle()

    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE
    assert await status_of(web) == ComponentStatus.DEGRADED
    snapshot = store.by_slug("acme")
    assert [i.name for i in snapshot.open_incidents] == ["API errors"]
    assert snapshot.indicator.indicator == "critical"
    first = snapshot.open_incidents[0].latest_update
    assert first.body == "We are looking into errors."
    assert {(a.component_id, a.old_status, a.new_status) for a in first.affected_components} == {
        (api.id, ComponentStatus.OPERATIONAL, ComponentStatus.MAJOR_OUTAGE),
        (web.id, ComponentStatus.OPERATIONAL, ComponentStatus.DEGRADED)}
    names = [e.name for e in published]
    assert names.count(events.INCIDENT_CREATED) == 1
    assert names.count(events.COMPONENT_STATUS_CHANGED) == 2
    created = next(e for e in published if e.name == events.INCIDENT_CREATED)
    assert created.data["incident_id"] == incident.id and page.id in created.page_ids


async def test_updates_move_through_the_stages_and_keep_a_timeline(acme, published):
    _, api, _, _ = acme
    incident = await incidents.create_incident(MEMBER, page="acme", name="Slow API", impact="DEGRADED",
                                               body="Investigating.", components={api.id: "DEGRADED"})
    await incidents.post_update(MEMBER, incident.id, status="IDENTIFIED", body="A bad deploy.",
                                components={api.id: "PARTIAL_OUTAGE"})
    await incidents.post_update(MEMBER, incident.id, status="monitoring", body="Rolled back.",
                                components={api.id: "OPERATIONAL"})
    await incidents.resolve_incident(MEMBER, incident.id)
    await settle()

    stored = await Incident.get(id=incident.id)
    assert stored.status == IncidentStatus.RESOLVED
    assert stored.identified_at <= stored.monitoring_at <= stored.resolved_at
    timeline = await incidents.timeline(incident.id)
    assert [(u.status, u.body) for u in timeline] == [
        (IncidentStatus.RESOLVED, incidents.RESOLVED_BODY), (IncidentStatus.MONITORING, "Rolled back."),
        (IncidentStatus.IDENTIFIED, "A bad deploy."), (IncidentStatus.INVESTIGATING, "Investigating.")]
    assert timeline[2].affected_components == {str(api.id): {"old": "DEGRADED", "new": "PARTIAL_OUTAGE"}}
    assert await status_of(api) == ComponentStatus.OPERATIONAL
    assert [e.name for e in published if e.name.startswith("incident.")] == [
        events.INCIDENT_CREATED, events.INCIDENT_UPDATED, events.INCIDENT_UPDATED, events.INCIDENT_RESOLVED]
    assert store.by_slug("acme").open_incidents == ()


async def test_resolving_restores_components_that_nothing_else_holds(acme):
    _, api, web, db = acme
    outage = await incidents.create_incident(MEMBER, page="acme", name="Outage", impact="MAJOR", body="Down.",
                                             components={api.id: "MAJOR_OUTAGE", web.id: "MAJOR_OUTAGE"})
    await incidents.create_incident(MEMBER, page="acme", name="Slow site", impact="DEGRADED", body="Slow.",
                                    components={web.id: "DEGRADED"})
    window = await maintenance.schedule_maintenance(
        MEMBER, page="acme", name="DB upgrade", starts_at=datetime.now(UTC),
        ends_at=datetime.now(UTC) + timedelta(hours=1), components=[db.id])
    await maintenance.start_maintenance(MEMBER, window.id)
    await incidents.post_update(MEMBER, outage.id, status="IDENTIFIED", body="DB too.",
                                components={db.id: "PARTIAL_OUTAGE"})
    assert await status_of(db) == ComponentStatus.PARTIAL_OUTAGE  # worse than the maintenance

    await incidents.resolve_incident(MEMBER, outage.id)

    assert await status_of(api) == ComponentStatus.OPERATIONAL  # nothing else holds it
    assert await status_of(web) == ComponentStatus.DEGRADED  # the other incident still holds it
    assert await status_of(db) == ComponentStatus.MAINTENANCE  # the maintenance still holds it


async def test_a_failing_monitor_keeps_holding_a_component_after_the_incident_resolves(acme):
    """Monitoring registers its failing checks as a hold source; until it does, this is the contract it uses."""
    from app.services import holds

    _, api, _, _ = acme

    async def failing_monitor(conn, ids):
        return {api.id: [ComponentStatus.PARTIAL_OUTAGE]} if api.id in ids else {}

    holds.SOURCES.append(failing_monitor)
    try:
        incident = await incidents.create_incident(MEMBER, page="acme", name="API down", impact="MAJOR",
                                                   body="Down.", components={api.id: "MAJOR_OUTAGE"})
        await incidents.resolve_incident(MEMBER, incident.id)
        assert await status_of(api) == ComponentStatus.PARTIAL_OUTAGE
    finally:
        holds.SOURCES.remove(failing_monitor)


async def test_reopening_a_resolved_incident_holds_its_components_again(acme, published):
    _, api, _, _ = acme
    incident = await incidents.create_incident(MEMBER, page="acme", name="Flaky", impact="PARTIAL", body="Errors.",
                                               components={api.id: "PARTIAL_OUTAGE"})
    await incidents.resolve_incident(MEMBER, incident.id)
    await incidents.post_update(MEMBER, incident.id, status="INVESTIGATING", body="It is back.")

    stored = await Incident.get(id=incident.id)
    assert stored.status == IncidentStatus.INVESTIGATING and stored.resolved_at is None
    assert await status_of(api) == ComponentStatus.PARTIAL_OUTAGE
    last = [e for e in published if e.name.startswith("incident.")][-1]
    assert last.name == events.INCIDENT_UPDATED and last.data["reopened"] is True


async def test_a_backfilled_incident_is_recorded_resolved_and_notifies_nobody(acme, published):
    _, api, _, _ = acme
    started = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    incident = await incidents.create_incident(
        MEMBER, page="acme", name="Last month's outage", impact="MAJOR", body="Postmortem to follow.",
        components={api.id: "MAJOR_OUTAGE"}, backfill=True, started_at=started.isoformat(),
        resolved_at=started + timedelta(hours=2), now=datetime(2026, 11, 23, tzinfo=UTC))
    await settle()

    stored = await Incident.get(id=incident.id)
    assert stored.backfilled and stored.status == IncidentStatus.RESOLVED
    assert (stored.started_at, stored.resolved_at) == (started, started + timedelta(hours=2))
    assert await status_of(api) == ComponentStatus.OPERATIONAL  # the past does not change the present
    assert {e.name for e in published} == {events.INCIDENT_BACKFILLED}
    assert not any(e.name in {events.INCIDENT_CREATED, events.INCIDENT_RESOLVED,
                              events.COMPONENT_STATUS_CHANGED} for e in published)
    assert await IncidentComponent.filter(incident_id=incident.id).count() == 1  # it is in the component's history


@pytest.mark.parametrize(("fields", "errors"), [
    ({"name": "  "}, {"name"}),
    ({"body": ""}, {"body"}),
    ({"impact": "HUGE"}, {"impact"}),
    ({"status": "PANICKING"}, {"status"}),
    ({"components": {"999999": "MAJOR_OUTAGE"}}, {"components"}),
    ({"components": {"abc": "MAJOR_OUTAGE"}}, {"components"}),
    ({"page": "nope"}, {"page"}),
    ({"started_at": "yesterday-ish"}, {"started_at"}),
    ({"backfill": True}, {"started_at"}),
    ({"backfill": True, "started_at": "2026-10-02T10:00:00Z", "resolved_at": "2026-10-01T10:00:00Z"},
     {"resolved_at"}),
    ({"started_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()}, {"started_at"}),
])
async def test_bad_input_names_each_field_and_writes_nothing(acme, fields, errors):
    _, api, _, _ = acme
    good = {"page": "acme", "name": "API errors", "impact": "MAJOR", "body": "Looking.",
            "components": {api.id: "MAJOR_OUTAGE"}}
    audit_before = await AuditEntryRow.all().count()

    with pytest.raises(Invalid) as caught:
        await incidents.create_incident(MEMBER, **{**good, **fields})

    assert set(caught.value.errors) == errors
    assert all(caught.value.errors.values())
    assert await Incident.all().count() == 0
    assert await status_of(api) == ComponentStatus.OPERATIONAL
    assert await AuditEntryRow.all().count() == audit_before


async def test_an_empty_update_or_a_component_of_another_page_is_refused_and_changes_nothing(acme):
    _, api, _, _ = acme
    other = await pages.create_page(OWNER, title="Other", slug="other")
    elsewhere = await components.create_component(OWNER, name="Elsewhere", pages=[other.id])
    incident = await incidents.create_incident(MEMBER, page="acme", name="Errors", impact="MINOR", body="Hm.",
                                               components={api.id: "DEGRADED"})

    with pytest.raises(Invalid) as empty:
        await incidents.post_update(MEMBER, incident.id, status="RESOLVED", body="   ")
    with pytest.raises(Invalid) as foreign:
        await incidents.post_update(MEMBER, incident.id, status="IDENTIFIED", body="Found it.",
                                    components={elsewhere.id: "MAJOR_OUTAGE"})

    assert "message" in empty.value.errors["body"]
    assert "not on this status page" in foreign.value.errors["components"]
    assert (await Incident.get(id=incident.id)).status == IncidentStatus.INVESTIGATING
    assert await IncidentUpdate.filter(incident_id=incident.id).count() == 1
    assert await status_of(api) == ComponentStatus.DEGRADED
    assert await status_of(elsewhere) == ComponentStatus.OPERATIONAL


async def test_the_postmortem_is_published_only_on_a_resolved_incident(acme):
    incident = await incidents.create_incident(MEMBER, page="acme", name="Outage", impact="MAJOR", body="Down.")
    with pytest.raises(Invalid, match="Resolve the incident"):
        await incidents.set_postmortem(MEMBER, incident.id, "Root cause: disk.", publish=True)

    await incidents.resolve_incident(MEMBER, incident.id)
    await incidents.set_postmortem(MEMBER, incident.id, "Draft: disk?", publish=False)
    await settle()
    assert store.by_slug("acme").incidents[0].postmortem == ""

    await incidents.set_postmortem(MEMBER, incident.id, "## Root cause\nA full disk.", publish=True)
    await settle()
    view = store.by_slug("acme").incidents[0]
    assert view.postmortem == "## Root cause\nA full disk."
    assert view.postmortem_published_at is not None


async def test_a_pinned_incident_is_listed_first(acme):
    first = await incidents.create_incident(MEMBER, page="acme", name="Older", impact="MINOR", body="a",
                                            started_at=datetime.now(UTC) - timedelta(hours=1))
    await incidents.create_incident(MEMBER, page="acme", name="Newer", impact="MINOR", body="b")
    await settle()
    assert [i.name for i in store.by_slug("acme").open_incidents] == ["Newer", "Older"]

    await incidents.edit_incident(MEMBER, first.id, pinned=True)
    await settle()

    assert [i.name for i in store.by_slug("acme").open_incidents] == ["Older", "Newer"]
    assert [i.name for i in await incidents.list_incidents()] == ["Older", "Newer"]


async def test_read_only_users_cannot_open_or_update_incidents_and_members_cannot_delete(acme):
    incident = await incidents.create_incident(MEMBER, page="acme", name="Errors", impact="MINOR", body="Hm.")

    with pytest.raises(Forbidden):
        await incidents.create_incident(READ_ONLY, page="acme", name="x", impact="MINOR", body="x")
    with pytest.raises(Forbidden):
        await incidents.post_update(READ_ONLY, incident.id, status="RESOLVED", body="x")
    with pytest.raises(Forbidden):
        await incidents.delete_incident(MEMBER, incident.id)
    assert await Incident.all().count() == 1


async def test_deleting_an_incident_releases_its_components_and_is_audited(acme):
    _, api, _, _ = acme
    incident = await incidents.create_incident(MEMBER, page="acme", name="Mistake", impact="MAJOR", body="Oops.",
                                               components={api.id: "MAJOR_OUTAGE"})
    await incidents.delete_incident(OWNER, incident.id)
    await settle()

    assert await status_of(api) == ComponentStatus.OPERATIONAL
    assert await Incident.all().count() == 0
    entry = await AuditEntryRow.filter(action="incident.delete").first()
    assert entry is not None and entry.severity == "warning"
    assert store.by_slug("acme").incidents == ()


async def test_every_incident_action_is_in_the_audit_trail(acme):
    _, api, _, _ = acme
    incident = await incidents.create_incident(MEMBER, page="acme", name="Errors", impact="MINOR", body="Hm.",
                                               components={api.id: "DEGRADED"})
    await incidents.post_update(MEMBER, incident.id, status="IDENTIFIED", body="Found.")
    await incidents.edit_incident(MEMBER, incident.id, name="API errors")
    await incidents.resolve_incident(MEMBER, incident.id)
    await incidents.set_postmortem(MEMBER, incident.id, "Cause.", publish=True)

    actions = await AuditEntryRow.filter(entity_type="incident").order_by("seq").values_list("action", flat=True)
    assert actions == ["incident.create", "incident.update", "incident.edit", "incident.update",
                       "incident.postmortem"]


async def test_a_template_prefills_title_body_impact_and_components(acme):
    _, api, _, _ = acme
    template = await incidents.save_template(MEMBER, name="API down", title="API unavailable",
                                             body="We are investigating.", impact="MAJOR",
                                             components={api.id: "MAJOR_OUTAGE"})
    with pytest.raises(Invalid) as clash:
        await incidents.save_template(MEMBER, name="API down", title="Other")
    with pytest.raises(Invalid) as unknown:
        await incidents.save_template(MEMBER, name="Ghost", title="Ghost", components={"424242": "DEGRADED"})

    listed = await incidents.list_templates()
    assert [(t.name, t.title, t.body, t.impact.value, t.components) for t in listed] == [
        ("API down", "API unavailable", "We are investigating.", "MAJOR", {str(api.id): "MAJOR_OUTAGE"})]
    assert "already exists" in clash.value.errors["name"]
    assert "424242" in unknown.value.errors["components"]

    incident = await incidents.create_incident(MEMBER, page="acme", name=template.title, impact=template.impact,
                                               body=template.body, components=template.components)
    assert await status_of(api) == ComponentStatus.MAJOR_OUTAGE
    assert incident.name == "API unavailable"


async def test_a_time_without_an_offset_is_read_in_the_pages_time_zone(acme):
    incident = await incidents.create_incident(
        MEMBER, page="acme", name="Old outage", impact="MINOR", body="Over.", backfill=True,
        started_at="2026-10-01T10:00", resolved_at="2026-10-01T11:30", now=datetime(2026, 11, 23, tzinfo=UTC))

    # Europe/Berlin is UTC+2 on 1 October
    assert incident.started_at == datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
    assert incident.resolved_at == datetime(2026, 10, 1, 9, 30, tzinfo=UTC)

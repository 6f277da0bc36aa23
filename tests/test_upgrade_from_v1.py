"""A database made by the first released Beacon (schema version 1, commit 5e945f4: pages, groups, components, an
incident with its updates, a maintenance window, the owner with an API key, and the audit trail) is upgraded to the
current schema on start, without losing anything, and works with today's features."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from app import audit
from app.api import statuspage
from app.auth import Actor
from app.services import apikeys, monitoring, subscribers, users
from app.snapshot import load
from storage.db import close_database, open_database
from storage.migrations import MIGRATIONS, applied_versions
from storage.models import Component, Incident, IncidentUpdate, Maintenance, StatusPage

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1.sqlite3"
# the plain API key the fixture's owner was given when it was made (only its hash is in the file)
FIXTURE_KEY = "bk_YIVBLDHD3lxj7pfsmmQyTwHkQf2uh_r7vUBkYxFECU4"


async def test_the_first_released_schema_upgrades_without_loss(settings, tmp_path: Path):
    copy = tmp_path / "old.sqlite3"
    shutil.copy(FIXTURE, copy)
    await open_database(f"sqlite://{copy}")
    try:
        assert await applied_versions("sqlite") == [m.version for m in MIGRATIONS]
        page = await StatusPage.get(slug="acme")
        assert (page.title, page.description, page.uptime_days, page.show_response_times) == (
            "Acme Cloud", "Acme's services", 90, True)  # new settings at their defaults
        statuses = dict(await Component.all().values_list("name", "status"))
        assert {k: getattr(v, "value", v) for k, v in statuses.items()} == {"API": "DEGRADED", "Buckets": "OPERATIONAL"}
        incident = await Incident.get(name="Slow API")
        bodies = await IncidentUpdate.filter(incident_id=incident.id).order_by("display_at").values_list("body",
                                                                                                          flat=True)
        assert bodies == ["Looking into it.", "A fix is out."]
        window = await Maintenance.get(name="Storage upgrade")
        assert window.scheduled_for == datetime(2030, 1, 1, 2, tzinfo=UTC) and window.remind_minutes == 60

        assert await audit.verify_stored() is None  # the old chain still verifies
        assert await users.authenticate("owner@example.com", "correct horse battery") is not None
        actor = await apikeys.actor_for_api_key(FIXTURE_KEY)
        assert actor is not None and actor.label

        snapshot = await load(page.id, "http://test")
        assert snapshot is not None
        summary = statuspage.summary(snapshot)
        assert summary["status"]["indicator"] == "minor" and summary["incidents"][0]["name"] == "Slow API"

        # and it takes today's features
        system = Actor.system("test")
        api = await Component.get(name="API")
        monitor = await monitoring.create_monitor(system, name="API check", kind="manual", interval=60,
                                                  component_id=api.id, config={"status": "up"})
        await subscribers.add_subscriber(system, page, kind="webhook", address="https://hooks.example.com/x")
        assert monitor.id and await audit.verify_stored() is None
    finally:
        await close_database()

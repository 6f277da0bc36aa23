"""Schema versions: a fresh database is stamped, an existing one keeps its data and gets only what is new,
and a database newer than the code is refused."""

from __future__ import annotations

import pytest
from tortoise import connections
from tortoise.exceptions import OperationalError

from app.auth import Actor
from app.services import components, pages, users
from storage.db import close_database, dialect, open_database
from storage.migrations import MIGRATIONS, Migration, SchemaTooNew, applied_versions, migrate
from storage.models import Component, SchemaVersion, StatusPage

OWNER = Actor.system("test")


async def add_extra_note(conn, dialect_name: str) -> None:
    await conn.execute_script("ALTER TABLE components ADD COLUMN extra_note TEXT")


async def test_a_fresh_database_is_stamped_with_every_version(database_url):
    await open_database(database_url)
    try:
        versions = await applied_versions(dialect(database_url))
        names = await SchemaVersion.all().order_by("version").values_list("name", flat=True)
    finally:
        await close_database()

    assert versions == [m.version for m in MIGRATIONS]
    assert names == [m.name for m in MIGRATIONS]


async def test_reopening_a_database_keeps_its_data_and_applies_nothing(database_url):
    await open_database(database_url)
    try:
        page = await pages.create_page(OWNER, title="Acme", slug="acme")
        await components.create_component(OWNER, name="API", pages=[page.id], status="DEGRADED")
    finally:
        await close_database()

    await open_database(database_url)
    try:
        rerun = await migrate(dialect(database_url))
        kept_pages = await StatusPage.all().values_list("slug", flat=True)
        kept_components = await Component.all().values_list("name", "status")
        versions = await applied_versions(dialect(database_url))
    finally:
        await close_database()

    assert rerun == []
    assert kept_pages == ["acme"]
    assert [(name, str(getattr(status, "value", status))) for name, status in kept_components] == [
        ("API", "DEGRADED")]
    assert versions == [m.version for m in MIGRATIONS]


async def test_a_database_newer_than_the_code_is_refused(database_url):
    await open_database(database_url)
    try:
        await SchemaVersion.create(version=MIGRATIONS[-1].version + 1, name="from a newer Beacon")
    finally:
        await close_database()

    try:
        with pytest.raises(SchemaTooNew, match="newer than this Beacon"):
            await open_database(database_url)
    finally:
        await close_database()


async def test_a_pending_migration_is_applied_once_recorded_and_keeps_existing_rows(database_url):
    pending = [*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "add column", add_extra_note)]
    await open_database(database_url)
    try:
        page = await pages.create_page(OWNER, title="Acme", slug="acme")
        await components.create_component(OWNER, name="API", pages=[page.id])

        applied = await migrate(dialect(database_url), migrations=pending)
        again = await migrate(dialect(database_url), migrations=pending)
        versions = await applied_versions(dialect(database_url))
        _, rows = await connections.get("default").execute_query("SELECT name, extra_note FROM components")
    finally:
        await close_database()

    assert applied == [pending[-1].version]
    assert again == []
    assert versions == [m.version for m in pending]
    assert [(row["name"], row["extra_note"]) for row in rows] == [("API", None)]


async def test_a_failing_migration_leaves_the_version_unrecorded(database_url):
    async def broken(conn, dialect_name: str) -> None:
        await conn.execute_script("ALTER TABLE no_such_table ADD COLUMN x TEXT")

    pending = [*MIGRATIONS, Migration(MIGRATIONS[-1].version + 1, "broken", broken)]
    await open_database(database_url)
    try:
        with pytest.raises(OperationalError, match="no_such_table"):
            await migrate(dialect(database_url), migrations=pending)
        versions = await applied_versions(dialect(database_url))
    finally:
        await close_database()

    assert versions == [m.version for m in MIGRATIONS]


async def test_a_database_that_beacon_did_not_make_is_refused_untouched(database_url):
    from storage.migrations import SchemaUnknown

    await open_database(database_url)
    try:
        await connections.get("default").execute_script("DROP TABLE schema_version")
        with pytest.raises(SchemaUnknown):
            await migrate(dialect(database_url))
        assert not await StatusPage.all().exists()  # the tables are still there, and still empty
    finally:
        await close_database()


NEW_PAGE_COLUMNS = ["header_color", "logo_file", "favicon_file", "uptime_days", "show_response_times",
                    "incident_history_days"]
NEW_MAINTENANCE_COLUMNS = ["backfilled", "recurrence", "series_id", "remind_minutes", "reminded_at"]
NEW_USER_COLUMNS = ["session_epoch", "password_changed_at", "invite_hash", "invite_expires_at", "totp_secret",
                    "totp_enabled_at", "recovery_codes"]


async def test_a_version_1_database_is_upgraded_to_the_current_schema_without_loss(database_url):
    """Rebuild the exact shape a version-1 Beacon left (no page settings columns, no rollup table, no maintenance
    recurrence, updates or incident templates), then start the current code on it: the page and its maintenance
    survive and gain the new settings at their defaults."""
    from datetime import UTC, datetime, timedelta

    from storage.models import Maintenance

    await open_database(database_url)
    try:
        conn = connections.get("default")
        page = await pages.create_page(OWNER, title="Acme", slug="acme")
        await components.create_component(OWNER, name="API", pages=[page.id])
        start = datetime(2030, 1, 1, 2, tzinfo=UTC)
        await Maintenance.create(page_id=page.id, name="Upgrade", scheduled_for=start,
                                 scheduled_until=start + timedelta(hours=1))
        for column in NEW_PAGE_COLUMNS:
            await conn.execute_script(f'ALTER TABLE status_pages DROP COLUMN "{column}"')
        for column in NEW_MAINTENANCE_COLUMNS:
            await conn.execute_script(f'ALTER TABLE maintenances DROP COLUMN "{column}"')
        await users.create_first_owner(email="owner@example.com", password="correct horse")
        for column in NEW_USER_COLUMNS:
            await conn.execute_script(f'ALTER TABLE users DROP COLUMN "{column}"')
        await conn.execute_script('ALTER TABLE api_keys DROP COLUMN "expires_at"')
        for table in ("deliveries", "subscribers", "channels", "outbox_events", "monitor_events", "monitors",
                      "heartbeats", "monitor_rollups_minute", "monitor_rollups_hour", "monitor_rollups_day"):
            await conn.execute_script(f"DROP TABLE {table}")
        await conn.execute_script("DROP TABLE login_throttle")
        await conn.execute_script("DROP TABLE install_settings")
        await conn.execute_script("DROP TABLE uptime_daily")
        await conn.execute_script("DROP TABLE maintenance_updates")
        await conn.execute_script("DROP TABLE incident_templates")
        await conn.execute_script("DELETE FROM schema_version WHERE version > 1")
    finally:
        await close_database()

    await open_database(database_url)
    try:
        versions = await applied_versions(dialect(database_url))
        upgraded = await StatusPage.get(slug="acme")
        from storage.models import DailyUptime
        rollups = await DailyUptime.all().count()
        component_names = await Component.all().values_list("name", flat=True)
        maintenance = await Maintenance.get(name="Upgrade")
        from storage.models import IncidentTemplate, MaintenanceUpdate
        new_tables = (await MaintenanceUpdate.all().count(), await IncidentTemplate.all().count())
        from storage.models import User
        owner = await User.get(email="owner@example.com")
        from storage.models import Monitor
        monitor_tables = await Monitor.all().count()
        _, heartbeat_rows = await connections.get("default").execute_query("SELECT COUNT(*) AS n FROM heartbeats")
    finally:
        await close_database()

    assert versions == [m.version for m in MIGRATIONS]
    assert upgraded.title == "Acme"
    assert (upgraded.uptime_days, upgraded.show_response_times, upgraded.incident_history_days) == (90, True, 14)
    assert upgraded.logo_file is None and upgraded.header_color is None
    assert rollups == 0
    assert component_names == ["API"]
    assert (maintenance.recurrence, maintenance.remind_minutes, maintenance.backfilled) == (None, 60, False)
    assert maintenance.scheduled_for == datetime(2030, 1, 1, 2, tzinfo=UTC)
    assert new_tables == (0, 0)
    assert (owner.session_epoch, owner.recovery_codes, owner.totp_enabled_at) == (0, [], None)
    assert (monitor_tables, heartbeat_rows[0]["n"]) == (0, 0)


V7_DELIVERIES = {
    "sqlite": """CREATE TABLE "deliveries" ("id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
        "event" VARCHAR(50) NOT NULL, "page_id" INT, "payload" JSON NOT NULL,
        "status" VARCHAR(10) NOT NULL DEFAULT 'pending', "attempts" INT NOT NULL DEFAULT 0,
        "next_attempt_at" TIMESTAMP NOT NULL, "last_error" TEXT NOT NULL,
        "idempotency_key" VARCHAR(100) NOT NULL UNIQUE, "created_at" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "sent_at" TIMESTAMP, "channel_id" INT NOT NULL REFERENCES "channels" ("id") ON DELETE CASCADE);
        CREATE INDEX "idx_deliveries_status_v7" ON "deliveries" ("status");""",
    "postgres": """CREATE TABLE "deliveries" ("id" BIGSERIAL NOT NULL PRIMARY KEY, "event" VARCHAR(50) NOT NULL,
        "page_id" INT, "payload" JSONB NOT NULL, "status" VARCHAR(10) NOT NULL DEFAULT 'pending',
        "attempts" INT NOT NULL DEFAULT 0, "next_attempt_at" TIMESTAMPTZ NOT NULL, "last_error" TEXT NOT NULL,
        "idempotency_key" VARCHAR(100) NOT NULL UNIQUE, "created_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "sent_at" TIMESTAMPTZ, "channel_id" INT NOT NULL REFERENCES "channels" ("id") ON DELETE CASCADE);
        CREATE INDEX "idx_deliveries_status_v7" ON "deliveries" ("status");""",
}


async def test_a_version_7_database_keeps_its_deliveries_and_can_deliver_to_subscribers(database_url):
    """Version 7 had deliveries to channels only (channel_id NOT NULL) and no subscribers: the upgrade keeps every
    delivery and lets new ones go to a subscriber."""
    from datetime import UTC, datetime

    from storage.models import Channel, Delivery, Subscriber

    await open_database(database_url)
    try:
        conn = connections.get("default")
        page = await pages.create_page(OWNER, title="Acme", slug="acme")
        channel = await Channel.create(name="Hook", kind="webhook", config={"url": "http://127.0.0.1:9/"},
                                       events=["incident.created"])
        await conn.execute_script("DROP TABLE deliveries")
        await conn.execute_script("DROP TABLE subscribers")
        await conn.execute_script(V7_DELIVERIES[dialect(database_url)])
        await conn.execute_script('ALTER TABLE channels DROP COLUMN "component_ids"')
        await conn.execute_script('ALTER TABLE channels DROP COLUMN "options"')
        now = datetime(2030, 1, 1, tzinfo=UTC)
        moment = now.isoformat(sep=" ")
        await conn.execute_query(
            "INSERT INTO deliveries (event, page_id, payload, status, attempts, next_attempt_at, last_error, "
            f"idempotency_key, channel_id) VALUES ('incident.created', {page.id}, '{{\"a\": 1}}', 'failed', 3, "
            f"'{moment}', 'HTTP 500', '1:1:1', {channel.id})")
        await conn.execute_script("DELETE FROM schema_version WHERE version > 7")
    finally:
        await close_database()

    await open_database(database_url)
    try:
        versions = await applied_versions(dialect(database_url))
        kept = await Delivery.get(idempotency_key="1:1:1")
        upgraded = await Channel.get(id=channel.id)
        subscriber = await Subscriber.create(page_id=page.id, kind="webhook", address="http://127.0.0.1:9/s",
                                             nonce="n", confirmed_at=now)
        new = await Delivery.create(subscriber=subscriber, event="incident.created", page_id=page.id, payload={},
                                    next_attempt_at=now, idempotency_key="2:s1:1")
        statuses = sorted(await Delivery.all().values_list("status", flat=True))
    finally:
        await close_database()

    assert versions == [m.version for m in MIGRATIONS]
    kept_values = (kept.channel_id, kept.payload, kept.status, kept.attempts, kept.last_error)  # type: ignore
    assert kept_values == (channel.id, {"a": 1}, "failed", 3, "HTTP 500")
    assert (upgraded.component_ids, upgraded.options) == ([], {})
    assert new.channel_id is None and statuses == ["failed", "pending"]  # type: ignore[attr-defined]

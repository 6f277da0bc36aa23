"""Ordered schema migrations recorded in ``schema_version`` (design in docs/database.md).

A fresh database gets the current schema from the models and is stamped with the newest version.
An existing database gets every migration newer than its version, each in its own transaction,
in order. A database newer than this code is refused rather than guessed at.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from tortoise import Tortoise, connections
from tortoise.transactions import in_transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    # receives the connection (inside a transaction) and the dialect name: "sqlite" or "postgres"
    apply: Callable[[object, str], Awaitable[None]]


async def _create_missing_tables(conn: object, dialect: str) -> None:
    await Tortoise.generate_schemas(safe=True)


async def _columns(conn: object, dialect: str, table: str) -> set[str]:
    if dialect == "postgres":
        _, rows = await conn.execute_query(  # type: ignore[attr-defined]
            "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = $1", [table])
    else:
        _, rows = await conn.execute_query(f'PRAGMA table_info("{table}")')  # type: ignore[attr-defined]
    return {row["name"] for row in rows}


def _add_columns(table: str, columns: list[tuple[str, str, str]]) -> Callable[[object, str], Awaitable[None]]:
    """A migration adding columns: (name, SQL type, SQL default) each; booleans as type "BOOL"."""
    async def apply(conn: object, dialect: str) -> None:
        present = await _columns(conn, dialect, table)
        for name, sql_type, default in columns:
            if name in present:  # the table was created by a later model (an earlier migration made it)
                continue
            if sql_type == "BOOL" and dialect == "sqlite":  # tortoise stores booleans as INT on SQLite
                sql_type, default = "INT", {"TRUE": "1", "FALSE": "0"}.get(default, default)
            # the column types tortoise itself gives these fields on each database
            sql_type = {("JSON", "postgres"): "JSONB", ("TIMESTAMPTZ", "sqlite"): "TIMESTAMP"}.get(
                (sql_type, dialect), sql_type)
            not_null = "" if default == "NULL" else " NOT NULL"
            await conn.execute_script(  # type: ignore[attr-defined]
                f'ALTER TABLE "{table}" ADD COLUMN "{name}" {sql_type}{not_null} DEFAULT {default}')
    return apply


async def _timeseries_tables(conn: object, dialect: str) -> None:
    from storage.timeseries import create_tables

    await create_tables(conn, dialect)


DELIVERY_V7_COLUMNS = ("id", "channel_id", "event", "page_id", "payload", "status", "attempts", "next_attempt_at",
                       "last_error", "idempotency_key", "created_at", "sent_at")


async def _deliveries_to_subscribers(conn: object, dialect: str) -> None:
    """A delivery goes to a channel or a subscriber: channel_id becomes nullable and subscriber_id appears. SQLite
    cannot drop a NOT NULL constraint, so there the table is rebuilt from the models and its rows copied over."""
    if "subscriber_id" in await _columns(conn, dialect, "deliveries"):
        return  # created in this shape by migration 7 running with today's models
    run = conn.execute_script  # type: ignore[attr-defined]
    if dialect == "postgres":
        await run('ALTER TABLE "deliveries" ALTER COLUMN "channel_id" DROP NOT NULL')
        await run('ALTER TABLE "deliveries" ADD COLUMN "subscriber_id" INT NULL '
                  'REFERENCES "subscribers" ("id") ON DELETE CASCADE')
        await run('CREATE INDEX IF NOT EXISTS "idx_deliveries_subscri_v8" ON "deliveries" ("subscriber_id")')
        await run("""ALTER TABLE "deliveries" ADD COLUMN "subject" VARCHAR(40) NOT NULL DEFAULT ''""")
        return
    columns = ", ".join(f'"{c}"' for c in DELIVERY_V7_COLUMNS)
    await run('ALTER TABLE "deliveries" RENAME TO "deliveries_v7"')
    await Tortoise.generate_schemas(safe=True)  # the new table (its indexes still have the old table's names)
    await run(f'INSERT INTO "deliveries" ({columns}, "subject") SELECT {columns}, \'\' FROM "deliveries_v7"')
    await run('DROP TABLE "deliveries_v7"')
    await Tortoise.generate_schemas(safe=True)  # now the indexes, on the new table


def _then(*steps: Callable[[object, str], Awaitable[None]]) -> Callable[[object, str], Awaitable[None]]:
    async def apply(conn: object, dialect: str) -> None:
        for step in steps:
            await step(conn, dialect)
    return apply


MIGRATIONS: list[Migration] = [
    Migration(1, "initial schema", _create_missing_tables),
    Migration(2, "page branding and display settings", _add_columns("status_pages", [
        ("header_color", "VARCHAR(16)", "NULL"),
        ("logo_file", "VARCHAR(100)", "NULL"),
        ("favicon_file", "VARCHAR(100)", "NULL"),
        ("uptime_days", "INT", "90"),
        ("show_response_times", "BOOL", "TRUE"),
        ("incident_history_days", "INT", "14"),
    ])),
    Migration(3, "daily uptime rollups", _create_missing_tables),
    Migration(4, "maintenance recurrence, reminders and updates; incident templates", _then(
        _add_columns("maintenances", [
            ("backfilled", "BOOL", "FALSE"),
            ("recurrence", "JSON", "NULL"),
            ("series_id", "INT", "NULL"),
            ("remind_minutes", "INT", "60"),
            ("reminded_at", "TIMESTAMPTZ", "NULL"),
        ]),
        _create_missing_tables)),
    Migration(5, "sessions, invitations, two-factor sign-in, key expiry, sign-in throttling", _then(
        _add_columns("users", [
            ("session_epoch", "INT", "0"),
            ("password_changed_at", "TIMESTAMPTZ", "NULL"),
            ("invite_hash", "VARCHAR(64)", "NULL"),
            ("invite_expires_at", "TIMESTAMPTZ", "NULL"),
            ("totp_secret", "VARCHAR(64)", "NULL"),
            ("totp_enabled_at", "TIMESTAMPTZ", "NULL"),
            ("recovery_codes", "JSON", "'[]'"),
        ]),
        _add_columns("api_keys", [("expires_at", "TIMESTAMPTZ", "NULL")]),
        _create_missing_tables)),
    Migration(6, "monitors, their events, heartbeats and minute/hour/day rollups", _then(
        _create_missing_tables, _timeseries_tables)),
    Migration(7, "notification channels, the outbox of events and deliveries", _create_missing_tables),
    Migration(8, "public subscribers; deliveries to subscribers; channel filters and rules; notice marks", _then(
        _add_columns("channels", [("component_ids", "JSON", "'[]'"), ("options", "JSON", "'{}'")]),
        _create_missing_tables, _deliveries_to_subscribers)),
    Migration(9, "custom metrics and their data points", _create_missing_tables),
    # Add new migrations here. A new table can reuse _create_missing_tables; a new column needs
    # "ALTER TABLE ... ADD COLUMN ..." valid on both SQLite and PostgreSQL (see docs/database.md).
]


class SchemaError(RuntimeError):
    """The database cannot be used by this Beacon; the message says why and what to do."""


class SchemaTooNew(SchemaError):
    pass


class SchemaUnknown(SchemaError):
    pass


async def _table_names(dialect: str) -> set[str]:
    conn = connections.get("default")
    if dialect == "postgres":
        _, rows = await conn.execute_query(
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")
    else:
        _, rows = await conn.execute_query("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {row["name"] for row in rows}


async def applied_versions(dialect: str) -> list[int]:
    if "schema_version" not in await _table_names(dialect):
        return []
    _, rows = await connections.get("default").execute_query("SELECT version FROM schema_version ORDER BY version")
    return [row["version"] for row in rows]


async def migrate(dialect: str, migrations: list[Migration] | None = None) -> list[int]:
    """Bring the schema up to date; returns the versions applied now."""
    from storage.models import SchemaVersion

    migrations = sorted(migrations if migrations is not None else MIGRATIONS, key=lambda m: m.version)
    newest = migrations[-1].version
    tables = await _table_names(dialect)
    if "schema_version" not in tables and tables:
        raise SchemaUnknown(f"the database already has tables ({', '.join(sorted(tables)[:5])}, ...) but no "
                            "schema_version: it was not made by Beacon; point BEACON_DATABASE_URL at an empty one")
    if "schema_version" not in tables:
        # Fresh database: the models are the schema; record every migration as already reflected in it.
        await Tortoise.generate_schemas(safe=True)
        async with in_transaction() as conn:
            await _timeseries_tables(conn, dialect)
            for migration in migrations:
                await SchemaVersion.create(version=migration.version, name=migration.name)
        log.info("schema.created version=%s", newest)
        return [m.version for m in migrations]

    done = set(await applied_versions(dialect))
    if done and max(done) > newest:
        raise SchemaTooNew(f"database schema version {max(done)} is newer than this Beacon ({newest}); "
                           "upgrade Beacon instead of starting an older one")
    applied = []
    for migration in migrations:
        if migration.version in done:
            continue
        async with in_transaction() as conn:
            await migration.apply(conn, dialect)
            await SchemaVersion.create(version=migration.version, name=migration.name)
        log.info("schema.migrated version=%s name=%s", migration.version, migration.name)
        applied.append(migration.version)
    return applied

"""Full backup and restore (app/backup.py): SQLite → PostgreSQL → SQLite with identical public JSON, secrets only
on request, and a bad file or a non-empty database changing nothing."""

from __future__ import annotations

import copy
import gzip
import json
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from app import audit, backup, config, runtime
from app.api import statuspage
from app.auth import Actor
from app.backup import BackupError
from app.enums import ComponentStatus, IncidentImpact, IncidentStatus, Role
from app.services import (
    apikeys,
    channels,
    components,
    groups,
    incidents,
    maintenance,
    metrics,
    monitoring,
    pages,
    subscribers,
    teams,
    users,
)
from app.services.errors import Forbidden
from app.snapshot import load
from storage import timeseries as ts
from storage.db import close_database, open_database
from storage.models import DailyUptime, StatusPage
from tests.conftest import fresh_postgres, settle
from tests.images import png

OWNER = Actor.system("test")
PASSWORD = "correct horse battery staple"
MAIL = {"host": "smtp.example.com", "port": 587, "security": "starttls", "username": "beacon",
        "password": "smtp-s3cret", "from_address": "status@example.com", "verify_tls": True}
BASE_URL = "http://status.test"
LOGO = png(4, 4, (200, 30, 30))


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    async with fresh_postgres("beacon_backup") as url:
        try:
            yield url
        finally:
            await close_database()  # the test may leave it open on this database: let it be dropped


def _use(settings, folder: Path, url: str):
    return config.use(replace(settings, data_dir=folder, database_url=url))


async def _build() -> dict[str, Any]:
    """A database with one of everything, through the services; returns what the checks need."""
    now = datetime.now(UTC)
    page = await pages.create_page(OWNER, title="Acme Cloud", slug="acme", description="Everything about Acme")
    await pages.set_page_image(OWNER, page.id, "logo", "acme.png", LOGO)
    platform = await groups.create_group(OWNER, page.id, "Platform")
    storage = await groups.create_group(OWNER, page.id, "Storage", parent_id=platform.id)
    api = await components.create_component(OWNER, name="API", pages=[page.id], group_id=platform.id,
                                            link="https://api.example.com")
    db = await components.create_component(OWNER, name="Database", pages=[page.id], group_id=storage.id)
    web = await components.create_component(OWNER, name="Website", pages=[page.id])
    # the outer group moves below its child's id order: parents are not always the smaller id
    await groups.move(OWNER, page.id, "group", platform.id, None, 1)

    old = await incidents.create_incident(OWNER, page=page.id, name="Slow API", impact=IncidentImpact.MINOR,
                                          body="Looking into it", components={api.id: "DEGRADED_PERFORMANCE"},
                                          now=now - timedelta(hours=5))
    await incidents.post_update(OWNER, old.id, status=IncidentStatus.IDENTIFIED, body="A bad deploy",
                                now=now - timedelta(hours=4))
    await incidents.resolve_incident(OWNER, old.id, body="Rolled back", now=now - timedelta(hours=3))
    await incidents.set_postmortem(OWNER, old.id, "## What happened\nA bad deploy.", publish=True,
                                   now=now - timedelta(hours=2))
    await incidents.create_incident(OWNER, page=page.id, name="Database outage", impact=IncidentImpact.MAJOR,
                                    body="The primary is down", components={db.id: "MAJOR_OUTAGE"},
                                    now=now - timedelta(minutes=30))
    await maintenance.schedule_maintenance(OWNER, page=page.id, name="Disk upgrade", body="New disks",
                                           starts_at=now + timedelta(days=1),
                                           ends_at=now + timedelta(days=1, hours=2), components=[web.id])

    monitor = await monitoring.create_monitor(
        OWNER, name="API health", kind="http", interval=60, timeout=5, component_id=api.id,
        config={"url": "https://api.example.com/health", "username": "probe", "password": "monitor-s3cret"})
    async with in_transaction() as conn:
        hour = ts.bucket_of(now.timestamp(), "hour")
        await ts.add_rollups(conn, "hour", {(monitor.id, hour): ts.Agg(up=50, down=2, latency_sum=1234.5,
                                                                        latency_count=50, latency_min=8,
                                                                        latency_max=90)})
        await ts.add_rollups(conn, "day", {(monitor.id, ts.bucket_of(now.timestamp(), "day")):
                                           ts.Agg(up=1400, down=40, latency_sum=9999.25, latency_count=1400)})
        await ts.write_heartbeats(conn, [(monitor.id, int(now.timestamp() * 1000), ts.UP, 12, 0, "200 OK")])
    for days_ago, down in ((1, 600), (2, 0), (3, 3600)):
        await DailyUptime.create(component_id=api.id, day=(now - timedelta(days=days_ago)).date(),
                                 observed_seconds=86400, down_seconds=down,
                                 worst_status=ComponentStatus.MAJOR_OUTAGE if down else ComponentStatus.OPERATIONAL,
                                 avg_latency_ms=42.5)

    await channels.create_channel(OWNER, name="Ops hook", kind="webhook", events=["incident.created"],
                                  config={"url": "http://127.0.0.1:9/hook", "secret": "channel-s3cret"})
    await subscribers.set_mail_settings(OWNER, MAIL)
    page_row = await StatusPage.get(id=page.id)
    await subscribers.add_subscriber(OWNER, page_row, kind="email", address="fan@example.com",
                                     skip_confirmation=True)
    metric = await metrics.create_metric(OWNER, page=page.id, name="Response time", suffix="ms")
    await metrics.add_points(OWNER, metric.id, [{"value": 120.5, "at": (now - timedelta(minutes=5)).isoformat()},
                                                {"value": 99, "at": (now - timedelta(minutes=1)).isoformat()}])

    ann = await users.create_user(OWNER, email="ann@example.com", password=PASSWORD, role=Role.ADMIN)
    await users.create_user(OWNER, email="bob@example.com", password=PASSWORD, role=Role.MEMBER)
    ops = await teams.create_team(OWNER, "Ops")
    await teams.add_member(OWNER, ops.id, ann.id)
    await teams.assign_page(OWNER, page.id, ops.id)
    _, plain_key = await apikeys.create_api_key(OWNER, email="ann@example.com", name="deploys")
    await settle()
    return {"page_id": page.id, "api_key": plain_key, "now": datetime.now(UTC)}


async def _public(page_id: int, now: datetime) -> str:
    snapshot = await load(page_id, BASE_URL, now=now)
    assert snapshot is not None
    return json.dumps({"summary": statuspage.summary(snapshot), "incidents": statuspage.incidents_document(snapshot)},
                      sort_keys=True, default=str)


def _content(document: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k not in {"exported_at", "source"}}


async def _total_rows() -> int:
    from tortoise import connections

    conn = connections.get("default")
    total = 0
    for table in backup.tables():
        _, rows = await conn.execute_query(f'SELECT COUNT(*) AS n FROM "{table.name}"')
        total += rows[0]["n"]
    return total


async def test_sqlite_to_postgres_and_back_keeps_everything(settings, tmp_path, postgres_url):
    # 1. the source: SQLite with one of everything
    source = _use(settings, tmp_path / "a", f"sqlite://{tmp_path / 'a.sqlite3'}")
    await runtime.start(source)
    try:
        built = await _build()
        now = built["now"]
        expected = await _public(built["page_id"], now)
        assert await audit.verify_stored() is None
        started = time.perf_counter()
        document = await backup.export_document(with_secrets=True)
        export_seconds = time.perf_counter() - started
    finally:
        await runtime.stop()
    size = backup.write_file(tmp_path / "beacon.json", document)
    gz_size = backup.write_file(tmp_path / "beacon.json.gz", document)
    assert backup.read_file(tmp_path / "beacon.json.gz") == backup.read_file(tmp_path / "beacon.json")
    assert oct((tmp_path / "beacon.json").stat().st_mode & 0o777) == "0o600"
    document = backup.read_file(tmp_path / "beacon.json")
    assert document["files"] and document["counts"]["audit_entries"] > 10

    # 2. into PostgreSQL
    _use(settings, tmp_path / "b", postgres_url)
    await open_database(postgres_url)
    try:
        started = time.perf_counter()
        report = await backup.import_document(document)
        import_seconds = time.perf_counter() - started
        assert report.total_rows == sum(document["counts"].values())
        assert report.files == 1
        assert await _public(built["page_id"], now) == expected
        assert await audit.verify_stored() is None
        again = await backup.export_document(with_secrets=True)
        assert _content(again) == _content(document)
        assert again["source"] == "postgres"
        # still usable: keys, passwords, logos, and new rows get fresh ids
        assert (await audit.verdict())[0]
        actor = await apikeys.actor_for_api_key(built["api_key"])
        assert actor is not None and actor.label.startswith("ann@example.com")
        assert (await users.authenticate("ann@example.com", PASSWORD)) is not None
        assert (await users.authenticate("ann@example.com", "wrong password")) is None
        page = await StatusPage.get(id=built["page_id"])
        assert (tmp_path / "b" / "uploads" / page.logo_file).read_bytes() == LOGO
        extra = await pages.create_page(OWNER, title="Second", slug="second")
        assert extra.id > page.id
        await components.create_component(OWNER, name="New", pages=[extra.id])
        assert await audit.verify_stored() is None
    finally:
        await close_database()

    # 3. and back into a new SQLite database
    _use(settings, tmp_path / "c", f"sqlite://{tmp_path / 'c.sqlite3'}")
    await open_database(f"sqlite://{tmp_path / 'c.sqlite3'}")
    try:
        await backup.import_document(again)
        assert await _public(built["page_id"], now) == expected
        assert await audit.verify_stored() is None
        assert _content(await backup.export_document(with_secrets=True)) == _content(document)
        assert await apikeys.actor_for_api_key(built["api_key"]) is not None
        assert (tmp_path / "c" / "uploads" / page.logo_file).read_bytes() == LOGO
    finally:
        await close_database()
    print(f"\nbackup: {sum(document['counts'].values())} rows, {size} bytes ({gz_size} gzipped), "
          f"export {export_seconds * 1000:.0f} ms, import into PostgreSQL {import_seconds * 1000:.0f} ms")


async def test_secrets_are_in_the_file_only_when_asked_for(beacon_sqlite, monkeypatch):
    await _build()
    without = await backup.export_document(with_secrets=False)
    with_ = await backup.export_document(with_secrets=True)
    text_without, text_with = json.dumps(without), json.dumps(with_)
    for secret in ("channel-s3cret", "monitor-s3cret", "smtp-s3cret"):
        assert secret not in text_without
        assert secret in text_with
    assert without["secrets"] is False and with_["secrets"] is True
    assert with_["omitted_secrets"] == []
    assert any("channels" in o and "config.secret" in o for o in without["omitted_secrets"])
    assert any("monitors" in o and "config.password" in o for o in without["omitted_secrets"])
    assert any("install_settings" in o and "value.password" in o for o in without["omitted_secrets"])
    # the rest of the configuration stays
    [channel] = without["tables"]["channels"]
    assert channel["config"]["url"] == "http://127.0.0.1:9/hook"
    [setting] = [s for s in without["tables"]["install_settings"] if s["key"] == subscribers.MAIL_SETTING]
    assert setting["value"]["host"] == "smtp.example.com"
    # password hashes and key hashes are what lets people sign in after a move: always there
    assert all(u["password_hash"] for u in without["tables"]["users"])
    assert without["tables"]["api_keys"][0]["key_hash"]

    # the admin page's download: OWNER only, audited
    from app.auth import permissions

    monkeypatch.setitem(permissions.PERMISSIONS, "backup.export", Role.OWNER)
    admin = Actor(kind="user", id=None, label="admin@example.com", role=Role.ADMIN)
    with pytest.raises(Forbidden):
        await backup.export_for(admin)
    downloaded = await backup.export_for(OWNER)
    assert "channel-s3cret" not in json.dumps(downloaded)
    [entry] = await audit.search(action="backup.export")
    assert entry.entry.actor_label == "test" and entry.entry.changes["credentials_included"] is False


def _bad_documents(good: dict[str, Any]) -> list[tuple[str, dict[str, Any] | bytes, str]]:
    cases: list[tuple[str, dict[str, Any] | bytes, str]] = []
    text = backup.dumps(good)
    cases.append(("truncated", text[: len(text) // 2], "not a complete JSON document"))
    doc = copy.deepcopy(good)
    doc["version"] = 99
    cases.append(("wrong version", doc, "format version 99 is not supported"))
    doc = copy.deepcopy(good)
    doc["schema_version"] = 999
    cases.append(("newer schema", doc, "newer Beacon"))
    doc = copy.deepcopy(good)
    doc["format"] = "something-else"
    cases.append(("not ours", doc, "not a Beacon export"))
    doc = copy.deepcopy(good)
    del doc["tables"]["incidents"][0]["name"]
    cases.append(("missing required column", doc, "table incidents, row 1 (id=1): the required column 'name'"))
    doc = copy.deepcopy(good)
    doc["tables"]["incident_updates"][-1]["incident_id"] = 4242
    cases.append(("dangling foreign key", doc, "column 'incident_id' refers to incidents 4242, which is not in the"))
    doc = copy.deepcopy(good)
    doc["tables"]["components"][0]["status"] = "ON_FIRE"
    cases.append(("bad enum", doc, "table components, row 1 (id=1): column 'status' must be one of"))
    doc = copy.deepcopy(good)
    doc["tables"]["incidents"][0]["started_at"] = "yesterday"
    cases.append(("bad time", doc, "column 'started_at' must be an ISO 8601 time"))
    doc = copy.deepcopy(good)
    doc["tables"]["monitors_v2"] = []
    cases.append(("unknown table", doc, "unknown table(s) in the export: monitors_v2"))
    doc = copy.deepcopy(good)
    doc["tables"]["incidents"].pop()
    cases.append(("partial table", doc, "table incidents: the header counts 2 rows but the file has 1"))
    doc = copy.deepcopy(good)
    doc["tables"]["audit_entries"][1]["action"] = "nothing.happened"
    cases.append(("edited audit trail", doc, "audit trail in the file does not verify (audit entry 2"))
    doc = copy.deepcopy(good)
    doc["files"] = {"../../etc/passwd": "aGk="}
    cases.append(("file name outside uploads", doc, "not a name Beacon gives an upload"))
    doc = copy.deepcopy(good)
    doc["tables"]["users"][1]["email"] = doc["tables"]["users"][0]["email"]  # only the database knows: unique
    cases.append(("unique clash found by the database", doc, "table users: the database refused rows"))
    return cases


async def test_a_bad_file_changes_nothing_and_says_what_is_wrong(settings, tmp_path):
    source = _use(settings, tmp_path / "a", f"sqlite://{tmp_path / 'a.sqlite3'}")
    await runtime.start(source)
    try:
        await _build()
        good = await backup.export_document(with_secrets=True)
    finally:
        await runtime.stop()
    target = f"sqlite://{tmp_path / 'b.sqlite3'}"
    _use(settings, tmp_path / "b", target)
    await open_database(target)
    try:
        for label, bad, message in _bad_documents(good):
            with pytest.raises(BackupError) as caught:
                if isinstance(bad, bytes):
                    (tmp_path / "bad.json").write_bytes(bad)
                    await backup.import_document(backup.read_file(tmp_path / "bad.json"))
                else:
                    await backup.import_document(bad)
            assert message in str(caught.value), label
            assert await _total_rows() == 0, label
            assert not list((tmp_path / "b" / "uploads").glob("*")) if (tmp_path / "b" / "uploads").exists() \
                else True, label
        with pytest.raises(BackupError, match="cannot read"):
            backup.read_file(tmp_path / "missing.json")
        (tmp_path / "bad.json.gz").write_bytes(gzip.compress(backup.dumps(good))[:200])
        with pytest.raises(BackupError, match="truncated"):
            backup.read_file(tmp_path / "bad.json.gz")
        # after all that, the good file still goes in
        await backup.import_document(good)
        assert await audit.verify_stored() is None
    finally:
        await close_database()


async def test_import_into_a_database_with_rows_is_refused_and_changes_nothing(beacon_sqlite):
    await _build()
    document = await backup.export_document(with_secrets=True)
    before = await _total_rows()
    with pytest.raises(BackupError, match="the database is not empty .* import only into a new, empty database"):
        await backup.import_document(document)
    assert await _total_rows() == before
    assert await audit.verify_stored() is None


async def test_the_command_line_round_trip(settings, tmp_path, capsys):
    _use(settings, tmp_path / "a", f"sqlite://{tmp_path / 'a.sqlite3'}")
    await open_database(f"sqlite://{tmp_path / 'a.sqlite3'}")
    try:
        assert await backup.cli_export(str(tmp_path / "empty.json.gz"), with_secrets=False) == 0
        await pages.create_page(OWNER, title="Acme", slug="acme")
        assert await backup.cli_export(str(tmp_path / "one.json"), with_secrets=False) == 0
        assert await backup.cli_import(str(tmp_path / "one.json")) == 2  # not empty
    finally:
        await close_database()
    assert "the database is not empty" in capsys.readouterr().err
    await open_database(f"sqlite://{tmp_path / 'b.sqlite3'}")
    try:
        assert await backup.cli_import(str(tmp_path / "empty.json.gz")) == 0
        assert await _total_rows() == 0
    finally:
        await close_database()
    await open_database(f"sqlite://{tmp_path / 'c.sqlite3'}")
    try:
        assert await backup.cli_import(str(tmp_path / "one.json")) == 0
        assert (await StatusPage.get(slug="acme")).title == "Acme"
        assert await audit.verify_stored() is None
    finally:
        await close_database()
    out = capsys.readouterr().out
    assert "imported 0 rows in 0 tables" in out
    assert "imported 3 rows in 3 tables and 0 files" in out  # the page, its audit entry and the chain head

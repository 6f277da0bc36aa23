"""/api/v1/audit: search with filters and cursor pages, the chain check (intact, then broken by an edit), and the
JSON and CSV exports; ADMIN only."""

from __future__ import annotations

import csv
import io
import json

from app.auth import Actor
from app.services import apikeys, users
from storage.models import AuditEntryRow
from tests.api.management_client import PROBLEM, Api, field_errors

SYSTEM = Actor.system("test")


async def _three_pages(api: Api) -> None:
    for slug in ("one", "two", "three"):
        assert (await api.post("/api/v1/pages", {"title": slug.title(), "slug": slug})).status_code == 201


async def test_entries_are_filtered_newest_first(api: Api):
    await _three_pages(api)
    await api.patch("/api/v1/pages/two", {"title": "Zwei"})
    entries = (await api.get("/api/v1/audit")).json()
    assert [e["seq"] for e in entries] == sorted((e["seq"] for e in entries), reverse=True)
    assert entries[0]["action"] == "page.update" and entries[0]["changes"]["title"] == {"old": "Two", "new": "Zwei"}
    assert entries[0]["actor_type"] == "apikey" and "owner@example.com (deploy bot)" == entries[0]["actor_label"]
    assert len(entries[0]["hash"]) == 64 and entries[0]["prev_hash"] == entries[1]["hash"]
    created = (await api.get("/api/v1/audit?action=page.create")).json()
    assert [e["changes"]["slug"]["new"] for e in created] == ["three", "two", "one"]
    two_id = created[1]["entity_id"]
    about_two = (await api.get(f"/api/v1/audit?entity_type=page&entity_id={two_id}")).json()
    assert [e["action"] for e in about_two] == ["page.update", "page.create"]
    by_key = (await api.get("/api/v1/audit?actor=deploy bot")).json()
    assert {e["action"] for e in by_key} == {"page.create", "page.update"}
    assert {e["action"] for e in (await api.get("/api/v1/audit?actor=system")).json()} == {"apikey.create"}
    since = created[1]["at"]
    window = (await api.http.get("/api/v1/audit", params={"since": since, "until": created[0]["at"]},
                                 headers=api.as_admin())).json()
    assert [e["seq"] for e in window] == [created[1]["seq"]]
    assert (await api.get("/api/v1/audit?since=2999-01-01T00:00:00Z")).json() == []
    assert set(field_errors(await api.get("/api/v1/audit?since=yesterday"))) == {"since"}
    assert set(field_errors(await api.get("/api/v1/audit?severity=loud"))) == {"severity"}


async def test_entries_come_in_cursor_pages_without_repeats(api: Api):
    await _three_pages(api)  # with the owner and two keys: six entries
    first = await api.get("/api/v1/audit?limit=2")
    assert len(first.json()) == 2 and first.headers["link"].endswith('rel="next"')
    await api.post("/api/v1/pages", {"title": "Four", "slug": "four"})  # a new entry between two pages
    seqs, path, count = [e["seq"] for e in first.json()], first.headers["link"][1:].split(">")[0], 1
    while path:
        response = await api.get(path.removeprefix("http://test"))
        count += 1
        seqs += [e["seq"] for e in response.json()]
        path = response.headers["link"][1:].split(">")[0] if "link" in response.headers else ""
    assert count == 3 and seqs == [6, 5, 4, 3, 2, 1]  # the newer entry 7 is not repeated
    assert set(field_errors(await api.get("/api/v1/audit?cursor=%%%"))) == {"cursor"}


async def test_the_chain_verifies_and_an_edit_is_named(api: Api):
    await _three_pages(api)
    intact = await api.get("/api/v1/audit/verify")
    assert intact.json() == {"intact": True, "message": "audit chain intact (6 entries)", "first_broken": None}
    await AuditEntryRow.filter(seq=3).update(actor_label="someone else")
    broken = (await api.get("/api/v1/audit/verify")).json()
    assert broken["intact"] is False and broken["first_broken"] == {
        "seq": 3, "reason": "content does not match its hash (edited)"}
    assert broken["message"] == "audit chain broken at audit entry 3: content does not match its hash (edited)"


async def test_exports_hold_the_matching_entries(api: Api):
    await _three_pages(api)
    exported = await api.get("/api/v1/audit/export?format=json&action=page.create")
    assert exported.status_code == 200 and exported.headers["content-type"] == "application/json"
    assert "attachment" in exported.headers["content-disposition"]
    rows = json.loads(exported.text)
    assert [r["changes"]["slug"]["new"] for r in rows] == ["three", "two", "one"]
    assert {"seq", "prev_hash", "hash", "actor_label"} <= set(rows[0])
    as_csv = await api.get("/api/v1/audit/export?format=csv")
    assert as_csv.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["seq"] for r in table] == ["6", "5", "4", "3", "2", "1"]
    assert table[0]["action"] == "page.create" and json.loads(table[0]["changes"])["slug"]["new"] == "three"
    assert set(field_errors(await api.get("/api/v1/audit/export?format=xml"))) == {"format"}


async def test_only_admins_see_the_trail(api: Api):
    member = await users.create_user(SYSTEM, email="member@example.com", password="correct horse", role="MEMBER")
    _, key = await apikeys.create_api_key(SYSTEM, email=member.email)
    for headers in (api.as_reader(), {"Authorization": f"Bearer {key}"}):
        for path in ("/api/v1/audit", "/api/v1/audit/verify", "/api/v1/audit/export?format=csv"):
            response = await api.get(path, headers)
            assert response.status_code == 403 and response.headers["content-type"] == PROBLEM, path
    assert (await api.http.get("/api/v1/audit")).status_code == 401

"""/admin/audit through NiceGUI's simulated user: filtering, downloading the filtered entries, checking the chain
(before and after a row is edited behind Beacon's back) and the refusal a member sees."""

from __future__ import annotations

import csv
import io
import json

from nicegui import ui
from nicegui.testing import User
from tortoise import connections

from app.auth import Actor
from app.enums import Role
from app.runtime import state
from app.services import components, pages, users
from storage.models import AuditEntryRow

ELSEWHERE = Actor.system("test-elsewhere")
DEV = Actor(kind="user", id=77, label="dev@example.com", role=Role.ADMIN)


def _set(user: User, marker: str, value) -> None:
    with user:
        next(iter(user.find(marker=marker).elements)).set_value(value)


async def _some_history() -> dict[str, int]:
    """A page, two components, a status change by dev@ and a deletion; the seq of each action's entry."""
    page = await pages.create_page(ELSEWHERE, title="Acme", slug="acme")
    api = await components.create_component(ELSEWHERE, name="API", pages=[page.id])
    db = await components.create_component(ELSEWHERE, name="Database", pages=[page.id])
    await components.set_status(DEV, api.id, "DEGRADED")
    await components.delete_component(ELSEWHERE, db.id)
    return dict(await AuditEntryRow.filter(action__startswith="component.").values_list("action", "seq")) | {
        "component.create": (await AuditEntryRow.get(action="component.create", entity_id=str(api.id))).seq}


async def test_filtering_by_action_shows_only_the_matching_entries(signed_in: User):
    seqs = await _some_history()
    await signed_in.open("/admin/audit")
    await signed_in.should_see(marker=f"entry-{seqs['component.delete']}")

    signed_in.find(marker="filter-action").type("set_status")
    signed_in.find(kind=ui.button, content="Filter").click()

    await signed_in.should_see(marker=f"entry-{seqs['component.set_status']}")
    await signed_in.should_see("by dev@example.com")
    await signed_in.should_not_see(marker=f"entry-{seqs['component.delete']}")
    await signed_in.should_not_see(marker=f"entry-{seqs['component.create']}")


async def test_filtering_by_actor_and_severity_and_downloading_the_filtered_entries(signed_in: User):
    seqs = await _some_history()
    await signed_in.open("/admin/audit")

    _set(signed_in, "filter-severity", "warning")
    signed_in.find(kind=ui.button, content="Filter").click()
    await signed_in.should_see(marker=f"entry-{seqs['component.delete']}")
    await signed_in.should_not_see(marker=f"entry-{seqs['component.set_status']}")
    signed_in.find(kind=ui.button, content="Download JSON").click()
    as_json = json.loads((await signed_in.download.next(timeout=5)).content)
    _set(signed_in, "filter-severity", "")
    signed_in.find(marker="filter-actor").type("dev@")
    signed_in.find(kind=ui.button, content="Download CSV").click()
    as_csv = list(csv.DictReader(io.StringIO((await signed_in.download.next(timeout=5)).text)))

    assert [(e["seq"], e["action"]) for e in as_json] == [(seqs["component.delete"], "component.delete")]
    assert [(r["seq"], r["action"], r["actor_label"]) for r in as_csv] == [
        (str(seqs["component.set_status"]), "component.set_status", "dev@example.com")]


async def test_verify_says_intact_then_names_the_entry_edited_in_the_database(signed_in: User):
    await _some_history()
    total = await AuditEntryRow.all().count()
    await signed_in.open("/admin/audit")

    signed_in.find(kind=ui.button, content="Verify chain").click()
    await signed_in.should_see(f"Audit chain intact ({total} entries)")
    await connections.get("default").execute_query(
        "UPDATE audit_entries SET actor_label = 'mallory@example.com' WHERE seq = 3")
    signed_in.find(kind=ui.button, content="Verify chain").click()

    await signed_in.should_see("Audit chain broken at audit entry 3: content does not match its hash (edited)")


async def test_paging_goes_to_older_entries(signed_in: User):
    page = await pages.create_page(ELSEWHERE, title="Acme", slug="acme")
    for n in range(55):
        await components.create_component(ELSEWHERE, name=f"Service {n}", pages=[page.id])
    newest = await AuditEntryRow.all().order_by("-seq").first()
    await signed_in.open("/admin/audit")
    await signed_in.should_see(marker=f"entry-{newest.seq}")
    await signed_in.should_not_see(marker="entry-1")

    signed_in.find(kind=ui.button, content="Older").click()

    await signed_in.should_see(marker="entry-1")
    await signed_in.should_not_see(marker=f"entry-{newest.seq}")


async def test_a_member_sees_a_refusal_and_no_entries(user: User):
    await users.create_first_owner(email="owner@example.com", password="correct horse")
    await users.create_user(ELSEWHERE, email="member@example.com", password="correct horse", role=Role.MEMBER)
    state.has_owner = True
    await user.open("/login")
    user.find("E-mail").type("member@example.com")
    user.find("Password").type("correct horse")
    user.find(kind=ui.button, content="Sign in").click()
    await user.should_see("Status pages", retries=50)

    await user.open("/admin/audit")

    await user.should_see("You cannot read the audit trail")
    await user.should_see("your role is MEMBER")
    await user.should_not_see("Verify chain")
    await user.should_not_see(marker="entry-1")

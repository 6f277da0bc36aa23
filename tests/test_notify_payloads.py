"""Pure notification payloads (app/notify/payloads.py) against CONTRACT.md "Webhook payloads", built from snapshots
assembled from plain rows: no database, no network."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app import events
from app.events import Event
from app.notify import payloads
from app.notify.payloads import NotShown, Unsupported, discord_payload, email_parts, signature, webhook_payload
from app.snapshot import PageInfo, PageSnapshot, assemble

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW = AT + timedelta(minutes=1)
UNSUBSCRIBE = "https://status.example/unsubscribe/tok"
DOCS = "https://status.example/docs/webhooks"
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
API, WEBSITE, ELSEWHERE = 7, 8, 99


def _component(cid: int, name: str, status: str, position: int) -> dict[str, Any]:
    return {"id": cid, "name": name, "description": "", "link": "", "status": status, "position": position,
            "group_id": None, "only_show_if_degraded": False, "show_uptime": True,
            "created_at": AT - timedelta(days=30), "updated_at": AT}


def snapshot(*, api: str = "OPERATIONAL", title: str = "Acme", incidents: list[dict] = (),
             updates: list[dict] = (), maintenances: list[dict] = (), maintenance_updates: list[dict] = (),
             affected: list[dict] = (), maintenance_components: list[dict] = ()) -> PageSnapshot:
    page = PageInfo(id=1, slug="acme", title=title, description="", public=True, active=True, custom_domain=None,
                    time_zone="Europe/Paris", theme="auto", brand_color="#2563eb", footer_text="", updated_at=AT)
    return assemble(page, "https://status.example/status/acme", [],
                    [_component(API, "API", api, 0), _component(WEBSITE, "Website", "OPERATIONAL", 1)],
                    incidents=incidents, incident_updates=updates, incident_components=affected,
                    maintenances=maintenances, maintenance_updates=maintenance_updates,
                    maintenance_components=maintenance_components, now=NOW)


def incident_row(name: str = "API unavailable", status: str = "INVESTIGATING", impact: str = "PARTIAL",
                 **extra: Any) -> dict[str, Any]:
    return {"id": 3, "name": name, "status": status, "impact": impact, "pinned": False, "backfilled": False,
            "started_at": AT, "monitoring_at": None, "resolved_at": None, "created_at": AT, "updated_at": AT,
            **extra}


def update_row(uid: int, status: str, body: str, minutes: int) -> dict[str, Any]:
    at = AT + timedelta(minutes=minutes)
    return {"id": uid, "incident_id": 3, "status": status, "body": body, "display_at": at, "created_at": at,
            "updated_at": at, "affected_components": {str(API): {"old": "OPERATIONAL", "new": "PARTIAL_OUTAGE"}}}


def incident_snapshot(*, resolved: bool = False, name: str = "API unavailable",
                      body: str = "We are **looking** into it.") -> PageSnapshot:
    updates = [update_row(11, "INVESTIGATING", body, 0)]
    row = incident_row(name)
    if resolved:
        updates.append(update_row(12, "RESOLVED", "Fixed.", 30))
        row.update(status="RESOLVED", resolved_at=AT + timedelta(minutes=30), updated_at=AT + timedelta(minutes=30))
    return snapshot(api="OPERATIONAL" if resolved else "PARTIAL_OUTAGE", incidents=[row], updates=updates,
                    affected=[{"incident_id": 3, "component_id": API},
                              {"incident_id": 3, "component_id": ELSEWHERE}])  # on another page only


def incident_event(name: str = events.INCIDENT_CREATED, update_id: int | None = 11, **extra: Any) -> Event:
    return Event(name, {"incident_id": 3, "page_id": 1, "name": "API unavailable", "status": "INVESTIGATING",
                        "impact": "PARTIAL", "update_id": update_id, **extra}, frozenset({1}), at=AT)


def maintenance_snapshot(state: str = "SCHEDULED") -> PageSnapshot:
    start, end = AT + timedelta(days=2), AT + timedelta(days=2, hours=2)
    row = {"id": 5, "name": "Database upgrade", "body": "Upgrading to **16**.", "state": state,
           "time_zone": "Europe/Paris", "scheduled_for": start, "scheduled_until": end,
           "started_at": start if state != "SCHEDULED" else None, "completed_at": None, "created_at": AT,
           "updated_at": AT, "backfilled": False, "recurrence": None}
    updates = [{"id": 21, "maintenance_id": 5, "state": "IN_PROGRESS", "body": "Started.", "display_at": start,
                "created_at": start, "updated_at": start}] if state == "IN_PROGRESS" else []
    return snapshot(api="MAINTENANCE" if state == "IN_PROGRESS" else "OPERATIONAL", maintenances=[row],
                    maintenance_updates=updates, maintenance_components=[{"maintenance_id": 5, "component_id": API}])


def maintenance_event(name: str) -> Event:
    return Event(name, {"maintenance_id": 5, "page_id": 1, "name": "Database upgrade", "state": "SCHEDULED"},
                 frozenset({1}), at=AT)


def component_event() -> Event:
    return Event(events.COMPONENT_STATUS_CHANGED, {
        "component_id": API, "name": "API", "old_status": "OPERATIONAL", "new_status": "DEGRADED",
        "updated_at": AT.isoformat()}, frozenset({1}), at=AT)


def snapshot_with_title(s: PageSnapshot, title: str) -> PageSnapshot:
    return replace(s, page=replace(s.page, title=title))


def webhook(event: Event, s: PageSnapshot) -> dict[str, Any]:
    body = webhook_payload(event, s, unsubscribe_url=UNSUBSCRIBE, documentation_url=DOCS, now=NOW)
    assert body is not None
    json.dumps(body)  # serialisable as it is
    return body


# --- webhooks --------------------------------------------------------------------------------------------------
def test_incident_created_webhook_has_exactly_the_contract_shape():
    body = webhook(incident_event(), incident_snapshot())

    assert set(body) == {"meta", "page", "incident"}
    assert body["meta"] == {"unsubscribe": UNSUBSCRIBE, "documentation": DOCS, "generated_at": NOW.isoformat()}
    assert body["page"] == {"id": "1", "status_indicator": "major", "status_description": "Partial System Outage",
                            "url": "https://status.example/status/acme"}
    incident = body["incident"]
    assert set(incident) == {"backfilled", "created_at", "impact", "name", "resolved_at", "status", "updated_at", "id",
                             "url", "incident_updates"}
    assert incident["backfilled"] is False
    assert (incident["id"], incident["name"], incident["status"], incident["impact"]) == (
        "3", "API unavailable", "investigating", "major")
    assert incident["url"] == "https://status.example/status/acme/incidents/3"
    assert incident["resolved_at"] is None
    assert ISO_WITH_OFFSET.match(incident["created_at"]) and ISO_WITH_OFFSET.match(incident["updated_at"])
    [update] = incident["incident_updates"]
    assert update == {"id": "11", "incident_id": "3", "body": "We are **looking** into it.",
                      "status": "investigating", "created_at": AT.isoformat(), "updated_at": AT.isoformat()}


def test_incident_resolved_webhook_lists_updates_newest_first_with_the_resolution_time():
    body = webhook(incident_event(events.INCIDENT_RESOLVED, update_id=12), incident_snapshot(resolved=True))

    incident = body["incident"]
    assert incident["status"] == "resolved"
    assert incident["resolved_at"] == (AT + timedelta(minutes=30)).isoformat()
    assert [(u["id"], u["status"]) for u in incident["incident_updates"]] == [("12", "resolved"),
                                                                              ("11", "investigating")]
    assert body["page"]["status_indicator"] == "none"


def test_incident_updated_by_an_edit_has_no_update_id_and_still_builds():
    body = webhook(incident_event(events.INCIDENT_UPDATED, update_id=None, edited=["name"]), incident_snapshot())
    assert body["incident"]["status"] == "investigating"


@pytest.mark.parametrize(("name", "state", "status"), [
    (events.MAINTENANCE_SCHEDULED, "SCHEDULED", "scheduled"),
    (events.MAINTENANCE_STARTED, "IN_PROGRESS", "in_progress"),
])
def test_maintenance_webhooks_carry_duration_and_maintenance_updates(name: str, state: str, status: str):
    body = webhook(maintenance_event(name), maintenance_snapshot(state))

    assert set(body) == {"meta", "page", "maintenance"}
    m = body["maintenance"]
    assert set(m) == {"backfilled", "created_at", "impact", "name", "resolved_at", "status", "updated_at", "id", "url",
                      "duration", "maintenance_updates"}
    assert (m["id"], m["name"], m["status"], m["impact"], m["duration"]) == (
        "5", "Database upgrade", status, "maintenance", "120")
    assert m["url"] == "https://status.example/status/acme/maintenance/5"
    for update in m["maintenance_updates"]:
        assert set(update) == {"id", "maintenance_id", "body", "status", "created_at", "updated_at"}
        assert update["maintenance_id"] == "5"
        assert ISO_WITH_OFFSET.match(update["created_at"])
    # the description it was scheduled with is its oldest update, as on the Statuspage API
    assert m["maintenance_updates"][-1]["body"] == "Upgrading to **16**."
    assert m["maintenance_updates"][-1]["status"] == "scheduled"
    if state == "IN_PROGRESS":
        assert m["maintenance_updates"][0]["status"] == "in_progress"
        assert body["page"]["status_indicator"] == "maintenance"


def test_component_status_change_webhook_uses_statuspage_spellings():
    body = webhook(component_event(), snapshot(api="DEGRADED"))

    assert set(body) == {"meta", "page", "component_update", "component"}
    assert body["component_update"] == {"created_at": AT.isoformat(), "old_status": "operational",
                                        "new_status": "degraded_performance", "component_id": "7"}
    assert body["component"] == {"created_at": (AT - timedelta(days=30)).isoformat(), "id": "7", "name": "API",
                                 "status": "degraded_performance"}
    assert body["page"]["status_indicator"] == "minor"


def test_events_no_channel_may_subscribe_to_have_no_payload():
    s = incident_snapshot()
    for name in (events.INCIDENT_BACKFILLED, events.MAINTENANCE_UPDATED, events.PAGE_UPDATED,
                 events.MONITOR_STATE_CHANGED):
        event = Event(name, {"incident_id": 3}, frozenset({1}), at=AT)
        assert webhook_payload(event, s, unsubscribe_url=None, documentation_url=DOCS, now=NOW) is None
        assert discord_payload(event, s, username=None, avatar_url=None, now=NOW) is None
        assert email_parts(event, s, unsubscribe_url=None, now=NOW) is None


def test_subscribable_events_without_a_payload_here_raise_clearly():
    event = Event(events.UPTIME_ALERT, {"component_id": API}, frozenset({1}), at=AT)
    with pytest.raises(Unsupported, match="uptime.alert"):  # app/notify/digest.py builds those
        webhook_payload(event, snapshot(), unsubscribe_url=None, documentation_url=DOCS, now=NOW)


def test_a_component_added_and_removed_in_every_format():
    added = Event(events.COMPONENT_CREATED, {"component_id": API, "name": "API"}, frozenset({1}), at=AT)
    body = webhook(added, snapshot())
    assert set(body) == {"meta", "page", "component"}
    assert body["component"] == {"created_at": body["component"]["created_at"], "id": str(API), "name": "API",
                                 "status": "operational"}
    embed = discord_payload(added, snapshot(), username=None, avatar_url=None, now=NOW)["embeds"][0]  # type: ignore[index]
    assert embed["title"] == "API" and embed["fields"][0] == {"name": "Status", "value": "Operational",
                                                              "inline": True}
    subject, text, _ = email_parts(added, snapshot(), unsubscribe_url=None, now=NOW)  # type: ignore[misc]
    assert subject == "[Acme] Component added: API"

    # once deleted no page shows it: the event's own record is the news
    removed = Event(events.COMPONENT_DELETED, {"component_id": 99, "name": "Legacy <API>"}, frozenset({1}), at=AT)
    body = webhook(removed, snapshot())
    assert body["component"] == {"id": "99", "name": "Legacy <API>", "deleted_at": AT.isoformat()}
    subject, _, html = email_parts(removed, snapshot(), unsubscribe_url=None, now=NOW)  # type: ignore[misc]
    assert subject == "[Acme] Component removed: Legacy <API>" and "Legacy &lt;API&gt;" in html


def test_a_subject_the_snapshot_does_not_show_raises_not_shown():
    with pytest.raises(NotShown):  # another page's incident
        webhook(incident_event(), snapshot())
    with pytest.raises(NotShown):  # a snapshot built before the update was posted
        webhook(incident_event(events.INCIDENT_UPDATED, update_id=12), incident_snapshot())


def test_a_time_without_offset_is_refused():
    with pytest.raises(ValueError, match="offset"):
        webhook_payload(incident_event(), incident_snapshot(), unsubscribe_url=None, documentation_url=DOCS,
                        now=datetime(2026, 11, 23, 12, 0))


def test_signature_is_the_hex_hmac_sha256_of_the_body():
    body = json.dumps(webhook(incident_event(), incident_snapshot())).encode()
    expected = hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()

    assert signature("s3cret", body) == f"sha256={expected}"
    # RFC 4231 test case 2
    assert signature("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


# --- Discord ---------------------------------------------------------------------------------------------------
def test_discord_embed_for_an_incident():
    body = discord_payload(incident_event(), incident_snapshot(), username="Beacon", avatar_url="https://x/a.png",
                           now=NOW)

    assert body["username"] == "Beacon" and body["avatar_url"] == "https://x/a.png"
    assert body["allowed_mentions"] == {"parse": []}
    [embed] = body["embeds"]
    assert embed["title"] == "API unavailable"
    assert embed["url"] == "https://status.example/status/acme/incidents/3"
    assert embed["description"] == "We are **looking** into it."  # Markdown kept
    assert embed["color"] == payloads.ORANGE
    assert {f["name"]: f["value"] for f in embed["fields"]} == {
        "Status": "Investigating", "Impact": "Partial outage", "Affected components": "API: Partial outage"}
    assert embed["timestamp"] == AT.isoformat()
    assert embed["footer"] == {"text": "Acme"}


def test_discord_leaves_out_username_and_avatar_when_not_given():
    body = discord_payload(incident_event(), incident_snapshot(), username=None, avatar_url=None, now=NOW)
    assert "username" not in body and "avatar_url" not in body


@pytest.mark.parametrize(("event", "s", "color"), [
    (incident_event(events.INCIDENT_RESOLVED, update_id=12), incident_snapshot(resolved=True), payloads.GREEN),
    (maintenance_event(events.MAINTENANCE_SCHEDULED), maintenance_snapshot(), payloads.BLUE),
    (component_event(), snapshot(api="DEGRADED"), payloads.AMBER),
])
def test_discord_colour_follows_impact_and_status(event: Event, s: PageSnapshot, color: int):
    assert discord_payload(event, s, username=None, avatar_url=None, now=NOW)["embeds"][0]["color"] == color


def test_discord_component_change_is_titled_with_its_new_status():
    [embed] = discord_payload(component_event(), snapshot(api="DEGRADED"), username=None, avatar_url=None,
                              now=NOW)["embeds"]
    assert embed["title"] == "API is degraded performance"
    assert embed["url"] == "https://status.example/status/acme"
    assert {f["name"]: f["value"] for f in embed["fields"]} == {"Status": "Degraded performance",
                                                               "Previous status": "Operational"}


def test_discord_maintenance_shows_its_window_in_the_pages_time_zone():
    [embed] = discord_payload(maintenance_event(events.MAINTENANCE_SCHEDULED), maintenance_snapshot(),
                              username=None, avatar_url=None, now=NOW)["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Window"] == "25 Nov 2026, 13:00 – 15:00 UTC+01:00"
    assert fields["Status"] == "Scheduled" and fields["Impact"] == "Maintenance"
    assert embed["url"] == "https://status.example/status/acme/maintenance/5"
    assert embed["description"] == "Upgrading to **16**."


def test_discord_limits_hold_for_very_long_texts():
    s = incident_snapshot(name="N" * 1000, body="word " * 3000)
    [embed] = discord_payload(incident_event(), s, username="U" * 200, avatar_url=None, now=NOW)["embeds"]

    assert len(embed["title"]) <= 256 and embed["title"].endswith("…")
    assert len(embed["description"]) <= 4096 and embed["description"].endswith("…")
    assert len(embed["fields"]) <= 25
    assert all(len(f["value"]) <= 1024 and len(f["name"]) <= 256 for f in embed["fields"])
    total = (len(embed["title"]) + len(embed["description"]) + len(embed["footer"]["text"])
             + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"]))
    assert total <= 6000


def test_discord_total_limit_shortens_the_description_first():
    s = snapshot_with_title(incident_snapshot(body="x" * 5000), "T" * 2000)
    [embed] = discord_payload(incident_event(), s, username=None, avatar_url=None, now=NOW)["embeds"]
    total = (len(embed["title"]) + len(embed.get("description", "")) + len(embed["footer"]["text"])
             + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"]))
    assert total <= 6000
    assert len(embed["fields"]) == 3  # the fields survive; the body gave way
    assert embed["description"].endswith("…")


# --- e-mail ----------------------------------------------------------------------------------------------------
def test_email_for_an_incident():
    subject, text, html = email_parts(incident_event(), incident_snapshot(), unsubscribe_url=UNSUBSCRIBE, now=NOW)

    assert subject == "[Acme] Investigating: API unavailable"
    assert "We are **looking** into it." in text
    assert "- API: Partial outage" in text
    assert "View the incident: https://status.example/status/acme/incidents/3" in text
    assert f"Unsubscribe: {UNSUBSCRIBE}" in text
    assert "<strong>looking</strong>" in html  # the body rendered from Markdown
    assert '<a href="https://status.example/status/acme/incidents/3">' in html
    assert f'<a href="{UNSUBSCRIBE}">Unsubscribe</a>' in html
    assert "<li>API: Partial outage</li>" in html


def test_email_html_escapes_what_users_typed():
    s = incident_snapshot(name="<script>alert(1)</script> down", body="<img src=x onerror=alert(1)> hi")
    subject, text, html = email_parts(incident_event(), snapshot_with_title(s, 'Acme & <b>"Co"</b>'),
                                      unsubscribe_url=UNSUBSCRIBE, now=NOW)

    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; down" in html
    assert "<img" not in html and "onerror=alert" not in html.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "<b>" not in html and "Acme &amp; &lt;b&gt;&quot;Co&quot;&lt;/b&gt;" in html
    assert subject == '[Acme & <b>"Co"</b>] Investigating: <script>alert(1)</script> down'  # plain text header


def test_email_subject_stays_on_one_line():
    s = incident_snapshot(name="API\r\nBcc: victim@example.com")
    subject, _, _ = email_parts(incident_event(), s, unsubscribe_url=None, now=NOW)
    assert "\n" not in subject and "\r" not in subject


def test_email_without_unsubscribe_link_has_none():
    _, text, html = email_parts(incident_event(), incident_snapshot(), unsubscribe_url=None, now=NOW)
    assert "Unsubscribe" not in text and "Unsubscribe" not in html


@pytest.mark.parametrize(("name", "state", "subject"), [
    (events.MAINTENANCE_SCHEDULED, "SCHEDULED", "[Acme] Scheduled maintenance: Database upgrade"),
    (events.MAINTENANCE_REMINDER, "SCHEDULED", "[Acme] Upcoming maintenance: Database upgrade"),
    (events.MAINTENANCE_STARTED, "IN_PROGRESS", "[Acme] Maintenance in progress: Database upgrade"),
])
def test_email_for_maintenance(name: str, state: str, subject: str):
    got_subject, text, html = email_parts(maintenance_event(name), maintenance_snapshot(state),
                                          unsubscribe_url=UNSUBSCRIBE, now=NOW)
    assert got_subject == subject
    assert "When: 25 Nov 2026, 13:00 – 15:00 UTC+01:00" in text
    assert "View the maintenance: https://status.example/status/acme/maintenance/5" in text
    assert ("Starts in 2879 minutes." in text) == (name == events.MAINTENANCE_REMINDER)


def test_email_for_a_component_change():
    subject, text, _ = email_parts(component_event(), snapshot(api="DEGRADED"), unsubscribe_url=None, now=NOW)
    assert subject == "[Acme] API is degraded performance"
    assert "View the status page: https://status.example/status/acme" in text


def test_a_published_postmortem_is_the_news():
    s = snapshot(incidents=[incident_row(status="RESOLVED", resolved_at=AT, postmortem_body="Root cause: *DNS*.",
                                         postmortem_published_at=NOW)],
                 updates=[update_row(11, "RESOLVED", "Fixed.", 0)])
    event = incident_event(events.INCIDENT_UPDATED, update_id=None, postmortem=True)

    assert webhook(event, s)["incident"]["status"] == "postmortem"
    [embed] = discord_payload(event, s, username=None, avatar_url=None, now=NOW)["embeds"]
    assert embed["description"] == "Root cause: *DNS*." and embed["color"] == payloads.GREEN
    subject, _, html = email_parts(event, s, unsubscribe_url=None, now=NOW)
    assert subject == "[Acme] Postmortem: API unavailable" and "<em>DNS</em>" in html

"""Pure uptime-alert and report notices: the payload builders (app/notify/digest.py), the once-per-breach logic
(app/notify/alerts.py) and the report periods (app/notify/reports.py). No database, no network."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from app import events
from app.events import Event
from app.notify import alerts, digest, reports
from app.notify.alerts import Mark, Reading, decide, mark_key, rule_of
from app.notify.payloads import (
    EMBED_TOTAL_LIMIT,
    FIELD_COUNT_LIMIT,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    NotShown,
    Unsupported,
)
from app.snapshot import PageInfo, PageSnapshot, assemble

AT = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
NOW = AT + timedelta(minutes=1)
ISO_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
API, EVIL = 7, 8
BERLIN = ZoneInfo("Europe/Berlin")


def _component(cid: int, name: str, status: str, position: int) -> dict[str, Any]:
    return {"id": cid, "name": name, "description": "", "link": "", "status": status, "position": position,
            "group_id": None, "only_show_if_degraded": False, "show_uptime": True,
            "created_at": AT - timedelta(days=30), "updated_at": AT}


def snapshot(title: str = "Acme", evil_name: str = "<b>x</b>") -> PageSnapshot:
    page = PageInfo(id=1, slug="acme", title=title, description="", public=True, active=True, custom_domain=None,
                    time_zone="Europe/Berlin", theme="auto", brand_color="#2563eb", footer_text="", updated_at=AT)
    return assemble(page, "https://status.example/status/acme", [],
                    [_component(API, "API", "DEGRADED", 0), _component(EVIL, evil_name, "OPERATIONAL", 1)], now=NOW)


def alert_event(component_id: int = API, uptime: float = 97.1234, threshold: float = 99.9,
                window: str = "24h") -> Event:
    return Event(events.UPTIME_ALERT, {"component_id": component_id, "component_name": "API", "window": window,
                                       "threshold": threshold, "uptime": uptime,
                                       "breached_at": AT.isoformat(), "page_ids": [1]}, frozenset({1}), at=AT)


def report_event(period: str = "weekly", incidents: int = 2, rows: list[reports.UptimeRow] | None = None) -> Event:
    start, end = reports.last_complete_period(period, NOW, "Europe/Berlin")
    data = reports.report_data(
        page_id=1, period=period, start=start, end=end, time_zone="Europe/Berlin",
        uptime=rows if rows is not None else [reports.UptimeRow(API, "API", 99.9), reports.UptimeRow(EVIL, "old",
                                                                                                     100.0)],
        incidents=[reports.IncidentRow(10 + n, f"Outage <{n}>", "MAJOR", "RESOLVED", start + timedelta(hours=n + 1),
                                       start + timedelta(hours=n + 2)) for n in range(incidents)],
        maintenances=[reports.MaintenanceRow(5, "DB upgrade", "COMPLETED", start + timedelta(hours=3),
                                             start + timedelta(hours=4))])
    return Event(reports.EVENT_OF[period], data, frozenset({1}), at=NOW)


# --- webhook ---------------------------------------------------------------------------------------------------
def test_an_uptime_alert_webhook_names_the_component_window_threshold_and_uptime():
    body = digest.webhook_payload(alert_event(), snapshot(), now=NOW)
    assert set(body) == {"meta", "page", "uptime_alert"}
    assert body["meta"] == {"unsubscribe": None, "generated_at": NOW.isoformat(),
                            "documentation": "https://status.example/status/acme/api/v2/summary.json"}
    assert body["page"]["id"] == "1" and body["page"]["url"] == "https://status.example/status/acme"
    assert body["uptime_alert"] == {
        "component": {"id": str(API), "name": "API", "status": "degraded_performance"}, "window": "24h",
        "threshold": 99.9, "uptime": 97.1234, "breached_at": AT.isoformat()}
    assert ISO_WITH_OFFSET.match(body["uptime_alert"]["breached_at"])
    json.dumps(body)


def test_a_report_webhook_lists_uptime_incidents_and_maintenance_with_links():
    body = digest.webhook_payload(report_event(), snapshot(), now=NOW)
    report = body["report"]
    assert set(body) == {"meta", "page", "report"}
    assert report["period"] == "weekly"
    assert report["start"] == "2026-11-16T00:00:00+01:00" and report["end"] == "2026-11-23T00:00:00+01:00"
    # current names from the snapshot win over the names the event recorded
    assert report["uptime"] == [{"component_id": str(API), "name": "API", "uptime": 99.9},
                                {"component_id": str(EVIL), "name": "<b>x</b>", "uptime": 100.0}]
    first = report["incidents"][0]
    assert set(first) == {"id", "name", "impact", "status", "started_at", "resolved_at", "url"}
    assert (first["id"], first["impact"], first["status"]) == ("10", "critical", "resolved")
    assert first["url"] == "https://status.example/status/acme/incidents/10"
    assert all(ISO_WITH_OFFSET.match(first[k]) for k in ("started_at", "resolved_at"))
    [m] = report["maintenances"]
    assert set(m) == {"id", "name", "scheduled_for", "scheduled_until", "url"}
    assert m["url"] == "https://status.example/status/acme/maintenance/5"
    json.dumps(body)


def test_an_alert_about_a_component_the_page_does_not_show_is_not_shown_and_other_events_unsupported():
    with pytest.raises(NotShown):
        digest.webhook_payload(alert_event(component_id=99), snapshot(), now=NOW)
    with pytest.raises(Unsupported):
        digest.push_payload(Event(events.INCIDENT_CREATED, {"incident_id": 1}), snapshot(), now=NOW)
    assert digest.touched_components(alert_event(), snapshot()) == (API,)
    assert digest.touched_components(report_event(), snapshot()) == ()


# --- e-mail ----------------------------------------------------------------------------------------------------
def test_subject_lines_say_what_happened():
    subject, text, _ = digest.email_parts(alert_event(), snapshot(), now=NOW)
    assert subject == "[Acme] Uptime alert: API at 97.12 % over 24 h (threshold 99.9 %)"
    assert "97.12 %" in text and "https://status.example/status/acme" in text
    rows = [reports.UptimeRow(API, "API", 99.9), reports.UptimeRow(EVIL, "x", 100.0)]
    subject, _, _ = digest.email_parts(report_event(rows=rows), snapshot(), now=NOW)
    assert subject == "[Acme] Weekly report: 99.95 % uptime, 2 incidents"
    subject, _, _ = digest.email_parts(report_event("daily", incidents=1), snapshot(), now=NOW)
    assert subject.startswith("[Acme] Daily report: ") and subject.endswith(", 1 incident")
    subject, text, _ = digest.email_parts(report_event("monthly", incidents=0, rows=[]), snapshot(), now=NOW)
    assert subject == "[Acme] Monthly report: no uptime data, no incidents"
    assert "1 Oct 2026 – 31 Oct 2026" in text


def test_everything_in_the_email_html_is_escaped():
    evil = snapshot(title="A<i>cme\nBcc: x@example.com", evil_name="<b>x</b>")
    subject, text, html = digest.email_parts(alert_event(component_id=EVIL), evil, now=NOW)
    assert "\n" not in subject and "<b>x</b>" in subject  # a subject is plain text, on one line
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "<i>" not in html
    _, text, html = digest.email_parts(report_event(), evil, now=NOW)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "Outage &lt;0&gt;" in html and "<0>" not in html
    assert "<table" in html and "99.9 %" in html and "100 %" in html
    assert 'href="https://status.example/status/acme/incidents/10"' in html
    assert "- <b>x</b>: 100 %" in text and "Outage <1>" in text


# --- Discord ---------------------------------------------------------------------------------------------------
def _size(embed: dict) -> int:
    return (len(embed.get("title", "")) + len(embed.get("description", "")) + len(embed["footer"]["text"])
            + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"]))


def test_discord_alerts_are_red_and_reports_blue():
    alert = digest.discord_payload(alert_event(), snapshot(), username="Beacon", avatar_url=None, now=NOW)
    [embed] = alert["embeds"]
    assert embed["color"] == 0xF85149 and embed["title"].startswith("Uptime alert: API at 97.12 %")
    assert {f["name"]: f["value"] for f in embed["fields"]}["Threshold"] == "99.9 %"
    assert alert["username"] == "Beacon" and alert["allowed_mentions"] == {"parse": []}
    report = digest.discord_payload(report_event(), snapshot(), username=None, avatar_url=None, now=NOW)
    [embed] = report["embeds"]
    assert embed["color"] == 0x4493F8 and embed["title"].startswith("Weekly report: ")
    assert "API: 99.9 %" in {f["name"]: f["value"] for f in embed["fields"]}["Components"]
    assert "username" not in report


def test_discord_embeds_stay_within_limits_with_huge_names_and_many_rows():
    long = "N" * 5000
    rows = [reports.UptimeRow(1000 + n, long, 99.0) for n in range(300)]
    event = report_event(incidents=60, rows=rows)
    payload = digest.discord_payload(event, snapshot(title=long), username=long, avatar_url=None, now=NOW)
    [embed] = payload["embeds"]
    assert len(embed["title"]) <= TITLE_LIMIT and len(payload["username"]) <= 80
    assert len(embed["fields"]) <= FIELD_COUNT_LIMIT
    assert all(len(f["value"]) <= FIELD_VALUE_LIMIT and f["value"] for f in embed["fields"])
    assert _size(embed) <= EMBED_TOTAL_LIMIT
    components = {f["name"]: f["value"] for f in embed["fields"]}.get("Components", "")
    assert components == "" or "more" in components.splitlines()[-1]
    evil = snapshot(evil_name="x" * 400)
    alert = digest.discord_payload(alert_event(component_id=EVIL), evil, username=None, avatar_url=None, now=NOW)
    assert len(alert["embeds"][0]["title"]) <= TITLE_LIMIT and _size(alert["embeds"][0]) <= EMBED_TOTAL_LIMIT


def test_push_payloads_are_short_and_tagged():
    push = digest.push_payload(alert_event(), snapshot(), now=NOW)
    assert set(push) == {"title", "body", "url", "tag"}
    assert push["title"] == "Acme: Uptime alert: API" and push["tag"] == f"uptime-{API}-24h"
    assert "97.12 %" in push["body"] and "99.9 %" in push["body"]
    push = digest.push_payload(report_event(), snapshot(), now=NOW)
    assert push["title"] == "Acme: Weekly report" and push["tag"] == "report-weekly"
    assert push["url"] == "https://status.example/status/acme"


def test_a_time_without_offset_is_refused():
    with pytest.raises(ValueError):
        digest.webhook_payload(alert_event(), snapshot(), now=datetime(2026, 1, 1))


# --- alerts ----------------------------------------------------------------------------------------------------
def _apply(marks: dict[str, Mark], decision: alerts.Decision) -> dict[str, Mark]:
    marks = {**marks, **decision.set_marks}
    for key in decision.clear_marks:
        marks.pop(key, None)
    return marks


def test_an_alert_fires_once_per_breach_and_rearms_after_recovery():
    marks: dict[str, Mark] = {}
    sent = []
    for n, value in enumerate([99.95, 97.0, 96.0, 98.0, None, 99.9, 99.95, 95.0, 95.0]):
        decision = decide([Reading(API, "24h", 99.9, value)], marks, AT + timedelta(minutes=n))
        sent += [(n, a.uptime) for a in decision.alerts]
        marks = _apply(marks, decision)
    # fires at 97.0; not while still below, not on no data; 99.9 (at the threshold) re-arms; fires again at 95.0
    assert sent == [(1, 97.0), (7, 95.0)]


def test_no_data_never_alerts_and_marks_are_per_component_window_and_threshold():
    assert decide([Reading(API, "24h", 99.9, None)], {}, AT).empty
    readings = [Reading(API, "24h", 99.9, 99.5), Reading(API, "24h", 99.0, 99.5), Reading(API, "7d", 99.9, 99.95),
                Reading(EVIL, "24h", 99.9, 12.0)]
    decision = decide(readings, {}, AT)
    assert [(a.component_id, a.reading.window, a.reading.threshold) for a in decision.alerts] == [
        (API, "24h", 99.9), (EVIL, "24h", 99.9)]
    assert set(decision.set_marks) == {f"uptime:{API}:24h:99.9", f"uptime:{EVIL}:24h:99.9"}
    assert mark_key(API, "24h", 99.0) == f"uptime:{API}:24h:99"
    mark = decision.set_marks[f"uptime:{API}:24h:99.9"]
    assert Mark.from_json(json.loads(json.dumps(mark.to_json())), NOW) == mark
    assert decision.alerts[0].breached_at == AT


def test_channel_options_give_the_rule_with_defaults():
    assert rule_of({}) == ("24h", 99.0)
    assert rule_of({"uptime_window": "7d", "uptime_threshold": 99.95}) == ("7d", 99.95)
    assert rule_of({"uptime_window": "1y", "uptime_threshold": "abc"}) == ("24h", 99.0)
    assert rule_of({"uptime_threshold": 150}) == ("24h", 99.0)


# --- report periods --------------------------------------------------------------------------------------------
def test_a_daily_period_is_the_previous_local_day():
    now = datetime(2026, 11, 23, 0, 30, tzinfo=UTC)  # 01:30 in Berlin
    start, end = reports.last_complete_period("daily", now, "Europe/Berlin")
    assert (start, end) == (datetime(2026, 11, 22, tzinfo=BERLIN), datetime(2026, 11, 23, tzinfo=BERLIN))
    assert start.isoformat() == "2026-11-22T00:00:00+01:00"
    # 23:30 UTC is already the next day in Berlin, still the same day in New York
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert reports.last_complete_period("daily", late, "Europe/Berlin")[0].date().isoformat() == "2026-11-22"
    assert reports.last_complete_period("daily", late, "America/New_York")[0].date().isoformat() == "2026-11-21"
    assert reports.last_complete_period("daily", late, "Not/AZone")[0] == datetime(2026, 11, 21, tzinfo=UTC)


def test_a_weekly_period_runs_monday_to_monday_across_a_dst_change():
    # Berlin leaves summer time on Sunday 25 Oct 2026: that week is 169 hours long
    now = datetime(2026, 10, 28, 9, 0, tzinfo=UTC)  # a Wednesday
    start, end = reports.last_complete_period("weekly", now, "Europe/Berlin")
    assert start.isoformat() == "2026-10-19T00:00:00+02:00" and end.isoformat() == "2026-10-26T00:00:00+01:00"
    assert end.timestamp() - start.timestamp() == 169 * 3600  # (aware arithmetic in one zone is wall time)
    # spring forward on 29 Mar 2026: 167 hours; on a Monday the week just ended is reported
    now = datetime(2026, 3, 30, 5, 0, tzinfo=UTC)
    start, end = reports.last_complete_period("weekly", now, "Europe/Berlin")
    assert start.isoformat() == "2026-03-23T00:00:00+01:00" and end.isoformat() == "2026-03-30T00:00:00+02:00"
    assert end.timestamp() - start.timestamp() == 167 * 3600
    day = reports.last_complete_period("daily", datetime(2026, 3, 30, 5, 0, tzinfo=UTC), "Europe/Berlin")
    assert day[1].timestamp() - day[0].timestamp() == 23 * 3600


@pytest.mark.parametrize(("now", "first", "after"), [
    (datetime(2026, 3, 1, 12, tzinfo=UTC), "2026-02-01", "2026-03-01"),
    (datetime(2024, 3, 15, tzinfo=UTC), "2024-02-01", "2024-03-01"),  # leap February
    (datetime(2027, 1, 1, 0, 30, tzinfo=UTC), "2026-12-01", "2027-01-01"),  # already January in Berlin
    (datetime(2026, 12, 31, 22, 59, tzinfo=UTC), "2026-11-01", "2026-12-01"),  # still December there
    (datetime(2026, 11, 1, 0, 0, tzinfo=UTC), "2026-10-01", "2026-11-01"),  # the month with the DST change
])
def test_a_monthly_period_is_the_previous_calendar_month(now, first, after):
    start, end = reports.last_complete_period("monthly", now, "Europe/Berlin")
    assert (start.date().isoformat(), end.date().isoformat()) == (first, after)
    assert start.hour == end.hour == 0 and start.tzinfo is not None
    assert reports.mark_key("monthly", 4, start) == f"report:monthly:4:{first}"


def test_report_data_is_json_with_offsets_and_an_overall_figure():
    start, end = reports.last_complete_period("daily", NOW, "Europe/Berlin")
    data = reports.report_data(page_id=1, period="daily", start=start, end=end, time_zone="Europe/Berlin",
                               uptime=[reports.UptimeRow(1, "A", 99.0), reports.UptimeRow(2, "B", None),
                                       reports.UptimeRow(3, "C", 100.0)], incidents=[], maintenances=[])
    assert json.loads(json.dumps(data)) == data
    assert data["overall_uptime"] == 99.5 and data["uptime"][1] == {"component_id": 2, "name": "B", "uptime": None}
    assert reports.counts(data) == (99.5, 0)
    with pytest.raises(ValueError):
        reports.last_complete_period("yearly", NOW, "UTC")
    with pytest.raises(ValueError):
        reports.last_complete_period("daily", datetime(2026, 1, 1), "UTC")

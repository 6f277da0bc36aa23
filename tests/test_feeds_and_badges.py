"""Pure feeds (RSS, Atom, iCalendar) and SVG badges rendered from a snapshot built here."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import feedparser
import icalendar
import pytest

from app import badges, feeds
from app.enums import ComponentStatus, IncidentImpact, IncidentStatus, MaintenanceState
from app.snapshot import IncidentView, MaintenanceUpdateView, MaintenanceView, PageInfo, UpdateView, assemble

AT = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
NASTY = '<script>&"'


def _update(uid: int, status: IncidentStatus, body: str, at: datetime) -> UpdateView:
    return UpdateView(id=uid, status=status, body=body, display_at=at, created_at=at, updated_at=at)


def _incident(iid: int, name: str, updates: tuple[UpdateView, ...], **extra) -> IncidentView:
    started = updates[-1].display_at
    values = dict(id=iid, name=name, status=updates[0].status, impact=IncidentImpact.MINOR, pinned=False,
                  backfilled=False, started_at=started, monitoring_at=None, resolved_at=None, created_at=started,
                  updated_at=updates[0].display_at, updates=updates)
    return IncidentView(**{**values, **extra})


def _maintenance(mid: int, name: str, start: datetime, hours: int = 2, **extra) -> MaintenanceView:
    values = dict(id=mid, name=name, body="Routine upgrade.", state=MaintenanceState.SCHEDULED, time_zone="UTC",
                  scheduled_for=start, scheduled_until=start + timedelta(hours=hours), started_at=None,
                  completed_at=None, created_at=AT - timedelta(days=1), updated_at=AT - timedelta(days=1))
    return MaintenanceView(**{**values, **extra})


def _snapshot(title: str = "Acme Cloud", custom_domain: str | None = None):
    page = PageInfo(id=1, slug="acme", title=title, description="", public=True, active=True,
                    custom_domain=custom_domain, time_zone="Europe/Berlin", theme="auto", brand_color="#2563eb",
                    footer_text="", updated_at=AT - timedelta(days=3))
    api = {"id": 7, "name": "API", "description": "", "link": "", "status": "OPERATIONAL", "position": 0,
           "group_id": None, "only_show_if_degraded": False, "show_uptime": True,
           "created_at": AT, "updated_at": AT}
    url = f"https://{custom_domain}/" if custom_domain else "https://status.example.com/status/acme"
    s = assemble(page, url, [], [api], now=AT)
    older = _incident(1, "Slow logins", (
        _update(11, IncidentStatus.RESOLVED, "All fine again.", AT - timedelta(days=2, hours=-1)),
        _update(10, IncidentStatus.INVESTIGATING, "Logins are *slow*.", AT - timedelta(days=2)),
    ), status=IncidentStatus.RESOLVED, resolved_at=AT - timedelta(days=2, hours=-1), component_ids=(7,))
    newer = _incident(2, "API errors", (
        _update(21, IncidentStatus.MONITORING, "A fix is out.", AT - timedelta(hours=1)),
        _update(20, IncidentStatus.IDENTIFIED, "Found a bad deploy.", AT - timedelta(hours=3)),
    ), component_ids=(7,))
    upcoming = _maintenance(5, "Database upgrade", AT + timedelta(days=1), component_ids=(7,))
    done = _maintenance(4, "Network work", AT - timedelta(days=1, hours=1), state=MaintenanceState.COMPLETED,
                        started_at=AT - timedelta(days=1, hours=1), completed_at=AT - timedelta(hours=23),
                        updated_at=AT - timedelta(hours=23),
                        updates=(MaintenanceUpdateView(40, MaintenanceState.COMPLETED, "Done early.",
                                                       AT - timedelta(hours=23), AT - timedelta(hours=23),
                                                       AT - timedelta(hours=23)),))
    return replace(s, incidents=(newer, older), maintenances=(upcoming, done))


def _nasty_snapshot():
    s = _snapshot(title=NASTY)
    incident = _incident(3, NASTY, (_update(30, IncidentStatus.INVESTIGATING, f"Body {NASTY} **bold**", AT),))
    maintenance = _maintenance(6, f"{NASTY}, with; commas\\ and\nlines", AT + timedelta(hours=5),
                               body=f"About {NASTY}")
    return replace(s, incidents=(incident,), maintenances=(maintenance,))


# --- RSS and Atom ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("render", [feeds.rss, feeds.atom], ids=["rss", "atom"])
def test_feeds_parse_cleanly_newest_first_with_absolute_links(render):
    parsed = feedparser.parse(render(_snapshot(), AT))

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == "Acme Cloud status"
    assert parsed.feed.link == "https://status.example.com/status/acme"
    # ordered by latest update: API errors (1 h ago), Network work (23 h), Slow logins (2 days), and the
    # upcoming maintenance announced a day before (its latest news is its announcement)
    titles = [e.title for e in parsed.entries]
    assert titles == ["API errors", "Network work", "Database upgrade", "Slow logins"]
    links = {e.title: e.link for e in parsed.entries}
    assert links["API errors"] == "https://status.example.com/status/acme/incidents/2"
    assert links["Database upgrade"] == "https://status.example.com/status/acme/maintenance/5"
    ids = {e.title: e.id for e in parsed.entries}
    assert ids["API errors"] == "tag:status.example.com,2024-05-01:page/1/incident/2"
    assert len(set(ids.values())) == 4


@pytest.mark.parametrize("render", [feeds.rss, feeds.atom], ids=["rss", "atom"])
def test_an_entry_holds_its_updates_newest_first_with_status_and_time(render):
    parsed = feedparser.parse(render(_snapshot(), AT))
    entry = next(e for e in parsed.entries if e.title == "Slow logins")
    content = entry.content[0].value if "content" in entry else entry.description

    assert content.index("Resolved") < content.index("All fine again.") < content.index("Investigating")
    assert "Logins are <em>slow</em>." in content  # Markdown rendered
    assert "2024-04-29 14:00 CEST" in content  # the first update's time in the page's zone
    assert "Affected: API" in content
    # the date is the latest update's
    published = entry.published_parsed if render is feeds.rss else entry.updated_parsed
    assert datetime(*published[:6], tzinfo=UTC) == AT - timedelta(days=2, hours=-1)


def test_rss_has_a_self_link_and_stable_guids():
    s = _snapshot()
    body = feeds.rss(s, AT)
    root = ET.fromstring(body)

    self_link = root.find("channel/{http://www.w3.org/2005/Atom}link")
    assert self_link is not None and self_link.get("href") == "https://status.example.com/status/acme/feed.rss"
    guids = [g.text for g in root.iter("guid")]
    assert guids == [g.text for g in ET.fromstring(feeds.rss(s, AT + timedelta(hours=5))).iter("guid")]
    assert all(g.get("isPermaLink") == "false" for g in root.iter("guid"))


def test_atom_entries_have_ids_updated_and_html_content():
    root = ET.fromstring(feeds.atom(_snapshot(), AT))
    ns = {"a": feeds.ATOM_NS}

    assert root.findtext("a:updated", namespaces=ns) == "2024-05-01T11:00:00Z"
    assert root.find("a:link[@rel='self']", ns).get("href") == "https://status.example.com/status/acme/feed.atom"
    for entry in root.findall("a:entry", ns):
        assert entry.findtext("a:id", namespaces=ns).startswith("tag:status.example.com,")
        assert entry.find("a:content", ns).get("type") == "html"


def test_feeds_use_the_custom_domain_for_links():
    parsed = feedparser.parse(feeds.atom(_snapshot(custom_domain="status.acme.io"), AT))

    assert parsed.entries[0].link == "https://status.acme.io/status/acme/incidents/2"
    assert parsed.entries[0].id.startswith("tag:status.acme.io,")


@pytest.mark.parametrize("render", [feeds.rss, feeds.atom], ids=["rss", "atom"])
def test_feeds_escape_names_and_bodies(render):
    body = render(_nasty_snapshot(), AT)
    parsed = feedparser.parse(body)

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert "<script>" not in body
    assert parsed.feed.title == f"{NASTY} status"
    titles = [e.title for e in parsed.entries]
    assert NASTY in titles
    entry = next(e for e in parsed.entries if e.title == NASTY)
    content = entry.content[0].value if "content" in entry else entry.description
    # raw HTML in Markdown is shown as text, never as markup
    assert "&lt;script&gt;" in content and "<strong>bold</strong>" in content


def test_control_characters_do_not_break_the_xml():
    s = _snapshot()
    s = replace(s, incidents=(_incident(9, "Bad\x00name\x1b", (_update(90, IncidentStatus.INVESTIGATING,
                                                                            "x\x07y", AT),)),))
    for render in (feeds.rss, feeds.atom):
        parsed = feedparser.parse(render(s, AT))
        assert not parsed.bozo
        assert parsed.entries[0].title == "Badname"


def test_an_empty_page_gives_valid_feeds():
    s = replace(_snapshot(), incidents=(), maintenances=())
    for render in (feeds.rss, feeds.atom):
        parsed = feedparser.parse(render(s, AT))
        assert not parsed.bozo and parsed.entries == []
    assert icalendar.Calendar.from_ical(feeds.ical(s, AT)).walk("VEVENT") == []


# --- iCalendar ------------------------------------------------------------------------------------------------------

def test_the_calendar_has_one_event_per_window_in_utc():
    text = feeds.ical(_snapshot(), AT)
    calendar = icalendar.Calendar.from_ical(text)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}

    assert set(events) == {"maintenance-5@status.example.com", "maintenance-4@status.example.com"}
    upcoming = events["maintenance-5@status.example.com"]
    assert upcoming["DTSTART"].dt == AT + timedelta(days=1)
    assert upcoming["DTEND"].dt == AT + timedelta(days=1, hours=2)
    assert upcoming["DTSTART"].dt.utcoffset() == timedelta(0)
    assert str(upcoming["SUMMARY"]) == "Database upgrade"
    assert str(upcoming["URL"]) == "https://status.example.com/status/acme/maintenance/5"
    assert "Routine upgrade." in str(upcoming["DESCRIPTION"])
    assert "Affected: API" in str(upcoming["DESCRIPTION"])
    assert str(upcoming["STATUS"]) == "CONFIRMED"
    assert "LAST-MODIFIED" in upcoming and "SEQUENCE" in upcoming and "DTSTAMP" in upcoming
    # a window that ended early ends when it was completed
    done = events["maintenance-4@status.example.com"]
    assert done["DTEND"].dt == AT - timedelta(hours=23)
    assert "Done early." in str(done["DESCRIPTION"])


def test_the_calendar_uses_crlf_and_folds_long_lines_at_75_octets():
    s = _snapshot()
    s = replace(s, maintenances=(_maintenance(5, "Überarbeitung " * 20, AT, body="ö" * 300),))
    text = feeds.ical(s, AT)

    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in lines)
    assert any(line.startswith(" ") for line in lines)
    event = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Überarbeitung " * 20
    assert "ö" * 300 in str(event["DESCRIPTION"])


def test_the_calendar_escapes_text():
    text = feeds.ical(_nasty_snapshot(), AT)
    event = icalendar.Calendar.from_ical(text).walk("VEVENT")[0]

    assert "SUMMARY:<script>&\"\\, with\\; commas\\\\ and\\nlines" in text.replace("\r\n ", "")
    assert str(event["SUMMARY"]) == f"{NASTY}, with; commas\\ and\nlines"
    assert f"About {NASTY}" in str(event["DESCRIPTION"])


def test_uids_are_stable_and_sequence_grows_with_changes():
    s = _snapshot()
    m = s.maintenances[0]
    later = replace(s, maintenances=(replace(m, scheduled_until=m.scheduled_until + timedelta(hours=1),
                                             updated_at=m.updated_at + timedelta(minutes=5)),))
    first = icalendar.Calendar.from_ical(feeds.ical(replace(s, maintenances=(m,)), AT)).walk("VEVENT")[0]
    second = icalendar.Calendar.from_ical(feeds.ical(later, AT)).walk("VEVENT")[0]

    assert str(first["UID"]) == str(second["UID"])
    assert int(second["SEQUENCE"]) > int(first["SEQUENCE"])


@pytest.mark.parametrize(("raw", "escaped"), [
    ("a,b", "a\\,b"), ("a;b", "a\\;b"), ("a\\b", "a\\\\b"), ("a\nb", "a\\nb"), ("a\r\nb", "a\\nb"),
])
def test_ical_text_escaping(raw, escaped):
    assert feeds.ical_text(raw) == escaped


def test_folding_never_splits_a_character():
    line = "DESCRIPTION:" + "€" * 100
    folded = feeds.fold(line)
    parts = folded.split("\r\n")

    assert all(len(p.encode()) <= 75 for p in parts)
    assert "".join(p.removeprefix(" ") if i else p for i, p in enumerate(parts)) == line


# --- badges ---------------------------------------------------------------------------------------------------------

def _width(svg: str) -> int:
    return int(re.search(r'<svg [^>]*width="(\d+)"', svg).group(1))


def test_a_badge_is_svg_with_accessible_text():
    svg = badges.badge("status", "operational", "green")
    root = ET.fromstring(svg)

    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert root.get("role") == "img" and root.get("aria-label") == "status: operational"
    assert root.findtext("{http://www.w3.org/2000/svg}title") == "status: operational"
    assert "#4c1" in svg


def test_badge_width_grows_with_the_text():
    short = _width(badges.badge("status", "up", "green"))
    longer = _width(badges.badge("status", "operational", "green"))
    wide_letters = _width(badges.badge("status", "WWWW", "green"))
    narrow_letters = _width(badges.badge("status", "iiii", "green"))

    assert short < longer
    assert narrow_letters < wide_letters


def test_styles_differ():
    flat = badges.badge("status", "operational", "green", style="flat")
    square = badges.badge("status", "operational", "green", style="flat-square")
    big = badges.badge("status", "operational", "green", style="for-the-badge")

    assert len({flat, square, big}) == 3
    assert 'rx="3"' in flat and 'rx="3"' not in square
    assert 'height="28"' in big and "OPERATIONAL" in big and 'font-weight="bold"' in big
    assert _width(big) > _width(flat)
    for svg in (flat, square, big):
        ET.fromstring(svg)


@pytest.mark.parametrize("color", ["purple", "#12345", "#gggggg", "red;x", "url(#s)", ""])
def test_unknown_colours_are_refused(color):
    with pytest.raises(ValueError):
        badges.badge("status", "up", color)
    with pytest.raises(ValueError):
        badges.badge("status", "up", "green", label_color=color or "nope")


def test_hex_colours_and_label_colours_are_accepted():
    svg = badges.badge("status", "up", "#A1B2C3", label_color="blue")
    assert 'fill="#a1b2c3"' in svg and 'fill="#007ec6"' in svg


def test_an_unknown_style_is_refused():
    with pytest.raises(ValueError):
        badges.badge("status", "up", "green", style="plastic")


def test_badge_text_is_escaped():
    svg = badges.badge(NASTY, NASTY, "red")
    root = ET.fromstring(svg)

    assert "<script>" not in svg
    assert root.get("aria-label") == f"{NASTY}: {NASTY}"
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert texts and all(t == NASTY for t in texts)


def test_a_badge_without_label_shows_only_the_message():
    svg = badges.badge("", "operational", "green")
    root = ET.fromstring(svg)

    assert root.get("aria-label") == "operational"
    assert _width(svg) < _width(badges.badge("status", "operational", "green"))


@pytest.mark.parametrize(("indicator", "expected"), [
    ("none", ("operational", "green")), ("minor", ("degraded", "yellow")), ("major", ("partial outage", "orange")),
    ("critical", ("major outage", "red")), ("maintenance", ("maintenance", "blue")),
])
def test_indicator_badges(indicator, expected):
    assert badges.indicator_badge(indicator) == expected


def test_status_badges_cover_every_status():
    assert {badges.status_badge(s)[1] for s in ComponentStatus} == {"green", "yellow", "orange", "red", "blue"}


@pytest.mark.parametrize(("percent", "message", "color"), [
    (100.0, "100%", "green"), (99.95, "99.95%", "green"), (99.5, "99.5%", "yellowgreen"), (97.0, "97%", "orange"),
    (80.0, "80%", "red"), (None, "no data", "grey"),
])
def test_uptime_badges(percent, message, color):
    assert badges.uptime_badge(percent) == (message, color)


@pytest.mark.parametrize(("ms", "message", "color"), [
    (120.4, "120 ms", "green"), (300, "300 ms", "yellowgreen"), (800, "800 ms", "yellow"),
    (1500, "1.50 s", "orange"), (4000, "4.00 s", "red"), (None, "no data", "grey"),
])
def test_response_time_badges(ms, message, color):
    assert badges.response_time_badge(ms) == (message, color)

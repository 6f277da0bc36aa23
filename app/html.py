"""Server-rendered public pages (the fast path): snapshot → HTML, with Jinja2 autoescaping."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.enums import ComponentStatus
from app.snapshot import PageSnapshot

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

STATUS_CLASS = {
    ComponentStatus.OPERATIONAL: "ok",
    ComponentStatus.DEGRADED: "degraded",
    ComponentStatus.PARTIAL_OUTAGE: "partial",
    ComponentStatus.MAJOR_OUTAGE: "major",
    ComponentStatus.MAINTENANCE: "maintenance",
}
INDICATOR_CLASS = {"none": "ok", "minor": "degraded", "major": "partial", "critical": "major",
                   "maintenance": "maintenance"}
_env.globals.update(STATUS_CLASS=STATUS_CLASS, INDICATOR_CLASS=INDICATOR_CLASS, OPERATIONAL=ComponentStatus.OPERATIONAL)


def status_body(snapshot: PageSnapshot) -> str:
    """The part of the page that live updates replace."""
    return _env.get_template("status_body.html").render(s=snapshot)


def status_page(snapshot: PageSnapshot, *, live_url: str) -> str:
    return _env.get_template("status_page.html").render(s=snapshot, body=status_body(snapshot), live_url=live_url)

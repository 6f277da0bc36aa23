"""/admin/audit: the audit trail newest first, with filters, paging, CSV/JSON downloads of the filtered entries
and a check of the hash chain (the same sentence as ``python main.py audit verify``). Admins and owners only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from nicegui import ui

from app import audit
from app.audit import StoredEntry
from app.enums import Severity
from app.services.validation import to_moment
from pages import session
from pages.admin.editing import INPUT, MUTED, admin_frame, refusal, tag
from pages.theme import notify_done

PAGE_SIZE = 50
ANY = ""
SEVERITY_OPTIONS = {ANY: "Any severity", **{s.value: s.value.capitalize() for s in Severity}}
SEVERITY_LOOK = {"info": "bg-slate-100 text-slate-800", "warning": "bg-amber-100 text-amber-900",
                 "critical": "bg-red-100 text-red-900"}
TEXT_FILTERS = (("actor", "Actor (e-mail or id)"), ("entity_type", "Entity type (page, component, …)"),
                ("entity_id", "Entity id"), ("action", "Action (e.g. component.set_status)"))


def _value_text(value: Any) -> str:
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:79] + "…"


def changes_text(changes: dict[str, Any]) -> str:
    """'title: Acme → Acme Cloud; status: OPERATIONAL → DEGRADED'."""
    parts = []
    for name, value in changes.items():
        if isinstance(value, dict) and set(value) <= {"old", "new"}:
            parts.append(f"{name}: {_value_text(value.get('old'))} → {_value_text(value.get('new'))}")
        else:
            parts.append(f"{name}: {_value_text(value)}")
    return "; ".join(parts)


def _when(at: str) -> str:
    return at[:19].replace("T", " ") + " UTC"


class AuditScreen:
    """Filters, one page of entries, paging, downloads and the chain check, for one browser tab."""

    def __init__(self) -> None:
        self.offset = 0
        self.inputs: dict[str, ui.input] = {}

    def build(self) -> None:
        with ui.card().classes("w-full gap-3 p-5"):
            with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-3 gap-3"):
                for name, label in TEXT_FILTERS:
                    self.inputs[name] = ui.input(label).props(f"{INPUT} clearable").classes("w-full") \
                        .mark(f"filter-{name}").on("keydown.enter", self.apply)
                self.severity = ui.select(SEVERITY_OPTIONS, value=ANY, label="Severity") \
                    .props(f"{INPUT} emit-value map-options").classes("w-full").mark("filter-severity")
                self.since = ui.input("From (UTC)").props(f"{INPUT} type=datetime-local stack-label") \
                    .classes("w-full").mark("filter-since")
                self.until = ui.input("Until (UTC)").props(f"{INPUT} type=datetime-local stack-label") \
                    .classes("w-full").mark("filter-until")
            self.problem = ui.label().classes("text-negative text-sm").props('role="alert"')
            self.problem.set_visibility(False)
            with ui.row().classes("gap-2"):
                ui.button("Filter", icon="filter_list", on_click=self.apply).props("unelevated no-caps")
                ui.button("Clear filters", on_click=self.clear).props("flat no-caps")
                ui.button("Download CSV", icon="download", on_click=lambda: self.download("csv")) \
                    .props("outline no-caps")
                ui.button("Download JSON", icon="download", on_click=lambda: self.download("json")) \
                    .props("outline no-caps")
        with ui.row().classes("w-full items-center gap-3"):
            ui.button("Verify chain", icon="verified", on_click=self.verify).props("outline no-caps")
            self.verdict = ui.label().classes("text-sm font-medium").props('role="status"').mark("verdict")
        self.position = ui.label().classes(MUTED)
        self.entries = ui.column().classes("w-full gap-2").mark("entries")
        with ui.row().classes("gap-2"):
            self.newer = ui.button("Newer", on_click=lambda: self.turn(-PAGE_SIZE)).props("flat no-caps")
            self.older = ui.button("Older", on_click=lambda: self.turn(PAGE_SIZE)).props("flat no-caps")

    def filters(self) -> dict[str, Any] | None:
        """The search's keyword arguments, or None after saying which time could not be read."""
        found: dict[str, Any] = {name: (element.value or "").strip() or None for name, element in self.inputs.items()}
        found["severity"] = self.severity.value or None
        for name, element in (("since", self.since), ("until", self.until)):
            text = (element.value or "").strip()
            moment = to_moment(text, "UTC") if text else None
            if text and moment is None:
                self.problem.set_text(f"'{text}' is not a date and time.")
                self.problem.set_visibility(True)
                return None
            found[name] = moment
        self.problem.set_visibility(False)
        return found

    async def apply(self) -> None:
        self.offset = 0
        await self.load()

    async def clear(self) -> None:
        for element in (*self.inputs.values(), self.since, self.until):
            element.set_value("")
        self.severity.set_value(ANY)
        await self.apply()

    async def turn(self, step: int) -> None:
        self.offset = max(self.offset + step, 0)
        await self.load()

    async def load(self) -> None:
        filters = self.filters()
        if filters is None:
            return
        found = await audit.search(**filters, limit=PAGE_SIZE + 1, offset=self.offset)
        shown = found[:PAGE_SIZE]
        self.entries.clear()
        with self.entries:
            if not shown:
                ui.label("No entries match." if any(filters.values()) else "The audit trail is empty.") \
                    .classes(MUTED)
            for stored in shown:
                self._entry(stored)
        self.position.set_text(f"Entries {self.offset + 1}–{self.offset + len(shown)}, newest first" if shown else "")
        self.newer.set_enabled(self.offset > 0)
        self.older.set_enabled(len(found) > PAGE_SIZE)

    def _entry(self, stored: StoredEntry) -> None:
        entry = stored.entry
        with ui.element("div").classes("w-full rounded border border-slate-200 px-3 py-2").mark(f"entry-{entry.seq}"):
            with ui.row().classes("w-full items-center gap-x-3 gap-y-1"):
                ui.label(f"#{entry.seq}").classes("text-xs text-slate-500")
                ui.label(_when(entry.at)).classes("text-sm text-slate-600")
                ui.label(entry.action).classes("font-mono text-sm font-medium")
                ui.label(f"{entry.entity_type} {entry.entity_id or ''}".strip()).classes("text-sm")
                tag(entry.severity, SEVERITY_LOOK.get(entry.severity, SEVERITY_LOOK["info"]))
                ui.label(f"by {entry.actor_label or entry.actor_type}").classes("text-sm text-slate-700")
                if entry.ip:
                    ui.label(entry.ip).classes("text-xs text-slate-500")
            if entry.changes:
                ui.label(changes_text(entry.changes)).classes("w-full text-sm text-slate-700 break-all")

    async def download(self, kind: str) -> None:
        filters = self.filters()
        if filters is None:
            return
        rows = await audit.search(**filters, limit=None)
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        if kind == "csv":
            ui.download(audit.export_csv(rows).encode(), f"beacon-audit-{stamp}.csv", "text/csv")
        else:
            ui.download(audit.export_json(rows).encode(), f"beacon-audit-{stamp}.json", "application/json")
        notify_done(f"{len(rows)} {'entry' if len(rows) == 1 else 'entries'} exported")

    async def verify(self) -> None:
        intact, sentence = await audit.verdict()
        self.verdict.set_text(sentence[:1].upper() + sentence[1:])
        self.verdict.classes(replace="text-sm font-medium " + ("text-green-800" if intact else "text-negative"))


@ui.page("/admin/audit")
async def audit_trail(request: Request) -> None:
    user = await session.require_user()
    if user is None:
        return
    actor = session.actor_for(user, request)
    with admin_frame("Audit trail", user):
        ui.label("Audit trail").classes("text-2xl font-semibold")
        if (refused := refusal(actor, "audit.view")) is not None:
            ui.label(f"You cannot read the audit trail. {refused}").classes("text-negative").props('role="alert"')
            return
        ui.label("Every change, who made it and from where. Times are in UTC.").classes(MUTED)
        screen = AuditScreen()
        screen.build()
    await screen.load()

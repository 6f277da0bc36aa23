"""/admin/settings: install-wide settings for owners — "Download backup" (the full export of app/backup.py, without
the credentials for other systems; audited as ``backup.export``) and how long heartbeats, the delivery log and the
audit trail are kept (app/services/retention.py, ``settings.update``). Anyone else reads the service's refusal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from nicegui import ui

from app import backup
from app.auth import Actor
from app.services import retention
from app.services.errors import ServiceError
from app.services.retention import Retention
from pages.admin.editing import CARD, HEADING, INPUT, MUTED, admin_frame, error_text, no_check, refusal
from pages.theme import Form, notify_done
from storage.models import User

ACTION = "settings.update"
HOME = "/admin/settings"
AUDIT_DAYS_SUGGESTED = 365


def whole(value: Any) -> Any:
    """ui.number hands over floats; whole ones go on as ints (anything else goes on to be refused)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def anchor_text(anchor: dict[str, Any] | None) -> str | None:
    """The sentence about the last audit pruning, or None when the trail was never pruned."""
    if not anchor:
        return None
    try:
        day = datetime.fromisoformat(str(anchor["pruned_at"])).strftime("%Y-%m-%d")
        return (f"Entries before #{int(anchor['seq'])} were pruned on {day}; the chain is verified from there.")
    except (KeyError, TypeError, ValueError):
        return f"Entries before #{anchor.get('seq')} were pruned; the chain is verified from there."


class SettingsScreen:
    """The two cards, for one browser tab."""

    def __init__(self, actor: Actor, kept: Retention, anchor: dict[str, Any] | None) -> None:
        self.actor = actor
        self.kept = kept
        self.anchor = anchor

    def build(self) -> None:
        ui.label("Install settings").classes("text-2xl font-semibold")
        self._backup_card()
        self._retention_card()

    # --- backup -------------------------------------------------------------------------------------------------
    def _backup_card(self) -> None:
        with ui.card().classes(CARD):
            ui.label("Backup").classes(HEADING)
            ui.label("One JSON file with every page, component, incident, monitor, user and the audit trail: what "
                     "python main.py import loads into an empty database.").classes(MUTED)
            ui.label("The credentials Beacon holds for other systems (channels' and monitors' secrets and passwords) "
                     "are not in this download; for a full one use python main.py export FILE --with-secrets. The "
                     "file holds users' password hashes: keep it safe.").classes(MUTED).mark("backup-note")
            ui.button("Download backup", icon="download", on_click=self.download) \
                .props("outline no-caps").mark("download-backup")

    async def download(self) -> None:
        try:
            document = await backup.export_for(self.actor)
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            return
        data = backup.dumps(document)
        # bytes: NiceGUI's simulated user would take a str for an address to fetch
        ui.download.content(data if isinstance(data, bytes) else data.encode("utf-8"),
                            backup.export_filename(document), "application/json")
        notify_done("Backup downloaded")

    # --- retention ----------------------------------------------------------------------------------------------
    def _retention_card(self) -> None:
        form = self.form = Form()
        kept = self.kept
        with ui.card().classes(CARD):
            ui.label("Retention").classes(HEADING)
            ui.label("How long Beacon keeps what piles up; older records are removed by the daily clean-up.") \
                .classes(MUTED)
            with ui.row().classes("w-full items-start gap-3"):
                self.heartbeats = form.field("heartbeat_days", ui.number(
                    "Heartbeats (days)", value=kept.heartbeat_days, min=1, max=3650, step=1)
                    .props(INPUT).classes("grow min-w-[12rem]").mark("heartbeat_days"), no_check)
                self.deliveries = form.field("delivery_days", ui.number(
                    "Delivery log (days)", value=kept.delivery_days, min=1, max=3650, step=1)
                    .props(INPUT).classes("grow min-w-[12rem]").mark("delivery_days"), no_check)
            ui.label("The audit trail is kept forever unless you turn on pruning. Pruned entries are gone for good; "
                     "the rest still verifies.").classes(MUTED)
            with ui.row().classes("w-full items-start gap-3"):
                self.prune = ui.switch("Prune the audit trail", value=kept.audit_days is not None) \
                    .mark("audit_prune")
                self.audit_days = form.field("audit_days", ui.number(
                    "Keep audit entries (days)", value=kept.audit_days or AUDIT_DAYS_SUGGESTED, min=30, max=3650,
                    step=1).props(INPUT).classes("grow min-w-[12rem]").mark("audit_days"), no_check)
                self.audit_days.bind_visibility_from(self.prune, "value")
            if text := anchor_text(self.anchor):
                ui.label(text).classes(MUTED).mark("audit-anchor")
            with ui.row().classes("w-full justify-end"):
                form.submits(ui.button("Save retention", icon="save", on_click=self.save)
                             .props("unelevated no-caps").mark("save-retention"))

    async def save(self) -> None:
        try:
            self.kept = await retention.set_retention(
                self.actor, heartbeat_days=whole(self.heartbeats.value), delivery_days=whole(self.deliveries.value),
                audit_days=whole(self.audit_days.value) if self.prune.value else None)
        except ServiceError as exc:
            self.form.show(exc)
            return
        self.form.check_all()  # every field's check is no_check: clears the messages of the last attempt
        notify_done("Retention saved")


async def _signed_in(request: Request) -> tuple[User, Actor] | None:
    from pages import session

    user = await session.require_user()
    if user is None:
        return None
    return user, session.actor_for(user, request)


@ui.page(HOME)
async def install_settings(request: Request) -> None:
    signed = await _signed_in(request)
    if signed is None:
        return
    user, actor = signed
    if (refused := refusal(actor, ACTION)) is not None:
        with admin_frame("Settings", user):
            ui.label("Install settings").classes("text-2xl font-semibold")
            ui.label(f"You cannot change the install settings: {refused}.").classes("text-negative") \
                .props('role="alert"')
        return
    screen = SettingsScreen(actor, await retention.current(), await retention.audit_anchor())
    with admin_frame("Settings", user):
        screen.build()

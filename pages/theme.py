"""The shell every admin screen shares, and the one way pages show a service error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nicegui import ui

from app.services.errors import Invalid, ServiceError

BRAND = "#2563eb"


@contextmanager
def frame(title: str, user_email: str | None = None) -> Iterator[None]:
    ui.colors(primary=BRAND)
    ui.page_title(f"{title} · Beacon")
    with ui.header().classes("items-center justify-between px-6 py-2 bg-white text-slate-800 border-b "
                             "border-slate-200"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("podcasts", color="primary").classes("text-2xl")
            ui.link("Beacon", "/admin").classes("text-lg font-semibold no-underline text-slate-800")
        if user_email:
            with ui.row().classes("items-center gap-4"):
                ui.label(user_email).classes("text-sm text-slate-600")
                ui.link("Sign out", "/logout").classes("text-sm")
    with ui.column().classes("w-full max-w-5xl mx-auto p-6 gap-6"):
        yield


@contextmanager
def card_form(title: str) -> Iterator[None]:
    with ui.card().classes("w-full max-w-md mx-auto mt-16 p-6 gap-4"):
        ui.label(title).classes("text-xl font-semibold")
        yield


def notify_done(message: str) -> None:
    """Confirm a finished action: top right and short-lived, so that a series of them never covers a form."""
    ui.notify(message, type="positive", position="top-right", timeout=2500)


def show_errors(exc: ServiceError, fields: dict[str, ui.input] | None = None,
                message: ui.label | None = None) -> None:
    """Put each field's message on its input; anything else goes to ``message`` (or a notification)."""
    fields = fields or {}
    leftover = []
    if isinstance(exc, Invalid):
        for name, text in exc.errors.items():
            if name in fields:
                fields[name].props(f'error error-message="{_attr(text)}"')
            else:
                leftover.append(text)
    else:
        leftover.append(str(exc))
    if leftover:
        if message is not None:
            message.set_text(" ".join(leftover))
            message.set_visibility(True)
        else:
            ui.notify(" ".join(leftover), type="negative")


def clear_errors(fields: dict[str, ui.input], message: ui.label | None = None) -> None:
    for element in fields.values():
        element.props(remove="error error-message")
    if message is not None:
        message.set_visibility(False)


def _attr(text: str) -> str:
    return text.replace('"', "&quot;")

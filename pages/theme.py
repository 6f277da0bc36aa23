"""The shell every admin screen shares, and the one way pages show a service error."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

from nicegui import background_tasks, ui

from app.auth import allowed
from app.enums import Role
from app.services.errors import Invalid, ServiceError

log = logging.getLogger(__name__)

BRAND = "#2563eb"
# Buttons say what they do in sentence case, on every screen (Quasar shouts in capitals by default).
ui.button.default_props("no-caps")
# (text, address, the action a role needs for the link to show)
NAV = (("Dashboard", "/admin", None), ("Incidents", "/admin/incidents", None),
       ("Maintenance", "/admin/maintenance", None), ("Monitors", "/admin/monitors", None),
       ("Notifications", "/admin/notifications", "channel.manage"),
       ("Subscribers", "/admin/subscribers", "subscriber.manage"), ("Users", "/admin/users", "user.invite"),
       ("Teams", "/admin/teams", "team.manage"), ("Audit", "/admin/audit", "audit.view"),
       ("Settings", "/admin/settings", "settings.update"))


@contextmanager
def frame(title: str, user_email: str | None = None, role: int | None = None) -> Iterator[None]:
    """Every admin screen's shell; the navigation shows only the screens ``role`` may use."""
    ui.colors(primary=BRAND)
    ui.page_title(f"{title} · Beacon")
    with ui.header().classes("items-center justify-between gap-y-1 px-6 py-2 bg-white text-slate-800 border-b "
                             "border-slate-200"):
        with ui.row().classes("items-center gap-2"):
            ui.icon("podcasts", color="primary").classes("text-2xl")
            ui.link("Beacon", "/admin").classes("text-lg font-semibold no-underline text-slate-800")
            if user_email:
                with ui.row().classes("items-center gap-x-3 gap-y-0 pl-2 text-sm").props('role="navigation"'):
                    for text, href, action in NAV:
                        if action is not None and (role is None or not allowed(Role(role), action)):
                            continue
                        ui.link(text, href).classes("no-underline text-slate-700 hover:text-slate-950")
        if user_email:
            with ui.row().classes("items-center gap-4"):
                ui.link(user_email, "/admin/account").classes("text-sm text-slate-600 no-underline") \
                    .props('title="Your account: password, two-factor sign-in, API keys"')
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


Check = Callable[[str], str | None]
Lookup = Callable[[str], Awaitable[str | None]]


class Form:
    """Inputs checked on the spot with the services' own pure rules (app/services/validation.py).

    A field's message shows as soon as its value changes (on every keystroke), and the form's submit buttons are
    disabled while any message shows. A blank form nobody has touched keeps its buttons enabled, so that pressing
    one lists everything missing (``check_all``). A rule that needs the database (a taken slug) is a ``lookup``:
    it runs after the pure check passes, and the button stays enabled while it runs so that a quick submit is
    never swallowed — the service checks everything again on submit anyway.
    """

    def __init__(self) -> None:
        self.fields: dict[str, ui.input] = {}
        self._checks: dict[str, tuple[Check, Lookup | None]] = {}
        self._problems: dict[str, str] = {}
        self._buttons: list[ui.button] = []
        self._resetting = False

    def field(self, name: str, element: ui.input, check: Check, lookup: Lookup | None = None) -> ui.input:
        # NiceGUI's own auto-validation would clear our message on every change
        element.without_auto_validation()
        self.fields[name] = element
        self._checks[name] = (check, lookup)
        element.on_value_change(lambda: self._changed(name))
        return element

    def submits(self, button: ui.button) -> ui.button:
        self._buttons.append(button)
        return button

    @property
    def valid(self) -> bool:
        return not self._problems

    def check_all(self) -> bool:
        """Check every field now, touched or not (on submit); True when the pure rules all pass."""
        for name in self.fields:
            self._set(name, self._checks[name][0](self._value(name)))
        return self.valid

    def show(self, exc: ServiceError) -> None:
        """The service's answer on submit: each field's message on its input, anything else as a notification."""
        leftover = [str(exc)] if not isinstance(exc, Invalid) else []
        for name, text in (exc.errors.items() if isinstance(exc, Invalid) else ()):
            if name in self.fields:
                self._set(name, text)
            else:
                leftover.append(text)
        if leftover:
            ui.notify(" ".join(leftover), type="negative")

    def reset(self) -> None:
        """Empty every field without complaining that it is empty (after a successful submit)."""
        self._resetting = True
        try:
            for element in self.fields.values():
                element.set_value("")
        finally:
            self._resetting = False
        for name in self.fields:
            self._set(name, None)

    def _value(self, name: str) -> str:
        return self.fields[name].value or ""

    def _changed(self, name: str) -> None:
        if self._resetting:
            return
        check, lookup = self._checks[name]
        value = self._value(name)
        self._set(name, check(value))
        if lookup is not None and name not in self._problems:
            background_tasks.create(self._look_up(name, value, lookup), name=f"form lookup {name}")

    async def _look_up(self, name: str, value: str, lookup: Lookup) -> None:
        try:
            problem = await lookup(value)
        except Exception:  # a courtesy check: the service decides on submit
            log.warning("form.lookup_failed field=%s", name, exc_info=True)
            return
        element = self.fields[name]
        # the visitor may have typed on meanwhile: only the check of the current value may speak
        if not element.is_deleted and self._value(name) == value:
            self._set(name, problem)

    def _set(self, name: str, problem: str | None) -> None:
        if problem is None:
            self._problems.pop(name, None)
        else:
            self._problems[name] = problem
        self.fields[name].error = problem
        for button in self._buttons:
            button.set_enabled(self.valid)


async def signed_in_page(page_ref: str):
    """(user, status page) for an admin screen about one page, by id or slug; None after sending a visitor who
    is not signed in to the sign-in page, or after showing that there is no such page."""
    from app.services import pages as page_service
    from app.services.errors import NotFound
    from pages import session

    user = await session.require_user()
    if user is None:
        return None
    try:
        return user, await page_service.find_page(page_ref)
    except NotFound:
        with frame("Page not found", user.email, user.role):
            ui.label("There is no such status page.").classes("text-lg")
            ui.link("Back to the dashboard", "/admin")
        return None

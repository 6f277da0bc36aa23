"""/admin/subscribers: the public subscribers of the pages in the signed-in user's scope (filter by page, kind and
address; remove one; export them as CSV) and the mail server subscriber mail goes through; and the subscribe form
of a private page for signed-in staff (/admin/preview/{slug}/subscribe), who subscribe their own account's address.

Every change goes through app/services/subscribers.py with the signed-in user's Actor; managing subscribers is for
admins and owners (``subscriber.manage``), anyone else reads the service's refusal. Times are shown in UTC.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from nicegui import app as ui_app
from nicegui import ui

from app import html
from app.api.public import _not_found
from app.api.subscribe import form_context
from app.auth import Actor, allowed, scope
from app.enums import Role
from app.services import pages as page_service
from app.services import subscribers as subscriber_service
from app.services.errors import Invalid, ServiceError
from app.services.subscribers import SubscriberRow
from app.services.validation import SECRET_MASK
from app.snapshot import PageSnapshot, store
from pages.admin.editing import (
    CARD,
    HEADING,
    INPUT,
    MUTED,
    SECTION,
    admin_frame,
    attr,
    confirm_delete,
    error_text,
    no_check,
    refusal,
    tag,
    when,
)
from pages.theme import Form, notify_done
from storage.models import StatusPage, User

ZONE = "UTC"
ACTION = "subscriber.manage"
HOME = "/admin/subscribers"
MASK = SECRET_MASK
SHOWN = 100  # rows per "Show more"
ALL_PAGES = 0
ALL_KINDS = ""
KIND_LABEL = {"email": "E-mail", "webhook": "Webhook", "push": "Browser"}
KIND_FILTER = {ALL_KINDS: "All kinds", **KIND_LABEL}
KIND_LOOK = {"email": "bg-blue-50 text-blue-900", "webhook": "bg-violet-50 text-violet-900",
             "push": "bg-slate-100 text-slate-700"}
CONFIRMED_LOOK = "bg-green-100 text-green-900"
WAITING_LOOK = "bg-amber-100 text-amber-900"
SECURITY = {"starttls": "STARTTLS", "tls": "TLS", "none": "None (plain text)"}
MAIL_DEFAULTS: dict[str, Any] = {"host": "", "port": 587, "security": "starttls", "username": "", "password": "",
                                 "from_address": "", "verify_tls": True}
MAIL_NOTE = ("Confirmation mails and incident notices to e-mail subscribers go through this server. Without it the "
             "public form offers webhooks and browser notifications only.")
# the service checks the address as the single recipient too: its complaint belongs on the From input
MAIL_ERROR_FIELD = {"config.to": "config.from_address"}
PREVIEW_HEADERS = {"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"}
FORM_HEADING = "Subscribe to updates"


def kind_label(kind: str) -> str:
    return KIND_LABEL.get(kind, kind.capitalize())


def count_text(total: int) -> str:
    return f"{total} subscriber{'s' if total != 1 else ''}"


async def _signed_in(request: Request) -> tuple[User, Actor] | None:
    from pages import session

    user = await session.require_user()
    if user is None:
        return None
    return user, session.actor_for(user, request)


# --- /admin/subscribers ----------------------------------------------------------------------------------------------

class SubscribersScreen:
    """The filters, the subscribers shown so far and the mail server form, for one browser tab."""

    def __init__(self, actor: Actor, pages: dict[int, str]) -> None:
        self.actor = actor
        self.pages = pages
        self.page_id = ALL_PAGES
        self.kind = ALL_KINDS
        self.search = ""
        self.rows: list[SubscriberRow] = []
        self.total = 0
        self._generation = 0  # a slow answer to an older filter must not replace a newer one
        self.mail: dict[str, Any] | None = None
        self.mail_form = Form()
        self.mail_inputs: dict[str, ui.element] = {}

    def filters(self) -> dict[str, Any]:
        return {"page_id": self.page_id or None, "kind": self.kind or None, "search": self.search}

    async def load(self) -> None:
        self._generation += 1
        generation = self._generation
        rows, total = await subscriber_service.list_subscribers(self.actor, **self.filters(), offset=0, limit=SHOWN)
        if generation == self._generation:
            self.rows, self.total = rows, total

    async def reload(self, _: Any = None) -> None:
        await self.load()
        self.subscriber_rows.refresh()

    def build(self) -> None:
        self.dialogs = ui.element("div")
        with ui.row().classes("w-full items-center justify-between gap-3"):
            ui.label("Subscribers").classes("text-2xl font-semibold")
            ui.button("Export CSV", icon="download", on_click=self.export).props("outline no-caps").mark("export")
        with ui.card().classes(CARD):
            with ui.row().classes("w-full items-end gap-3"):
                ui.select({ALL_PAGES: "All pages", **self.pages}, label="Page", value=self.page_id,
                          on_change=self._filter_page).props(INPUT).classes("w-full sm:w-56").mark("filter-page")
                ui.select(KIND_FILTER, label="Kind", value=self.kind, on_change=self._filter_kind) \
                    .props(INPUT).classes("w-full sm:w-40").mark("filter-kind")
                ui.input("Address contains", on_change=self._filter_search) \
                    .props(f"{INPUT} clearable debounce=300").classes("grow min-w-[12rem]").mark("filter-search")
            self.subscriber_rows()
        self.mail_section()

    # --- the list -----------------------------------------------------------------------------------------------
    async def _filter_page(self, e: Any) -> None:
        self.page_id = e.value or ALL_PAGES
        await self.reload()

    async def _filter_kind(self, e: Any) -> None:
        self.kind = e.value or ALL_KINDS
        await self.reload()

    async def _filter_search(self, e: Any) -> None:
        self.search = str(e.value or "")
        await self.reload()

    @ui.refreshable_method
    def subscriber_rows(self) -> None:
        ui.label(count_text(self.total)).classes("text-sm font-medium text-slate-700").mark("count")
        if not self.rows:
            filtered = self.page_id or self.kind or self.search.strip()
            ui.label("No subscriber matches these filters." if filtered else
                     "No subscribers yet. Visitors subscribe from the link on each status page.").classes(MUTED)
            return
        with ui.row().classes("w-full items-center gap-3 px-1 pb-1 border-b border-slate-200 no-wrap"):
            ui.label("Address").classes(f"{SECTION} grow")
            ui.label("Status").classes(f"{SECTION} w-48 max-md:hidden")
            ui.label("Subscribed").classes(f"{SECTION} w-40 max-md:hidden")
            ui.label("").classes("w-24")
        with ui.column().classes("w-full gap-0"):
            for row in self.rows:
                self._row(row)
        if len(self.rows) < self.total:
            with ui.row().classes("w-full items-center justify-center gap-3 pt-2"):
                ui.label(f"Showing {len(self.rows)} of {self.total}").classes(MUTED)
                ui.button("Show more", icon="expand_more", on_click=self.show_more).props("flat no-caps") \
                    .mark("show-more")

    def _row(self, r: SubscriberRow) -> None:
        with ui.row().classes("w-full items-center gap-3 px-1 py-2.5 border-b border-slate-100 no-wrap "
                              "hover:bg-slate-50").props(f'data-subscriber="{r.id}"'):
            with ui.column().classes("gap-0.5 grow min-w-0"):
                with ui.row().classes("items-center gap-2 no-wrap min-w-0"):
                    tag(kind_label(r.kind), KIND_LOOK.get(r.kind, KIND_LOOK["push"]))
                    ui.label(r.address).classes("font-medium text-slate-900 truncate") \
                        .props(f'title="{attr(r.address)}"').mark(f"subscriber-{r.id}")
                components = ", ".join(r.components) if r.components else "Whole page"
                ui.label(f"{r.page_slug} · {components}").classes("text-sm text-slate-600 truncate")
            with ui.element("div").classes("w-48 shrink-0 max-md:hidden"):
                if r.confirmed:
                    tag("Confirmed", CONFIRMED_LOOK).mark(f"confirmed-{r.id}")
                else:
                    tag("Waiting for confirmation", WAITING_LOOK).mark(f"waiting-{r.id}")
            ui.label(when(r.created_at, ZONE)).classes("w-40 shrink-0 text-sm text-slate-600 max-md:hidden")
            with ui.element("div").classes("w-24 shrink-0 flex justify-end"):
                ui.button("Remove", icon="delete", on_click=lambda row=r: self.confirm_remove(row)) \
                    .props("flat no-caps dense color=negative").mark(f"remove-{r.id}")

    async def show_more(self) -> None:
        rows, total = await subscriber_service.list_subscribers(self.actor, **self.filters(), offset=len(self.rows),
                                                                limit=SHOWN)
        known = {r.id for r in self.rows}
        self.rows += [r for r in rows if r.id not in known]
        self.total = total
        self.subscriber_rows.refresh()

    def confirm_remove(self, r: SubscriberRow) -> None:
        consequence = ("It gets no more updates from this page. Visitors can subscribe again from the public form."
                       if r.kind != "push" else "This browser gets no more notifications from this page.")
        confirm_delete(self.dialogs, question=f"Remove {r.address}?", consequence=consequence,
                       button="Remove subscriber",
                       delete=lambda: subscriber_service.remove_subscriber(self.actor, r.id),
                       done="Subscriber removed", then=self.reload)

    async def export(self) -> None:
        try:
            text = await subscriber_service.export_csv(self.actor, page_id=self.page_id or None)
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            return
        # bytes: NiceGUI's simulated user would take a str for an address to fetch
        ui.download.content(text.encode("utf-8"), "subscribers.csv", "text/csv")
        notify_done("Subscribers exported")

    # --- the mail server ----------------------------------------------------------------------------------------
    @ui.refreshable_method
    def mail_section(self) -> None:
        values = {**MAIL_DEFAULTS, **(self.mail or {})}
        self.mail_form = Form()
        self.mail_inputs = {}
        with ui.card().classes(CARD).mark("mail"):
            ui.label("Subscriber mail").classes(HEADING)
            ui.label(MAIL_NOTE).classes(MUTED)
            if self.mail is None:
                ui.label("No mail server set: the public form offers no e-mail subscription.") \
                    .classes("text-sm text-amber-900").mark("mail-unset")
            with ui.element("div").classes("w-full grid grid-cols-1 md:grid-cols-2 gap-x-4 gap-y-3"):
                self._mail_input("host", ui.input("SMTP host *", value=str(values["host"] or "")))
                self._mail_input("port", ui.number("Port", value=values["port"], step=1, format="%d")
                                 .props('hint="587 for STARTTLS, 465 for TLS."'))
                self._mail_input("security", ui.select(SECURITY, label="Security",
                                                       value=values["security"] if values["security"] in SECURITY
                                                       else "starttls"))
                self._mail_input("from_address", ui.input("From address *", value=str(values["from_address"] or ""))
                                 .props('hint="The sender subscribers see, e.g. status@example.com."'))
                self._mail_input("username", ui.input("Username (optional)", value=str(values["username"] or "")))
                self._mail_input("password", ui.input("Password (optional)", value=str(values["password"] or ""),
                                                      password=True, password_toggle_button=True)
                                 .props('autocomplete="new-password"'))
            self.verify_tls = ui.switch("Verify the server's TLS certificate", value=bool(values["verify_tls"])) \
                .mark("mail-verify_tls")
            with ui.row().classes("w-full justify-end gap-2"):
                if self.mail is not None:
                    ui.button("Remove mail server", icon="delete", on_click=self.confirm_remove_mail) \
                        .props("flat no-caps color=negative").mark("mail-remove")
                self.mail_form.submits(ui.button("Save mail server", icon="check", on_click=self.save_mail)
                                       .props("unelevated no-caps").mark("mail-save"))

    def _mail_input(self, key: str, element: ui.element) -> None:
        element.props(INPUT).classes("w-full").mark(f"mail-{key}")
        self.mail_inputs[key] = element
        self.mail_form.field(f"config.{key}", element, no_check)  # type: ignore[arg-type]

    def mail_values(self) -> dict[str, Any]:
        def value(key: str) -> Any:
            return self.mail_inputs[key].value  # type: ignore[attr-defined]

        port = value("port")
        return {"host": str(value("host") or "").strip(),
                "port": int(port) if isinstance(port, float) and port.is_integer() else port,
                "security": value("security") or "starttls",
                "username": str(value("username") or "").strip(),
                "password": str(value("password") or ""),
                "from_address": str(value("from_address") or "").strip(),
                "verify_tls": bool(self.verify_tls.value)}

    async def save_mail(self) -> None:
        try:
            await subscriber_service.set_mail_settings(self.actor, self.mail_values())
        except Invalid as exc:
            errors: dict[str, str] = {}
            for key, text in exc.errors.items():
                errors.setdefault(MAIL_ERROR_FIELD.get(key, key), text)
            self.mail_form.show(Invalid(errors))
            return
        except ServiceError as exc:
            self.mail_form.show(exc)
            return
        notify_done("Mail server saved")
        await self._reload_mail()

    def confirm_remove_mail(self) -> None:
        confirm_delete(self.dialogs, question="Remove the mail server?",
                       consequence="E-mail subscribers get no mail until a server is set again, and the public "
                                   "form stops offering e-mail subscriptions.", button="Remove the server",
                       delete=lambda: subscriber_service.set_mail_settings(self.actor, None),
                       done="Mail server removed", then=self._reload_mail)

    async def _reload_mail(self) -> None:
        self.mail = await subscriber_service.public_mail_settings(self.actor)
        self.mail_section.refresh()


@ui.page(HOME)
async def subscribers(request: Request) -> None:
    signed = await _signed_in(request)
    if signed is None:
        return
    user, actor = signed
    if (refused := refusal(actor, ACTION)) is not None:
        with admin_frame("Subscribers", user):
            ui.label("Subscribers").classes("text-2xl font-semibold")
            ui.label(f"You cannot manage subscribers: {refused}.").classes("text-negative").props('role="alert"')
        return
    pages = {p.id: p.title for p in await page_service.list_pages(actor)}
    screen = SubscribersScreen(actor, pages)
    await screen.load()
    screen.mail = await subscriber_service.public_mail_settings(actor)
    with admin_frame("Subscribers", user):
        screen.build()


# --- /admin/preview/{slug}/subscribe: a private page's form, for signed-in staff --------------------------------------

async def _staff_and_page(slug: str) -> tuple[User, PageSnapshot, StatusPage] | None:
    """The signed-in staff member who may see the page ``slug``, its snapshot and row; None for anyone else (the
    preview's checks, pages/admin/page_editor.py)."""
    from pages import session

    snapshot = store.by_slug(slug)
    if snapshot is None:
        return None
    user = await session.current_user()
    if user is None or not allowed(Role(user.role), "page.view_private"):
        return None
    if not await scope.page_in_scope(Actor.for_user(user), snapshot.page.id):
        return None
    page = await StatusPage.get_or_none(id=snapshot.page.id)
    return None if page is None else (user, snapshot, page)


def _form_page(snapshot: PageSnapshot, context: dict[str, Any], status: int = 200, **extra: Any) -> Response:
    return HTMLResponse(html.subscribe_page(snapshot, view="form", heading=FORM_HEADING, preview=True, **context,
                                            **extra), status_code=status, headers=PREVIEW_HEADERS)


@ui_app.get("/admin/preview/{slug}/subscribe", include_in_schema=False)
async def preview_subscribe_form(slug: str) -> Response:
    found = await _staff_and_page(slug)
    if found is None:
        return _not_found()
    user, snapshot, _ = found
    return _form_page(snapshot, await form_context(snapshot, preview=True), values={"email": user.email})


@ui_app.post("/admin/preview/{slug}/subscribe", include_in_schema=False)
async def preview_subscribe(request: Request, slug: str) -> Response:
    """Subscribe the signed-in user's own account address, whatever the form says: no confirmation mail is needed
    for an address the account has already proven."""
    found = await _staff_and_page(slug)
    if found is None:
        return _not_found()
    user, snapshot, page = found
    form = await request.form()
    chosen = form.getlist("components")
    try:
        await subscriber_service.subscribe(page, kind="email", address=user.email, component_ids=chosen, user=user)
    except Invalid as exc:
        values = {"email": user.email, "components": [int(c) for c in chosen if str(c).isdigit()]}
        return _form_page(snapshot, await form_context(snapshot, preview=True), 422, values=values, kind="email",
                          errors=exc.errors, problem="Please check the form.")
    return HTMLResponse(html.subscribe_page(
        snapshot, view="message", heading="You are subscribed", preview=True,
        message=f"{user.email} will get updates from {snapshot.page.title} while your account can see this page."),
        headers=PREVIEW_HEADERS)

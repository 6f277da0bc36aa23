"""/admin/teams: teams, their members and the status pages they look after; create, rename and delete teams, add
and remove members, assign pages. ADMIN and up (app/services/teams.py decides; this screen hides the rest)."""

from __future__ import annotations

from fastapi import Request
from nicegui import ui

from app import events
from app.auth import Actor
from app.services import pages as page_service
from app.services import teams as team_service
from app.services import users as user_service
from app.services.errors import ServiceError
from pages import session
from pages.admin.editing import (
    CARD,
    HEADING,
    INPUT,
    MUTED,
    SECTION,
    admin_frame,
    error_text,
    follow,
    fresh_dialog,
    refusal,
)
from pages.theme import clear_errors, notify_done, show_errors

NO_TEAM = 0


class TeamsScreen:
    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.teams: list[team_service.TeamView] = []
        self.people: dict[int, str] = {}
        self.pages: dict[int, str] = {}
        self.page_team: dict[int, int] = {}
        self.dialogs: ui.element | None = None  # outside what a refresh rebuilds

    async def load(self) -> None:
        self.teams = await team_service.list_teams()
        self.people = {a.id: a.email for a in await user_service.list_users()}
        pages = await page_service.list_pages()
        self.pages = {p.id: p.title for p in pages}
        self.page_team = {p.id: p.team_id or NO_TEAM for p in pages}  # type: ignore[attr-defined]

    async def reload(self, _event: events.Event | None = None) -> None:
        await self.load()
        self.listing.refresh()

    async def _act(self, done: str, call) -> bool:
        try:
            await call
        except ServiceError as exc:
            ui.notify(error_text(exc), type="negative")
            await self.reload()
            return False
        notify_done(done)
        await self.reload()
        return True

    def create_form(self) -> None:
        with ui.card().classes(CARD):
            ui.label("New team").classes(HEADING)
            with ui.row().classes("w-full items-start gap-3"):
                name = ui.input("Team name", placeholder="e.g. Platform").props(INPUT).classes("grow") \
                    .mark("team-name")
                fields = {"name": name}

                async def create() -> None:
                    clear_errors(fields)
                    try:
                        team = await team_service.create_team(self.actor, name.value or "")
                    except ServiceError as exc:
                        show_errors(exc, fields)
                        return
                    name.set_value("")
                    notify_done(f"Team '{team.name}' created")
                    await self.reload()

                ui.button("Create team", icon="group_add", on_click=create).props("unelevated no-caps")
                name.on("keydown.enter", create)

    @ui.refreshable_method
    def listing(self) -> None:
        if not self.teams:
            ui.label("No teams yet.").classes(MUTED)
        for team in self.teams:
            self._team(team)
        self._pages()

    def _team(self, team: team_service.TeamView) -> None:
        with ui.card().classes(CARD).mark(f"team-{team.id}"):
            with ui.row().classes("w-full items-center justify-between gap-2"):
                ui.label(team.name).classes(HEADING)
                with ui.row().classes("gap-1"):
                    ui.button("Rename", on_click=lambda t=team: self.ask_name(t)) \
                        .props("flat dense no-caps").mark(f"rename-{team.id}")
                    ui.button("Delete", on_click=lambda t=team: self.confirm_delete(t)) \
                        .props("flat dense no-caps color=negative").mark(f"delete-team-{team.id}")
            ui.label("Members").classes(SECTION)
            if not team.members:
                ui.label("Nobody yet.").classes(MUTED)
            for member in team.members:
                with ui.row().classes("w-full items-center justify-between gap-2"):
                    ui.label(member.email).classes("text-sm break-all")
                    ui.button("Remove", on_click=lambda t=team, m=member: self._act(
                        f"{m.email} removed from {t.name}", team_service.remove_member(self.actor, t.id, m.id))) \
                        .props("flat dense no-caps").mark(f"remove-{team.id}-{member.id}")
            others = {uid: email for uid, email in self.people.items() if uid not in {m.id for m in team.members}}
            if others:
                with ui.row().classes("w-full items-center gap-2"):
                    chosen = ui.select(others, label="Add a person", with_input=True).props(INPUT) \
                        .classes("grow min-w-[14rem]").mark(f"add-member-{team.id}")

                    async def add(t=team, select=chosen) -> None:
                        if select.value is None:
                            ui.notify("Choose a person first.", type="warning")
                            return
                        await self._act(f"{self.people[select.value]} added to {t.name}",
                                        team_service.add_member(self.actor, t.id, select.value))

                    ui.button("Add", on_click=add).props("unelevated dense no-caps").mark(f"add-{team.id}")
            ui.label("Status pages").classes(SECTION)
            ui.label(", ".join(p.title for p in team.pages) or "None yet: assign pages below.").classes("text-sm")

    def _pages(self) -> None:
        with ui.card().classes(CARD):
            ui.label("Which team looks after each page").classes(HEADING)
            if not self.pages:
                ui.label("There is no status page yet.").classes(MUTED)
            options = {NO_TEAM: "No team", **{t.id: t.name for t in self.teams}}
            for page_id, title in self.pages.items():
                with ui.row().classes("w-full items-center justify-between gap-2"):
                    ui.label(title).classes("text-sm font-medium")
                    ui.select(options, value=self.page_team.get(page_id, NO_TEAM),
                              on_change=lambda e, pid=page_id: self.assign(pid, e.value)) \
                        .props(f'{INPUT} options-dense aria-label="Team of {title}"').classes("w-56") \
                        .mark(f"page-team-{page_id}")

    async def assign(self, page_id: int, team_id: int) -> None:
        if self.page_team.get(page_id, NO_TEAM) == team_id:
            return
        await self._act(f"Team of {self.pages.get(page_id, 'the page')} changed",
                        team_service.assign_page(self.actor, page_id, team_id or None))

    def ask_name(self, team: team_service.TeamView) -> None:
        assert self.dialogs is not None
        with fresh_dialog(self.dialogs) as dialog, ui.card().classes("w-[28rem] max-w-full gap-3 p-5"):
            ui.label(f"Rename {team.name}").classes(HEADING)
            name = ui.input("Team name", value=team.name).props(INPUT).classes("w-full").mark("new-team-name")
            fields = {"name": name}

            async def rename() -> None:
                clear_errors(fields)
                try:
                    await team_service.rename_team(self.actor, team.id, name.value or "")
                except ServiceError as exc:
                    show_errors(exc, fields)
                    return
                dialog.close()
                notify_done("Team renamed")
                await self.reload()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Cancel", on_click=dialog.close).props("flat no-caps")
                ui.button("Save", on_click=rename).props("unelevated no-caps")
        dialog.open()

    def confirm_delete(self, team: team_service.TeamView) -> None:
        assert self.dialogs is not None
        with fresh_dialog(self.dialogs) as dialog, ui.card().classes("w-[28rem] max-w-full gap-3 p-5"):
            ui.label(f"Delete the team {team.name}?").classes(HEADING)
            ui.label("Its members keep their accounts; its pages belong to no team.").classes(MUTED)

            async def delete() -> None:
                if await self._act(f"Team '{team.name}' deleted", team_service.delete_team(self.actor, team.id)):
                    dialog.close()

            with ui.row().classes("w-full justify-end gap-2"):
                ui.button("Keep it", on_click=dialog.close).props("flat no-caps")
                ui.button("Delete team", on_click=delete).props("unelevated no-caps color=negative")
        dialog.open()


@ui.page("/admin/teams")
async def teams_page(request: Request) -> None:
    me = await session.require_user()
    if me is None:
        return
    actor = session.actor_for(me, request)
    with admin_frame("Teams", me):
        with ui.row().classes("w-full items-center justify-between gap-3"):
            ui.label("Teams").classes("text-2xl font-semibold")
            ui.link("People", "/admin/users").classes("text-sm")
        if (refused := refusal(actor, "team.manage")) is not None:
            ui.label(f"You cannot manage teams: {refused}").classes("text-negative").props('role="alert"')
            return
        screen = TeamsScreen(actor)
        await screen.load()
        screen.create_form()
        screen.listing()
        screen.dialogs = ui.element("div")
    follow([events.USER_CHANGED, events.PAGE_CREATED, events.PAGE_UPDATED, events.PAGE_DELETED], screen.reload)

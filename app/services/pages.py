"""Status pages: create, update, delete, look up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from app import events
from app.auth import Actor
from app.services.errors import Invalid, NotFound
from app.services.transaction import change, diff
from app.services.validation import collect, domain_problem, row_id, slug_problem, text_problem
from storage.models import StatusPage

EDITABLE = ("title", "slug", "description", "public", "active", "custom_domain", "time_zone", "theme",
            "brand_color", "footer_text")


def _fields(page: StatusPage) -> dict[str, Any]:
    return {name: getattr(page, name) for name in EDITABLE}


async def _validate(values: dict[str, Any], page_id: int | None = None) -> None:
    errors = collect(
        title=text_problem(values.get("title", ""), "title") if "title" in values else None,
        slug=slug_problem(values.get("slug", "")) if "slug" in values else None,
        custom_domain=domain_problem(values.get("custom_domain")),
    )
    for key, label in (("slug", "slug"), ("custom_domain", "domain")):
        if values.get(key) and key not in errors:
            clash = StatusPage.filter(**{key: values[key]})
            if page_id is not None:
                clash = clash.exclude(id=page_id)
            if await clash.exists():
                errors[key] = f"The {label} '{values[key]}' is already used by another page."
    if errors:
        raise Invalid(errors)


def _unique_clash(exc: IntegrityError, values: dict[str, Any]) -> Invalid:
    """A concurrent writer won the race past _validate: report it as the same field error."""
    key = "custom_domain" if "custom_domain" in str(exc) else "slug"
    return Invalid({key: f"'{values.get(key)}' is already used by another page."})


async def create_page(actor: Actor, *, title: str, slug: str, description: str = "", public: bool = True,
                      active: bool = True) -> StatusPage:
    title, slug = (title or "").strip(), (slug or "").strip()
    values = {"title": title, "slug": slug, "description": description, "public": public, "active": active}
    async with change(actor, "page.create") as ch:
        await _validate(values)
        is_default = not await StatusPage.filter(is_default=True).using_db(ch.conn).exists()
        try:
            page = await StatusPage.create(using_db=ch.conn, is_default=is_default, **values)
        except IntegrityError as exc:
            raise _unique_clash(exc, values) from exc
        await ch.audit("page.create", "page", page.id, diff({}, values))
        ch.emit(events.PAGE_CREATED, {"page_id": page.id, "slug": page.slug}, {page.id})
    return page


async def update_page(actor: Actor, page_id: int, **values: Any) -> StatusPage:
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise Invalid({name: "This field cannot be changed." for name in sorted(unknown)})
    for key in ("title", "slug"):
        if key in values:
            values[key] = (values[key] or "").strip()
    if "custom_domain" in values:
        values["custom_domain"] = (values["custom_domain"] or "").strip().lower().rstrip(".") or None
    async with change(actor, "page.update") as ch:
        page = await get_page(page_id)
        await _validate(values, page_id)
        changes = diff(_fields(page), values)
        if changes:
            # a queryset update skips auto_now: set updated_at so pages and APIs show when it changed
            try:
                await StatusPage.filter(id=page_id).using_db(ch.conn).update(**values, updated_at=datetime.now(UTC))
            except IntegrityError as exc:
                raise _unique_clash(exc, values) from exc
            await ch.audit("page.update", "page", page_id, changes)
            ch.emit(events.PAGE_UPDATED, {"page_id": page_id, "changes": changes}, {page_id})
    return await get_page(page_id)


async def delete_page(actor: Actor, page_id: int) -> None:
    async with change(actor, "page.delete") as ch:
        page = await get_page(page_id)
        await StatusPage.filter(id=page_id).using_db(ch.conn).delete()
        await ch.audit("page.delete", "page", page_id, diff(_fields(page), dict.fromkeys(EDITABLE)), severity="warning")
        ch.emit(events.PAGE_DELETED, {"page_id": page_id, "slug": page.slug}, {page_id})


async def get_page(page_id: int) -> StatusPage:
    page = await StatusPage.filter(id=page_id).first()
    if page is None:
        raise NotFound(f"No status page with id {page_id}.")
    return page


async def find_page(ref: str | int) -> StatusPage:
    """A page by id or slug (the API accepts either)."""
    page = None
    if (page_id := row_id(ref)) is not None:
        page = await StatusPage.filter(id=page_id).first()
    slug = str(ref).strip()
    if page is None and slug and slug_problem(slug) is None:
        page = await StatusPage.filter(slug=slug).first()
    if page is None:
        raise NotFound(f"No status page '{ref}'.")
    return page


async def list_pages() -> list[StatusPage]:
    return await StatusPage.all().order_by("id")


async def default_page() -> StatusPage | None:
    return (await StatusPage.filter(is_default=True).first()) or (await StatusPage.all().order_by("id").first())

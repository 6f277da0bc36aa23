"""Status pages: create, update, activate, brand images, delete, look up."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from tortoise.exceptions import IntegrityError

from app import config, events
from app.auth import Actor, scope
from app.services.errors import Invalid, NotFound
from app.services.transaction import authorize, change, diff
from app.services.validation import collect, domain_problem, row_id, slug_problem, text_problem
from storage.models import StatusPage

EDITABLE = ("title", "slug", "description", "public", "active", "custom_domain", "time_zone", "theme",
            "brand_color", "footer_text", "header_color", "uptime_days", "show_response_times",
            "incident_history_days")

THEMES = {"auto": "Follow the visitor", "light": "Light", "dark": "Dark"}
UPTIME_WINDOWS = (30, 60, 90)
INCIDENT_HISTORY_DAYS = range(1, 366)
DESCRIPTION_MAX = 1000
FOOTER_MAX = 1000
_COLOR = re.compile(r"^#(?:[0-9a-f]{3}|[0-9a-f]{6})$")


@cache
def time_zones() -> frozenset[str]:
    """Every IANA zone name this system knows (read once: it walks the tz database)."""
    return frozenset(available_timezones())


# --- pure input rules, also used by the page editor to show a message as soon as a field is left -----------

def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():  # ui.number hands over floats
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def normalise(name: str, value: Any) -> Any:
    """The value as it is stored: trimmed text, lowercase colours and domains, whole numbers, None for unset.
    Values of the wrong type pass through unchanged for ``setting_problem`` to refuse."""
    if name in ("uptime_days", "incident_history_days"):
        number = _whole_number(value)
        return value if number is None else number
    if value is None and name in ("title", "slug", "description", "footer_text", "time_zone", "theme",
                                  "brand_color"):
        return ""  # an emptied field: the required ones are then refused with their usual message
    if not isinstance(value, str):
        return value
    if name in ("title", "slug", "time_zone", "theme"):
        return value.strip()
    if name == "custom_domain":
        return value.strip().lower().rstrip(".") or None
    if name in ("brand_color", "header_color"):
        text = value.strip().lower()
        return None if name == "header_color" and not text else text
    return value


def setting_problem(name: str, value: Any) -> str | None:
    """What is wrong with one page setting, normalised first, or None. The page editor calls it when a field is
    left; uniqueness of slug and custom domain needs the database and is checked when saving."""
    value = normalise(name, value)
    if name in ("public", "active", "show_response_times"):
        return None if isinstance(value, bool) else "Choose on or off."
    if name == "uptime_days":
        return None if value in UPTIME_WINDOWS and _whole_number(value) is not None else \
            "Show 30, 60 or 90 days of uptime."
    if name == "incident_history_days":
        return None if _whole_number(value) in INCIDENT_HISTORY_DAYS else \
            "Keep between 1 and 365 days of incident history."
    if not isinstance(value, str | None):
        return "Enter text."
    match name:
        case "title":
            return text_problem(value or "", "title")
        case "slug":
            return slug_problem(value or "")
        case "description":
            return text_problem(value or "", "description", required=False, max_length=DESCRIPTION_MAX)
        case "footer_text":
            return text_problem(value or "", "footer text", required=False, max_length=FOOTER_MAX)
        case "custom_domain":
            return domain_problem(value)
        case "time_zone":
            return None if value in time_zones() else "Choose a time zone from the list, such as Europe/Berlin or UTC."
        case "theme":
            return None if value in THEMES else "Choose light, dark or auto (follow the visitor's setting)."
        case "brand_color" | "header_color":
            if value is None and name == "header_color":
                return None
            return None if _COLOR.match(value or "") else "Use a colour such as #2563eb or #26e."
    return None


def _fields(page: StatusPage) -> dict[str, Any]:
    return {name: getattr(page, name) for name in EDITABLE}


async def _validate(values: dict[str, Any], page_id: int | None = None) -> None:
    errors = collect(**{name: setting_problem(name, value) for name, value in values.items()})
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
    values = {"title": title or "", "slug": slug or "", "description": description, "public": public,
              "active": active}
    values = {name: normalise(name, value) for name, value in values.items()}
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
    values = {name: normalise(name, value) for name, value in values.items()}
    async with change(actor, "page.update") as ch:
        page = await get_page(page_id, actor=actor, conn=ch.conn)
        await _validate(values, page_id)
        changes = diff(_fields(page), values)
        if changes:
            await _write(ch, page_id, values, "page.update", changes)
    return await get_page(page_id)


async def _write(ch: Any, page_id: int, values: dict[str, Any], action: str, changes: dict[str, Any]) -> None:
    # a queryset update skips auto_now: set updated_at so pages and APIs show when it changed
    try:
        await StatusPage.filter(id=page_id).using_db(ch.conn).update(**values, updated_at=datetime.now(UTC))
    except IntegrityError as exc:
        raise _unique_clash(exc, values) from exc
    await ch.audit(action, "page", page_id, changes)
    ch.emit(events.PAGE_UPDATED, {"page_id": page_id, "changes": changes}, {page_id})


async def activate(actor: Actor, page_id: int) -> StatusPage:
    """Publish a draft: from now on visitors see it (if it is public). Activating an active page changes nothing."""
    async with change(actor, "page.update") as ch:
        page = await get_page(page_id, actor=actor, conn=ch.conn)
        if not page.active:
            await _write(ch, page_id, {"active": True}, "page.activate", diff({"active": False}, {"active": True}))
    return await get_page(page_id)


# --- brand images ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ImageType:
    extension: str
    media_type: str
    label: str


IMAGE_TYPES = {
    "png": ImageType("png", "image/png", "PNG"),
    "jpg": ImageType("jpg", "image/jpeg", "JPEG"),
    "gif": ImageType("gif", "image/gif", "GIF"),
    "webp": ImageType("webp", "image/webp", "WebP"),
    "ico": ImageType("ico", "image/x-icon", "ICO"),
}
IMAGE_KINDS = {"logo": 512 * 1024, "favicon": 128 * 1024}  # largest accepted file, in bytes
ACCEPTED_IMAGES = "PNG, JPEG, GIF, WebP or ICO"
_UPLOAD_NAME = re.compile(r"^[0-9a-f]{32}\.(png|jpg|gif|webp|ico)$")


def sniff_image(data: bytes) -> ImageType | None:
    """The image type by its first bytes, never by the file name or the browser's claim."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return IMAGE_TYPES["png"]
    if data.startswith(b"\xff\xd8\xff"):
        return IMAGE_TYPES["jpg"]
    if data.startswith((b"GIF87a", b"GIF89a")):
        return IMAGE_TYPES["gif"]
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return IMAGE_TYPES["webp"]
    if len(data) >= 6 and data.startswith(b"\x00\x00\x01\x00") and data[4:6] != b"\x00\x00":
        return IMAGE_TYPES["ico"]
    return None


def size_problem(kind: str, size: int) -> str | None:
    limit = IMAGE_KINDS[kind]
    if size == 0:
        return "The file is empty."
    if size > limit:
        return f"The {kind} can be at most {limit // 1024} KiB; this file is {-(-size // 1024)} KiB."
    return None


def image_problem(kind: str, data: bytes) -> str | None:
    """What is wrong with ``data`` as the page's ``kind`` ("logo" or "favicon"), or None."""
    if kind not in IMAGE_KINDS:
        return "Choose logo or favicon."
    if problem := size_problem(kind, len(data)):
        return problem
    if sniff_image(data) is None:
        head = data[:1024].lstrip().lower()
        if head.startswith(b"<?xml") or b"<svg" in head:
            # an SVG served from our origin can run script in the visitor's browser
            return f"SVG images are not accepted because they can carry scripts; upload a {ACCEPTED_IMAGES} file."
        return f"This file is not an image Beacon accepts; upload a {ACCEPTED_IMAGES} file."
    return None


def uploads_dir() -> Path:
    return config.current().data_dir / "uploads"


def upload_path(name: str) -> Path | None:
    """Where a stored upload lives, or None when ``name`` is not one Beacon would have given a file."""
    return uploads_dir() / name if _UPLOAD_NAME.match(name) else None


def media_type(name: str) -> str:
    return IMAGE_TYPES[name.rsplit(".", 1)[-1]].media_type


def _store_file(data: bytes, name: str) -> None:
    folder = uploads_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if target.exists():  # content-addressed: the same bytes are already there
        return
    # write under a temporary name and rename, so that a reader never sees half a file
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


async def set_page_image(actor: Actor, page_id: int, kind: str, filename: str, data: bytes) -> StatusPage:
    """Store ``data`` as the page's logo or favicon. The file is written (content-addressed, so writing it twice
    is harmless) before the transaction that records its name: a page never names a missing file. Files are not
    deleted when replaced: another page may show the same bytes, and an unused file costs only its size."""
    authorize(actor, "page.update")  # before anything touches the disk
    if problem := image_problem(kind, data):
        raise Invalid({kind if kind in IMAGE_KINDS else "kind": problem})
    await get_page(page_id, actor=actor)
    name = f"{hashlib.sha256(data).hexdigest()[:32]}.{sniff_image(data).extension}"
    await asyncio.to_thread(_store_file, data, name)
    return await _set_image_name(actor, page_id, kind, name, filename)


async def clear_page_image(actor: Actor, page_id: int, kind: str) -> StatusPage:
    if kind not in IMAGE_KINDS:
        raise Invalid({"kind": "Choose logo or favicon."})
    return await _set_image_name(actor, page_id, kind, None, None)


async def _set_image_name(actor: Actor, page_id: int, kind: str, name: str | None, filename: str | None
                          ) -> StatusPage:
    field = f"{kind}_file"
    async with change(actor, "page.update") as ch:
        page = await get_page(page_id, actor=actor, conn=ch.conn)
        changes = diff({field: getattr(page, field)}, {field: name})
        if changes:
            if filename:  # what the person uploaded, for the audit trail
                changes[field]["uploaded"] = filename[:200]
            await _write(ch, page_id, {field: name}, "page.update", changes)
    return await get_page(page_id)


async def delete_page(actor: Actor, page_id: int) -> None:
    async with change(actor, "page.delete") as ch:
        page = await get_page(page_id, actor=actor, conn=ch.conn)
        await StatusPage.filter(id=page_id).using_db(ch.conn).delete()
        await ch.audit("page.delete", "page", page_id, diff(_fields(page), dict.fromkeys(EDITABLE)), severity="warning")
        ch.emit(events.PAGE_DELETED, {"page_id": page_id, "slug": page.slug}, {page_id})


def _scoped(actor: Actor | None) -> Any:
    """Pages the actor may see (every page without an actor: internal callers and public routes)."""
    return StatusPage.all() if scope.sees_everything(actor) else StatusPage.filter(scope.page_q(actor))  # type: ignore[arg-type]


async def get_page(page_id: int, *, actor: Actor | None = None, conn: Any = None) -> StatusPage:
    """The page with this id; NotFound if there is none or, given an ``actor``, if it is outside their teams."""
    page = await _scoped(actor).filter(id=page_id).using_db(conn).first()
    if page is None:
        raise NotFound(f"No status page with id {page_id}.")
    return page


async def find_page(ref: str | int, *, actor: Actor | None = None) -> StatusPage:
    """A page by id or slug (the API accepts either); given an ``actor``, only among the pages in their scope."""
    page = None
    if (page_id := row_id(ref)) is not None:
        page = await _scoped(actor).filter(id=page_id).first()
    slug = str(ref).strip()
    if page is None and slug and slug_problem(slug) is None:
        page = await _scoped(actor).filter(slug=slug).first()
    if page is None:
        raise NotFound(f"No status page '{ref}'.")
    return page


async def page_field(conn: Any, ref: Any, actor: Actor | None = None) -> StatusPage:
    """The page an input field names by id or slug, inside ``conn``'s transaction; Invalid({"page": ...}) if none
    (or, given an ``actor``, none in their scope)."""
    page = None
    if (page_id := row_id(ref)) is not None:
        page = await _scoped(actor).filter(id=page_id).using_db(conn).first()
    if page is None and isinstance(ref, str) and ref.strip():
        page = await _scoped(actor).filter(slug=ref.strip()).using_db(conn).first()
    if page is None:
        raise Invalid({"page": f"No status page '{ref}'."})
    return page


async def list_pages(actor: Actor | None = None) -> list[StatusPage]:
    """Every page, or, given an ``actor``, the pages in their scope (app/auth/scope.py)."""
    return await _scoped(actor).order_by("id")


async def default_page() -> StatusPage | None:
    return (await StatusPage.filter(is_default=True).first()) or (await StatusPage.all().order_by("id").first())

"""A page's logo and favicon, cookie-free and cacheable for a year: the file name is the hash of its bytes, so a
new image is a new address and a cached one never goes stale."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from app.api.public import _not_found
from app.services.pages import media_type, upload_path
from app.snapshot import store

router = APIRouter()

IMMUTABLE = "public, max-age=31536000, immutable"


def asset_response(name: str, cache_control: str = IMMUTABLE) -> Response:
    """The stored upload ``name`` with its type from the name Beacon gave it (checked by its bytes on upload)."""
    path = upload_path(name)
    if path is None or not path.is_file():
        return _not_found()
    return FileResponse(path, media_type=media_type(name), headers={
        "Cache-Control": cache_control,
        # never let a browser guess another type (an image must not be run as HTML or script)
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    })


@router.get("/status/{slug}/assets/{name}", include_in_schema=False)
async def page_asset(slug: str, name: str) -> Response:
    snapshot = store.by_slug(slug)
    # only the page's current images, only while anyone may see the page: a private page's logo must not leak
    if snapshot is None or not snapshot.visible or name not in {snapshot.page.logo_file, snapshot.page.favicon_file}:
        return _not_found()
    return asset_response(name)

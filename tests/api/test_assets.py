"""A page's logo and favicon on the public, cookie-free asset route, and how the status page refers to them.

Tested on a FastAPI app built from the routers (PITFALLS.md); the runtime is started by ``beacon_sqlite``.
"""

from __future__ import annotations

import httpx
import pytest

from app.auth import Actor
from app.services import pages
from tests.conftest import settle
from tests.images import ICO_HEAD, png

SYSTEM = Actor.system("test")
LOGO = png(40, 20, (200, 30, 30))


async def _branded(slug: str = "acme", **options):
    page = await pages.create_page(SYSTEM, title="Acme Cloud", slug=slug, **options)
    page = await pages.set_page_image(SYSTEM, page.id, "logo", "logo.png", LOGO)
    page = await pages.set_page_image(SYSTEM, page.id, "favicon", "favicon.ico", ICO_HEAD)
    await settle()
    return page


async def test_a_visible_pages_logo_is_served_cacheable_for_a_year_with_its_type(client: httpx.AsyncClient):
    page = await _branded()

    logo = await client.get(f"/status/acme/assets/{page.logo_file}")
    favicon = await client.get(f"/status/acme/assets/{page.favicon_file}")

    assert logo.status_code == 200
    assert logo.content == LOGO
    assert logo.headers["content-type"] == "image/png"
    assert logo.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert logo.headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in logo.headers
    assert favicon.status_code == 200
    assert favicon.headers["content-type"] == "image/x-icon"


async def test_the_status_page_shows_the_logo_named_after_the_page_and_the_favicon(client: httpx.AsyncClient):
    page = await _branded()

    body = (await client.get("/status/acme")).text

    assert f'<img class="logo" src="/status/acme/assets/{page.logo_file}" alt="Acme Cloud" height="48">' in body
    assert f'<link rel="icon" href="/status/acme/assets/{page.favicon_file}">' in body


@pytest.mark.parametrize("hidden", [{"public": False}, {"active": False}], ids=["private", "draft"])
async def test_a_hidden_pages_images_answer_404(client: httpx.AsyncClient, hidden):
    page = await _branded(**hidden)

    for name in (page.logo_file, page.favicon_file):
        response = await client.get(f"/status/acme/assets/{name}")
        assert response.status_code == 404
        assert response.content != LOGO


async def test_only_the_pages_current_images_are_served(client: httpx.AsyncClient):
    acme = await _branded()
    other = await pages.create_page(SYSTEM, title="Other", slug="other")
    other = await pages.set_page_image(SYSTEM, other.id, "logo", "o.png", png(rgb=(1, 1, 1)))
    old_logo = acme.logo_file
    await pages.set_page_image(SYSTEM, acme.id, "logo", "new.png", png(rgb=(9, 9, 9)))
    await settle()

    assert (await client.get(f"/status/acme/assets/{old_logo}")).status_code == 404  # replaced
    assert (await client.get(f"/status/acme/assets/{other.logo_file}")).status_code == 404  # another page's
    assert (await client.get("/status/acme/assets/0123456789abcdef0123456789abcdef.png")).status_code == 404
    assert (await client.get("/status/acme/assets/..%2F..%2Fbeacon.sqlite3")).status_code == 404
    assert (await client.get(f"/status/nobody/assets/{old_logo}")).status_code == 404


async def test_an_image_file_gone_from_disk_is_a_404_not_an_error(client: httpx.AsyncClient, beacon_sqlite):
    page = await _branded()
    (beacon_sqlite.data_dir / "uploads" / page.logo_file).unlink()

    response = await client.get(f"/status/acme/assets/{page.logo_file}")

    assert response.status_code == 404

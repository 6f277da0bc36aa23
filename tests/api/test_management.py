"""The management API (/api/v1) as a script with an API key uses it: JSON in, JSON or problem+json out.

Tested on a FastAPI app built here from the routers (PITFALLS.md); the runtime is started by ``beacon_sqlite``.
"""

from __future__ import annotations

from storage.models import AuditEntryRow, Component, StatusPage
from tests.api.management_client import PROBLEM, Api, create_acme, create_component, field_errors
from tests.conftest import settle

# --- pages ------------------------------------------------------------------------------------------------------

async def test_creating_a_page_answers_201_with_its_id_and_slug(api: Api):
    response = await api.post("/api/v1/pages", {"title": "Acme Cloud", "slug": "acme", "description": "Our cloud"})

    assert response.status_code == 201
    body = response.json()
    assert isinstance(body["id"], str) and body["id"].isdigit()
    assert body["slug"] == "acme" and body["title"] == "Acme Cloud" and body["description"] == "Our cloud"
    assert body["public"] is True and body["active"] is True
    assert body["url"].endswith("/status/acme")
    assert body["created_at"].endswith("+00:00")
    assert await StatusPage.filter(slug="acme").exists()


async def test_a_page_can_be_read_back_by_id_or_slug_and_is_listed(api: Api):
    created = await create_acme(api)

    by_id = await api.get(f"/api/v1/pages/{created['id']}")
    by_slug = await api.get("/api/v1/pages/acme")
    listed = await api.get("/api/v1/pages")

    assert by_id.json() == by_slug.json() == created
    assert [p["slug"] for p in listed.json()] == ["acme"]


async def test_a_used_slug_is_refused_with_a_slug_error(api: Api):
    await create_acme(api)

    response = await api.post("/api/v1/pages", {"title": "Other", "slug": "acme"})

    assert "already used" in field_errors(response)["slug"]


async def test_a_slug_with_spaces_is_refused(api: Api):
    response = await api.post("/api/v1/pages", {"title": "Acme", "slug": "acme cloud"})

    assert "spaces" in field_errors(response)["slug"]
    assert not await StatusPage.exists()


async def test_missing_and_misspelt_fields_are_named(api: Api):
    response = await api.post("/api/v1/pages", {"slug": "acme", "titel": "Acme"})

    errors = field_errors(response)
    assert set(errors) == {"title", "titel"}


async def test_a_body_that_is_not_json_is_a_422_not_a_crash(api: Api):
    response = await api.http.post("/api/v1/pages", content=b"{nope", headers={
        **api.as_admin(), "content-type": "application/json"})

    assert field_errors(response) == {"body": "The body is not valid JSON."}


async def test_unknown_page_is_404(api: Api):
    answers = [await api.get(f"/api/v1/pages/{ref}") for ref in ("nope", "12345", "99999999999999999999", "%C2%B2")]

    assert [r.status_code for r in answers] == [404] * 4
    assert all(r.headers["content-type"] == PROBLEM for r in answers)


# --- components -------------------------------------------------------------------------------------------------

async def test_a_component_is_created_on_a_page_named_by_slug(api: Api):
    page = await create_acme(api)

    response = await api.post("/api/v1/components", {"name": "API", "pages": ["acme"], "status": "DEGRADED"})

    assert response.status_code == 201
    body = response.json()
    assert body["name"] == "API" and body["status"] == "DEGRADED"
    assert body["pages"] == [page["id"]]
    await settle()
    summary = (await api.get("/status/acme/api/v2/summary.json")).json()
    assert [(c["id"], c["status"]) for c in summary["components"]] == [(body["id"], "degraded_performance")]


async def test_a_component_is_created_on_a_page_named_by_id(api: Api):
    page = await create_acme(api)

    response = await api.post("/api/v1/components", {"name": "API", "pages": [int(page["id"])]})

    assert response.status_code == 201
    assert response.json()["pages"] == [page["id"]]


async def test_a_blank_component_name_is_refused(api: Api):
    await create_acme(api)

    response = await api.post("/api/v1/components", {"name": "   ", "pages": ["acme"]})

    assert "name" in field_errors(response)
    assert not await Component.exists()


async def test_an_unknown_status_value_is_refused(api: Api):
    await create_acme(api)

    response = await api.post("/api/v1/components", {"name": "API", "pages": ["acme"], "status": "BROKEN"})

    assert "MAJOR_OUTAGE" in field_errors(response)["status"]


async def test_an_unknown_page_is_a_field_error(api: Api):
    response = await api.post("/api/v1/components", {"name": "API", "pages": ["nope"]})

    assert "nope" in field_errors(response)["pages"]
    assert not await Component.exists()


async def test_a_javascript_link_is_refused(api: Api):
    await create_acme(api)

    response = await api.post("/api/v1/components", {"name": "API", "pages": ["acme"],
                                                      "link": "javascript:alert(1)"})

    assert field_errors(response)["link"] == "Use an http:// or https:// address, or leave it empty."


async def test_patching_the_status_shows_on_the_public_summary(api: Api):
    await create_acme(api)
    component = await create_component(api)

    response = await api.patch(f"/api/v1/components/{component['id']}", {"status": "MAJOR_OUTAGE"})
    await settle()
    summary = (await api.get("/status/acme/api/v2/summary.json")).json()

    assert response.status_code == 200
    assert response.json()["status"] == "MAJOR_OUTAGE" and response.json()["name"] == "API"
    assert summary["status"]["indicator"] == "critical"
    assert summary["components"][0]["status"] == "major_outage"


async def test_statuspage_spellings_of_a_status_are_accepted(api: Api):
    await create_acme(api)
    component = await create_component(api)

    response = await api.patch(f"/api/v1/components/{component['id']}", {"status": "degraded_performance"})

    assert response.json()["status"] == "DEGRADED"


async def test_patching_with_a_bad_status_or_null_name_changes_nothing(api: Api):
    await create_acme(api)
    component = await create_component(api)

    bad_status = await api.patch(f"/api/v1/components/{component['id']}", {"status": "down"})
    null_name = await api.patch(f"/api/v1/components/{component['id']}", {"name": None})

    assert "status" in field_errors(bad_status)
    assert "name" in field_errors(null_name)
    assert (await api.get(f"/api/v1/components/{component['id']}")).json() == component


async def test_a_component_can_be_read_listed_and_deleted(api: Api):
    await create_acme(api)
    component = await create_component(api)

    read = await api.get(f"/api/v1/components/{component['id']}")
    listed = await api.get("/api/v1/components?page=acme")
    deleted = await api.http.delete(f"/api/v1/components/{component['id']}", headers=api.as_admin())
    after = await api.get(f"/api/v1/components/{component['id']}")

    assert read.json() == component
    assert [c["id"] for c in listed.json()] == [component["id"]]
    assert deleted.status_code == 204 and deleted.content == b""
    assert after.status_code == 404


async def test_unknown_component_is_404(api: Api):
    answers = [
        await api.get("/api/v1/components/4242"),
        await api.patch("/api/v1/components/4242", {"status": "DEGRADED"}),
        await api.http.delete("/api/v1/components/4242", headers=api.as_admin()),
        await api.get("/api/v1/components/not-a-number"),
        await api.get("/api/v1/components/99999999999999999999"),
    ]

    assert [r.status_code for r in answers] == [404] * len(answers)
    assert all(r.headers["content-type"] == PROBLEM for r in answers)


# --- keys and roles ---------------------------------------------------------------------------------------------

async def test_without_a_key_the_api_answers_401(api: Api):
    response = await api.get("/api/v1/pages", headers={})

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_wrong_key_answers_401_and_writes_nothing(api: Api):
    response = await api.post("/api/v1/pages", {"title": "Acme", "slug": "acme"},
                              headers={"Authorization": "Bearer bk_not-a-real-key"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert not await StatusPage.exists()


async def test_the_up_style_auth_header_works(api: Api):
    response = await api.post("/api/v1/pages", {"title": "Acme", "slug": "acme"}, headers={"Auth": api.admin_key})

    assert response.status_code == 201


async def test_a_read_only_key_may_read_but_not_write(api: Api):
    await create_acme(api)
    component = await create_component(api)

    listed = await api.get("/api/v1/pages", headers=api.as_reader())
    new_page = await api.post("/api/v1/pages", {"title": "Other", "slug": "other"}, headers=api.as_reader())
    new_component = await api.post("/api/v1/components", {"name": "DB", "pages": ["acme"]}, headers=api.as_reader())
    status = await api.patch(f"/api/v1/components/{component['id']}", {"status": "MAJOR_OUTAGE"},
                             headers=api.as_reader())

    assert listed.status_code == 200
    assert [r.status_code for r in (new_page, new_component, status)] == [403, 403, 403]
    assert new_page.headers["content-type"] == PROBLEM
    assert await StatusPage.all().values_list("slug", flat=True) == ["acme"]
    assert await Component.all().values_list("name", "status") == [("API", "OPERATIONAL")]


async def test_a_page_created_through_the_api_is_audited_as_the_key(api: Api):
    page = await create_acme(api)

    entry = await AuditEntryRow.filter(action="page.create", entity_id=page["id"]).first()

    assert entry is not None
    assert entry.actor_type == "apikey"
    assert "deploy bot" in entry.actor_label
    assert entry.ip == "127.0.0.1" and entry.user_agent.startswith("python-httpx")


# --- documentation ----------------------------------------------------------------------------------------------

async def test_openapi_lists_the_paths_without_a_key(api: Api):
    response = await api.http.get("/api/v1/openapi.json")

    assert response.status_code == 200
    schema = response.json()
    assert {"/api/v1/pages", "/api/v1/pages/{page}", "/api/v1/components",
            "/api/v1/components/{component_id}"} <= set(schema["paths"])
    assert set(schema["paths"]["/api/v1/components/{component_id}"]) == {"get", "patch", "delete"}
    assert {"bearer", "auth_header"} <= set(schema["components"]["securitySchemes"])


async def test_the_docs_page_points_at_the_schema(api: Api):
    response = await api.http.get("/api/v1/docs")

    assert response.status_code == 200
    assert "/api/v1/openapi.json" in response.text


async def test_a_wrong_method_answers_problem_json_not_a_bare_detail(api: Api):
    response = await api.http.put("/api/v1/pages", json={})
    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["title"] == "Method Not Allowed"

"""A client of the management API with an admin and a read-only key, and the calls most tests start with."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

PROBLEM = "application/problem+json"


@dataclass
class Api:
    http: httpx.AsyncClient
    admin_key: str
    read_only_key: str

    def as_admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    def as_reader(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.read_only_key}"}

    async def post(self, path: str, body: dict, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=headers if headers is not None else self.as_admin())

    async def patch(self, path: str, body: dict, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.patch(path, json=body, headers=headers if headers is not None else self.as_admin())

    async def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.get(path, headers=headers if headers is not None else self.as_admin())


async def create_acme(api: Api) -> dict:
    response = await api.post("/api/v1/pages", {"title": "Acme Cloud", "slug": "acme"})
    assert response.status_code == 201, response.text
    return response.json()


async def create_component(api: Api, **body) -> dict:
    response = await api.post("/api/v1/components", {"name": "API", "pages": ["acme"], **body})
    assert response.status_code == 201, response.text
    return response.json()


def field_errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    return response.json()["errors"]

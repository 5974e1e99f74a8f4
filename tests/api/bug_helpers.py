"""Small async factories for bug tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import auth_headers


async def make_project(client, admin, *members, key: str = "WEB") -> dict[str, Any]:
    r = await client.post(
        "/api/v1/projects", json={"key": key, "name": key.title()}, headers=auth_headers(admin)
    )
    assert r.status_code == 201, r.text
    project = r.json()
    for user in members:
        r = await client.put(
            f"/api/v1/projects/{project['id']}/members/{user.id}", headers=auth_headers(admin)
        )
        assert r.status_code in (200, 201)
    return project


async def make_bug(
    client, user, project: dict[str, Any] | str = "WEB", **fields: Any
) -> dict[str, Any]:
    ref = project if isinstance(project, str) else project["key"]
    body = {"title": fields.pop("title", "Something is broken"), **fields}
    r = await client.post(f"/api/v1/projects/{ref}/bugs", json=body, headers=auth_headers(user))
    assert r.status_code == 201, r.text
    return r.json()

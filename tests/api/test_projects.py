"""Projects and membership; non-members get 404, never 403."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.models import Project, ProjectMember
from tests.conftest import auth_headers

PROJECTS = "/api/v1/projects"


async def make_project(client, admin, key="WEB", name="Website"):
    r = await client.post(PROJECTS, json={"key": key, "name": name}, headers=auth_headers(admin))
    assert r.status_code == 201, r.text
    return r.json()


async def test_admin_creates_project_with_location(client, admin):
    r = await client.post(
        PROJECTS,
        json={"key": "API", "name": "Backend", "description": "The API"},
        headers=auth_headers(admin),
    )
    assert r.status_code == 201
    assert r.headers["Location"] == f"/api/v1/projects/{r.json()['id']}"
    assert r.headers["ETag"] == '"1"'


@pytest.mark.parametrize("key", ["a", "web", "W", "TOOLONGKEY1", "1AB", "WE B", "WÉB", "W-B"])
async def test_bad_project_keys_are_422(client, admin, db, key):
    r = await client.post(PROJECTS, json={"key": key, "name": "X"}, headers=auth_headers(admin))
    assert r.status_code == 422
    assert (await db.scalars(select(Project))).first() is None


async def test_duplicate_key_is_409(client, admin):
    await make_project(client, admin)
    r = await client.post(
        PROJECTS, json={"key": "WEB", "name": "Other"}, headers=auth_headers(admin)
    )
    assert r.status_code == 409
    assert r.json()["code"] == "project_key_taken"


async def test_non_members_get_404_and_do_not_see_it_listed(client, admin, developer):
    project = await make_project(client, admin)
    r = await client.get(f"{PROJECTS}/{project['id']}", headers=auth_headers(developer))
    assert r.status_code == 404
    assert r.json()["code"] == "project_not_found"
    listed = await client.get(PROJECTS, headers=auth_headers(developer))
    assert listed.json()["items"] == []


async def test_members_see_the_project_by_id_or_key(client, admin, developer):
    project = await make_project(client, admin)
    r = await client.put(
        f"{PROJECTS}/{project['id']}/members/{developer.id}", headers=auth_headers(admin)
    )
    assert r.status_code == 201
    for ref in (project["id"], "WEB", "web"):
        r = await client.get(f"{PROJECTS}/{ref}", headers=auth_headers(developer))
        assert r.status_code == 200
    listed = await client.get(PROJECTS, headers=auth_headers(developer))
    assert [p["key"] for p in listed.json()["items"]] == ["WEB"]


async def test_adding_a_member_twice_is_idempotent(client, admin, developer, db):
    project = await make_project(client, admin)
    url = f"{PROJECTS}/{project['id']}/members/{developer.id}"
    assert (await client.put(url, headers=auth_headers(admin))).status_code == 201
    assert (await client.put(url, headers=auth_headers(admin))).status_code == 200
    members = (await db.scalars(select(ProjectMember))).all()
    assert len(members) == 1


async def test_member_list_and_removal(client, admin, developer, tester):
    project = await make_project(client, admin)
    for user in (developer, tester):
        await client.put(
            f"{PROJECTS}/{project['id']}/members/{user.id}", headers=auth_headers(admin)
        )
    r = await client.get(f"{PROJECTS}/{project['id']}/members", headers=auth_headers(tester))
    assert sorted(m["user"]["id"] for m in r.json()["items"]) == sorted([developer.id, tester.id])
    r = await client.delete(
        f"{PROJECTS}/{project['id']}/members/{tester.id}", headers=auth_headers(admin)
    )
    assert r.status_code == 204
    assert (
        await client.get(f"{PROJECTS}/{project['id']}", headers=auth_headers(tester))
    ).status_code == 404
    r = await client.delete(
        f"{PROJECTS}/{project['id']}/members/{tester.id}", headers=auth_headers(admin)
    )
    assert r.status_code == 404


async def test_adding_unknown_user_is_404(client, admin):
    project = await make_project(client, admin)
    r = await client.put(f"{PROJECTS}/{project['id']}/members/424242", headers=auth_headers(admin))
    assert r.status_code == 404
    assert r.json()["code"] == "user_not_found"


async def test_update_with_if_match(client, admin, db):
    project = await make_project(client, admin)
    url = f"{PROJECTS}/{project['id']}"
    r = await client.patch(
        url, json={"name": "Web site"}, headers={**auth_headers(admin), "If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    r = await client.patch(
        url, json={"name": "Lost"}, headers={**auth_headers(admin), "If-Match": '"1"'}
    )
    assert r.status_code == 412
    assert (await db.get(Project, project["id"])).name == "Web site"


async def test_project_key_cannot_be_changed(client, admin):
    project = await make_project(client, admin)
    r = await client.patch(
        f"{PROJECTS}/{project['id']}", json={"key": "NEW"}, headers=auth_headers(admin)
    )
    assert r.status_code == 422


async def test_delete_project(client, admin, db):
    project = await make_project(client, admin)
    r = await client.delete(
        f"{PROJECTS}/{project['id']}", headers={**auth_headers(admin), "If-Match": '"9"'}
    )
    assert r.status_code == 412
    r = await client.delete(f"{PROJECTS}/{project['id']}", headers=auth_headers(admin))
    assert r.status_code == 204
    assert await db.get(Project, project["id"]) is None


async def test_project_pagination_sorted_by_name(client, admin):
    for key, name in (("AAA", "Zeta"), ("BBB", "Alpha"), ("CCC", "Mid")):
        await make_project(client, admin, key, name)
    r = await client.get(PROJECTS, params={"sort": "name", "limit": 2}, headers=auth_headers(admin))
    names = [p["name"] for p in r.json()["items"]]
    r2 = await client.get(
        PROJECTS,
        params={"sort": "name", "limit": 2, "cursor": r.json()["next_cursor"]},
        headers=auth_headers(admin),
    )
    assert names + [p["name"] for p in r2.json()["items"]] == ["Alpha", "Mid", "Zeta"]

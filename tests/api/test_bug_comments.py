"""Comments: Markdown kept verbatim, author or admin edits, edits and deletions in the history."""

from __future__ import annotations

import pytest

from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers


@pytest.fixture
async def bug(client, admin, developer, tester):
    await make_project(client, admin, developer, tester)
    return await make_bug(client, tester)


async def test_comment_round_trip(client, bug, developer):
    body = "Looks like `None` here:\n\n```py\nx = None\n```\n<script>alert(1)</script>"
    r = await client.post(
        f"/api/v1/bugs/{bug['key']}/comments", json={"body": body}, headers=auth_headers(developer)
    )
    assert r.status_code == 201
    assert r.json()["body"] == body  # stored verbatim; the SPA sanitises when rendering
    listed = (
        await client.get(f"/api/v1/bugs/{bug['id']}/comments", headers=auth_headers(developer))
    ).json()
    assert [c["author"]["id"] for c in listed["items"]] == [developer.id]


async def test_empty_comment_is_422(client, bug, developer):
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/comments", json={"body": "   "}, headers=auth_headers(developer)
    )
    assert r.status_code == 422


async def test_author_edits_and_the_edit_is_recorded(client, bug, developer):
    c = (
        await client.post(
            f"/api/v1/bugs/{bug['id']}/comments",
            json={"body": "v1"},
            headers=auth_headers(developer),
        )
    ).json()
    r = await client.patch(
        f"/api/v1/comments/{c['id']}", json={"body": "v2"}, headers=auth_headers(developer)
    )
    assert r.status_code == 200
    assert r.json()["body"] == "v2" and r.json()["edited_at"]
    history = (
        await client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=auth_headers(developer))
    ).json()["items"]
    assert {"field": f"comment:{c['id']}", "old": "v1", "new": "v2"}.items() <= history[-1].items()


async def test_others_cannot_edit_but_admin_can(client, bug, developer, tester, admin):
    c = (
        await client.post(
            f"/api/v1/bugs/{bug['id']}/comments",
            json={"body": "mine"},
            headers=auth_headers(developer),
        )
    ).json()
    r = await client.patch(
        f"/api/v1/comments/{c['id']}", json={"body": "hijack"}, headers=auth_headers(tester)
    )
    assert r.status_code == 403 and r.json()["code"] == "not_comment_author"
    r = await client.delete(f"/api/v1/comments/{c['id']}", headers=auth_headers(tester))
    assert r.status_code == 403
    r = await client.delete(f"/api/v1/comments/{c['id']}", headers=auth_headers(admin))
    assert r.status_code == 204
    assert (
        await client.patch(
            f"/api/v1/comments/{c['id']}", json={"body": "x"}, headers=auth_headers(admin)
        )
    ).status_code == 404


async def test_comment_of_invisible_bug_is_404(client, bug, developer, make_user):
    c = (
        await client.post(
            f"/api/v1/bugs/{bug['id']}/comments",
            json={"body": "x"},
            headers=auth_headers(developer),
        )
    ).json()
    outsider = await make_user()
    r = await client.patch(
        f"/api/v1/comments/{c['id']}", json={"body": "y"}, headers=auth_headers(outsider)
    )
    assert r.status_code == 404
    assert r.json()["code"] == "comment_not_found"


async def test_stale_comment_edit_is_412(client, bug, developer):
    c = (
        await client.post(
            f"/api/v1/bugs/{bug['id']}/comments",
            json={"body": "v1"},
            headers=auth_headers(developer),
        )
    ).json()
    h = {**auth_headers(developer), "If-Match": '"1"'}
    assert (
        await client.patch(f"/api/v1/comments/{c['id']}", json={"body": "v2"}, headers=h)
    ).status_code == 200
    assert (
        await client.patch(f"/api/v1/comments/{c['id']}", json={"body": "v3"}, headers=h)
    ).status_code == 412


async def test_a_comment_moves_updated_at_but_does_not_stale_an_open_edit(client, bug, tester):
    h = auth_headers(tester)
    before = await client.get(f"/api/v1/bugs/{bug['id']}", headers=h)
    r = await client.post(f"/api/v1/bugs/{bug['id']}/comments", json={"body": "+1"}, headers=h)
    assert r.status_code == 201
    after = (await client.get(f"/api/v1/bugs/{bug['id']}", headers=h)).json()
    assert after["updated_at"] > before.json()["updated_at"]  # lists sorted by activity see it
    assert after["version"] == before.json()["version"]
    # the edit form opened before the comment still saves
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}",
        json={"title": "Edited after a comment"},
        headers={**h, "If-Match": before.headers["etag"]},
    )
    assert r.status_code == 200, r.text

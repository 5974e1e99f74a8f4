"""Filing, reading, editing, assigning and deleting bugs."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from api.models import Bug, BugActivity, Role
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers


@pytest.fixture
async def project(client, admin, developer, tester):
    return await make_project(client, admin, developer, tester)


async def test_filing_a_bug_numbers_it_per_project(client, project, tester, admin):
    first = await make_bug(client, tester, project, labels=["UI", "ui ", "Safari"], priority="high")
    second = await make_bug(client, tester, project)
    other = await make_project(client, admin, tester, key="API")
    third = await make_bug(client, tester, other)
    assert (first["key"], second["key"], third["key"]) == ("WEB-1", "WEB-2", "API-1")
    assert first["labels"] == ["safari", "ui"]
    assert first["priority"] == "high" and first["status"] == "open"
    assert first["reporter"]["id"] == tester.id
    assert first["watching"] is True


async def test_bug_is_readable_by_id_and_any_case_key(client, project, tester):
    bug = await make_bug(client, tester, project)
    for ref in (bug["id"], "WEB-1", "web-1"):
        r = await client.get(f"/api/v1/bugs/{ref}", headers=auth_headers(tester))
        assert r.status_code == 200
        assert r.json()["id"] == bug["id"]
        assert r.headers["ETag"] == f'"{bug["version"]}"'


async def test_a_list_shows_each_bug_exactly_as_reading_it_does(
    client, project, tester, developer, admin
):
    """List pages are written without the BugRead model (for speed); a single read goes
    through it. Every kind of field, set and unset, must come out the same both ways."""
    original = await make_bug(client, tester, project)
    full = await make_bug(
        client,
        developer,
        project,
        labels=["ui", "safari"],
        priority="highest",
        severity="blocker",
        assignee_id=developer.id,
        repro_script="import sys\nsys.exit(1)",
        description="Unicode: Grüße, 日本語, emoji 🐛",
    )
    r = await client.post(
        f"/api/v1/bugs/{full['id']}/transitions",
        json={"to": "closed", "resolution": "duplicate", "duplicate_of": original["key"]},
        headers={**auth_headers(admin), "If-Match": f'"{full["version"]}"'},
    )
    assert r.status_code == 200, r.text
    for viewer in (tester, developer):
        listed = await client.get("/api/v1/projects/WEB/bugs", headers=auth_headers(viewer))
        assert listed.headers["content-type"] == "application/json"
        for item in listed.json()["items"]:
            read = await client.get(f"/api/v1/bugs/{item['id']}", headers=auth_headers(viewer))
            assert item == read.json()
    assert {i["key"]: i["duplicate_of"] for i in listed.json()["items"]}["WEB-2"] == "WEB-1"


@pytest.mark.parametrize("ref", ["WEB-99", "NOPE-1", "not a key", "99999"])
async def test_unknown_bug_refs_are_404(client, project, tester, ref):
    r = await client.get(f"/api/v1/bugs/{ref}", headers=auth_headers(tester))
    assert r.status_code == 404
    assert r.json()["code"] == "bug_not_found"


async def test_non_members_never_learn_a_bug_exists(client, project, tester, make_user):
    bug = await make_bug(client, tester, project, title="secret crash")
    outsider = await make_user()
    h = auth_headers(outsider)
    for ref in (bug["id"], bug["key"]):
        assert (await client.get(f"/api/v1/bugs/{ref}", headers=h)).status_code == 404
        assert (await client.get(f"/api/v1/bugs/{ref}/comments", headers=h)).status_code == 404
    assert (await client.get("/api/v1/bugs", headers=h)).json()["items"] == []
    assert (await client.get("/api/v1/bugs", params={"q": "secret"}, headers=h)).json()[
        "items"
    ] == []
    assert (await client.get("/api/v1/projects/WEB/bugs", headers=h)).status_code == 404
    r = await client.post("/api/v1/projects/WEB/bugs", json={"title": "x"}, headers=h)
    assert r.status_code == 404


def _without_instance(problem: dict) -> dict:
    return {k: v for k, v in problem.items() if k not in ("instance", "request_id")}


async def test_a_bug_of_another_project_reads_exactly_as_a_missing_one(
    client, project, tester, developer, admin, make_user
):
    bug = await make_bug(client, tester, project, title="secret crash")
    outsider = await make_user(Role.developer)
    for ref, missing in ((bug["key"], "WEB-999"), (str(bug["id"]), "999999")):
        hidden = await client.get(f"/api/v1/bugs/{ref}", headers=auth_headers(outsider))
        absent = await client.get(f"/api/v1/bugs/{missing}", headers=auth_headers(outsider))
        assert hidden.status_code == absent.status_code == 404
        assert hidden.headers["content-type"] == absent.headers["content-type"]
        assert hidden.headers["content-type"] == "application/problem+json"
        assert "etag" not in hidden.headers
        assert _without_instance(hidden.json()) == _without_instance(absent.json())
        # admins see every project's bugs without being members
        seen = await client.get(f"/api/v1/bugs/{ref}", headers=auth_headers(admin))
        assert seen.status_code == 200 and seen.json()["id"] == bug["id"]
    # membership is checked on every read: a member taken off the project no longer sees it
    assert (
        await client.get(f"/api/v1/bugs/{bug['key']}", headers=auth_headers(developer))
    ).status_code == 200
    r = await client.delete(
        f"/api/v1/projects/{project['id']}/members/{developer.id}", headers=auth_headers(admin)
    )
    assert r.status_code == 204, r.text
    gone = await client.get(f"/api/v1/bugs/{bug['key']}", headers=auth_headers(developer))
    assert gone.status_code == 404 and gone.json()["code"] == "bug_not_found"


async def test_a_project_list_checks_visibility_by_id_and_key(
    client, project, tester, admin, make_user
):
    await make_bug(client, tester, project, title="secret crash")
    outsider = await make_user(Role.developer)
    other = await make_project(client, admin, outsider, key="API")
    for ref in ("WEB", "web", str(project["id"])):
        hidden = await client.get(f"/api/v1/projects/{ref}/bugs", headers=auth_headers(outsider))
        assert hidden.status_code == 404 and hidden.json()["code"] == "project_not_found"
        seen = await client.get(f"/api/v1/projects/{ref}/bugs", headers=auth_headers(tester))
        assert [b["title"] for b in seen.json()["items"]] == ["secret crash"]
    # a visible project with nothing to show is an empty page, not a 404
    for ref in ("API", str(other["id"])):
        r = await client.get(f"/api/v1/projects/{ref}/bugs", headers=auth_headers(outsider))
        assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
    r = await client.get(
        "/api/v1/projects/WEB/bugs", params={"status": "closed"}, headers=auth_headers(tester)
    )
    assert r.status_code == 200 and r.json()["items"] == []
    assert (
        await client.get("/api/v1/projects/NOPE/bugs", headers=auth_headers(admin))
    ).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"title": ""},
        {"title": "x" * 301},
        {"title": "ok", "priority": "urgent"},
        {"title": "ok", "severity": "meh"},
        {"title": "ok", "labels": ["x" * 51]},
        {"title": "ok", "labels": [str(i) for i in range(21)]},
        {"title": "ok", "status": "closed"},
        {"title": "ok", "reporter_id": 1},
    ],
)
async def test_bad_bug_input_is_422_and_creates_nothing(client, project, tester, db, body):
    r = await client.post("/api/v1/projects/WEB/bugs", json=body, headers=auth_headers(tester))
    assert r.status_code == 422
    assert await db.scalar(select(func.count()).select_from(Bug)) == 0


async def test_only_project_developers_can_be_assignees(
    client, project, tester, developer, make_user, admin
):
    outsider_dev = await make_user(role="developer")
    for assignee in (tester.id, outsider_dev.id, admin.id, 424242):
        r = await client.post(
            "/api/v1/projects/WEB/bugs",
            json={"title": "x", "assignee_id": assignee},
            headers=auth_headers(developer),
        )
        assert r.status_code == 422
        assert r.json()["code"] == "invalid_assignee"
    bug = await make_bug(client, developer, project, assignee_id=developer.id)
    assert bug["assignee"] == {"id": developer.id, "full_name": developer.full_name}


async def test_reporter_edits_and_history_records_each_field(client, project, tester, db):
    bug = await make_bug(client, tester, project, title="Old", priority="low")
    r = await client.patch(
        f"/api/v1/bugs/{bug['key']}",
        json={"title": "New", "priority": "highest", "severity": "blocker"},
        headers={**auth_headers(tester), "If-Match": f'"{bug["version"]}"'},
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == bug["version"] + 1
    activity = (
        await client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=auth_headers(tester))
    ).json()["items"]
    changes = {a["field"]: (a["old"], a["new"]) for a in activity}
    assert changes["title"] == ("Old", "New")
    assert changes["priority"] == ("low", "highest")
    assert changes["severity"] == ("normal", "blocker")
    assert changes["created"] == (None, "WEB-1")
    assert all(a["actor"]["id"] == tester.id for a in activity)


async def test_stale_etag_edit_is_412_and_changes_nothing(client, project, tester, db):
    bug = await make_bug(client, tester, project, title="Original")
    h = {**auth_headers(tester), "If-Match": f'"{bug["version"]}"'}
    assert (
        await client.patch(f"/api/v1/bugs/{bug['id']}", json={"title": "First"}, headers=h)
    ).status_code == 200
    before = await db.scalar(select(func.count()).select_from(BugActivity))
    r = await client.patch(f"/api/v1/bugs/{bug['id']}", json={"title": "Second"}, headers=h)
    assert r.status_code == 412
    assert r.json()["code"] == "version_conflict"
    assert (await db.get(Bug, bug["id"])).title == "First"
    assert await db.scalar(select(func.count()).select_from(BugActivity)) == before


async def test_labels_can_be_added_and_removed_without_read_modify_write(client, project, tester):
    bug = await make_bug(client, tester, project, labels=["a", "b"])
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}",
        json={"add_labels": ["C"], "remove_labels": ["a"]},
        headers=auth_headers(tester),
    )
    assert r.json()["labels"] == ["b", "c"]
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}", json={"labels": ["z"]}, headers=auth_headers(tester)
    )
    assert r.json()["labels"] == ["z"]


async def test_adding_labels_cannot_pass_the_limit(client, project, tester, db):
    labels = [f"l{i}" for i in range(20)]
    bug = await make_bug(client, tester, project, labels=labels)
    url = f"/api/v1/bugs/{bug['id']}"
    r = await client.patch(url, json={"add_labels": ["one-more"]}, headers=auth_headers(tester))
    assert (r.status_code, r.json()["code"]) == (422, "too_many_labels"), r.text
    now = (await client.get(url, headers=auth_headers(tester))).json()
    assert sorted(now["labels"]) == sorted(labels) and now["version"] == bug["version"]
    r = await client.patch(  # swapping one keeps it at the limit: fine
        url, json={"add_labels": ["new"], "remove_labels": ["l0"]}, headers=auth_headers(tester)
    )
    assert r.status_code == 200 and len(r.json()["labels"]) == 20


@pytest.mark.parametrize(
    "edit",
    [
        {},
        {"title": "Same"},
        {"labels": ["b", "a"]},
        {"add_labels": ["A"]},
        {"remove_labels": ["x"]},
    ],
)
async def test_an_edit_that_changes_nothing_keeps_the_version(client, project, tester, edit):
    """Else every other client's If-Match would go stale for nothing (spurious 412s)."""
    bug = await make_bug(client, tester, project, title="Same", labels=["a", "b"])
    url = f"/api/v1/bugs/{bug['id']}"
    r = await client.patch(url, json=edit, headers=auth_headers(tester))
    assert r.status_code == 200, r.text
    assert r.json()["version"] == bug["version"]
    assert r.json()["updated_at"] == bug["updated_at"]
    assert r.headers["etag"] == f'"{bug["version"]}"'


async def test_strangers_cannot_edit_but_developers_may_assign(
    client, project, tester, developer, make_user, admin
):
    bug = await make_bug(client, tester, project)
    other_tester = await make_user()
    await client.put(f"/api/v1/projects/WEB/members/{other_tester.id}", headers=auth_headers(admin))
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}", json={"title": "mine now"}, headers=auth_headers(other_tester)
    )
    assert r.status_code == 403 and r.json()["code"] == "not_bug_editor"
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}", json={"title": "dev edit"}, headers=auth_headers(developer)
    )
    assert r.status_code == 403
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}",
        json={"assignee_id": developer.id},
        headers=auth_headers(developer),
    )
    assert r.status_code == 200 and r.json()["assignee"]["id"] == developer.id
    # ...and, as assignee, may now edit it
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}", json={"title": "dev edit"}, headers=auth_headers(developer)
    )
    assert r.status_code == 200
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}", json={"title": "admin edit"}, headers=auth_headers(admin)
    )
    assert r.status_code == 200


async def test_unassigning_and_removing_the_script(client, project, developer):
    bug = await make_bug(
        client, developer, project, assignee_id=developer.id, repro_script="raise SystemExit(1)"
    )
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}",
        json={"assignee_id": None, "repro_script": None},
        headers=auth_headers(developer),
    )
    assert r.json()["assignee"] is None and r.json()["repro_script"] is None


async def test_only_admins_delete_bugs(client, project, tester, admin, db):
    bug = await make_bug(client, tester, project)
    assert (
        await client.delete(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(tester))
    ).status_code == 403
    assert (
        await client.delete(f"/api/v1/bugs/{bug['key']}", headers=auth_headers(admin))
    ).status_code == 204
    assert await db.get(Bug, bug["id"]) is None


async def test_watch_and_unwatch(client, project, tester, developer):
    bug = await make_bug(client, tester, project)
    url = f"/api/v1/bugs/{bug['id']}/watchers/me"
    assert (await client.put(url, headers=auth_headers(developer))).status_code == 204
    assert (await client.get(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(developer))).json()[
        "watching"
    ]
    assert (await client.delete(url, headers=auth_headers(developer))).status_code == 204
    assert not (
        await client.get(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(developer))
    ).json()["watching"]


async def test_assignment_is_in_the_history(client, admin, developer, tester):
    await make_project(client, admin, developer, tester)
    bug = await make_bug(client, admin)
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}",
        json={"assignee_id": developer.id},
        headers={**auth_headers(admin), "If-Match": '"1"'},
    )
    assert r.status_code == 200
    items = (
        await client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=auth_headers(admin))
    ).json()["items"]
    assert ("assignee_id", None, str(developer.id)) in [
        (a["field"], a["old"], a["new"]) for a in items
    ]

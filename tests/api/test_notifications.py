"""In-app notifications from bug events."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from api.models import BugWatcher, ProjectMember, Role
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers

NOTES = "/api/v1/notifications"


async def test_assignment_transition_and_comment_notify_the_right_people(
    client, admin, developer, tester
):
    await make_project(client, admin, developer, tester)
    bug = await make_bug(client, tester, title="Crash")  # a tester reports, an admin assigns
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}", json={"assignee_id": developer.id}, headers=auth_headers(admin)
    )
    assert r.status_code == 200, r.text
    notes = (await client.get(NOTES, headers=auth_headers(developer))).json()["items"]
    assert [n["kind"] for n in notes] == ["bug.assigned"]
    assert notes[0]["link"] == "/bugs/WEB-1" and "Crash" in notes[0]["title"]
    assert (await client.get(NOTES, headers=auth_headers(tester))).json()["items"] == []  # not self
    await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json={"to": "in_progress"},
        headers=auth_headers(developer),
    )
    tester_notes = (await client.get(NOTES, headers=auth_headers(tester))).json()["items"]
    assert [n["kind"] for n in tester_notes] == ["bug.transitioned"]
    await client.post(
        f"/api/v1/bugs/{bug['id']}/comments", json={"body": "hi"}, headers=auth_headers(tester)
    )
    dev_notes = (await client.get(NOTES, headers=auth_headers(developer))).json()["items"]
    assert [n["kind"] for n in dev_notes] == ["comment.created", "bug.assigned"]


async def test_reassigning_by_patch_notifies_the_new_assignee(
    client, admin, developer, tester, make_user
):
    other = await make_user(Role.developer, full_name="Other Dev")
    await make_project(client, admin, developer, other, tester)
    bug = await make_bug(client, admin, assignee_id=developer.id, title="Crash")
    r = await client.patch(
        f"/api/v1/bugs/{bug['id']}", json={"assignee_id": other.id}, headers=auth_headers(admin)
    )
    assert r.status_code == 200, r.text
    notes = (await client.get(NOTES, headers=auth_headers(other))).json()["items"]
    assert [n["kind"] for n in notes] == ["bug.assigned"]
    assert notes[0]["title"] == "Ada Admin assigned WEB-1 to you: Crash"
    assert notes[0]["link"] == "/bugs/WEB-1"
    dev_notes = (await client.get(NOTES, headers=auth_headers(developer))).json()["items"]
    assert [n["kind"] for n in dev_notes] == ["bug.assigned"]  # only the original assignment
    # An edit that leaves the assignee as it is tells nobody again.
    await client.patch(
        f"/api/v1/bugs/{bug['id']}",
        json={"assignee_id": other.id, "title": "Crash!"},
        headers=auth_headers(admin),
    )
    assert len((await client.get(NOTES, headers=auth_headers(other))).json()["items"]) == 1


async def test_read_one_and_read_all(client, admin, developer, tester):
    await make_project(client, admin, developer, tester)
    await make_bug(client, admin, assignee_id=developer.id)
    await make_bug(client, admin, assignee_id=developer.id)
    h = auth_headers(developer)
    assert (await client.get(f"{NOTES}/unread-count", headers=h)).json() == {"unread": 2}
    first = (await client.get(NOTES, headers=h)).json()["items"][0]
    r = await client.post(f"{NOTES}/{first['id']}/read", headers=h)
    assert r.status_code == 200 and r.json()["read_at"]
    assert len((await client.get(NOTES, params={"unread": "true"}, headers=h)).json()["items"]) == 1
    assert (await client.post(f"{NOTES}/read-all", headers=h)).status_code == 204
    assert (await client.get(f"{NOTES}/unread-count", headers=h)).json() == {"unread": 0}


async def test_others_notifications_are_404(client, admin, developer, tester):
    await make_project(client, admin, developer, tester)
    await make_bug(client, admin, assignee_id=developer.id)
    note = (await client.get(NOTES, headers=auth_headers(developer))).json()["items"][0]
    r = await client.post(f"{NOTES}/{note['id']}/read", headers=auth_headers(tester))
    assert r.status_code == 404
    assert r.json()["code"] == "notification_not_found"


async def test_mentions_notify_people_who_can_see_the_bug(
    client, admin, developer, tester, make_user
):
    await make_project(client, admin, developer, tester)
    outsider = await make_user()
    bug = await make_bug(client, tester)
    body = f"cc @{developer.email.upper()} and @{outsider.email}; mail me at x@{tester.email}"
    await client.post(
        f"/api/v1/bugs/{bug['id']}/comments", json={"body": body}, headers=auth_headers(tester)
    )
    dev = (await client.get(NOTES, headers=auth_headers(developer))).json()["items"]
    assert [n["kind"] for n in dev] == ["bug.mentioned"]
    assert (await client.get(NOTES, headers=auth_headers(outsider))).json()["items"] == []


async def notes_of(client, user) -> list[dict]:
    return (await client.get(NOTES, headers=auth_headers(user))).json()["items"]


async def test_a_removed_member_is_unassigned_and_hears_no_more(
    client, admin, developer, tester, db
):
    project = await make_project(client, admin, developer, tester)
    bug = await make_bug(client, admin, assignee_id=developer.id, title="Crash")
    await client.put(f"/api/v1/bugs/{bug['id']}/watchers/me", headers=auth_headers(developer))
    r = await client.delete(
        f"/api/v1/projects/{project['id']}/members/{developer.id}", headers=auth_headers(admin)
    )
    assert r.status_code == 204
    now = (await client.get(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(tester))).json()
    assert now["assignee"] is None
    history = await client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=auth_headers(tester))
    unassigned = [h for h in history.json()["items"] if h["field"] == "assignee_id"]
    assert unassigned[-1]["new"] is None and unassigned[-1]["actor"]["id"] == admin.id
    watchers = await db.scalars(select(BugWatcher).where(BugWatcher.user_id == developer.id))
    assert watchers.all() == []
    heard = len(await notes_of(client, developer))
    await client.post(
        f"/api/v1/bugs/{bug['id']}/comments", json={"body": "still?"}, headers=auth_headers(tester)
    )
    await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json={"to": "closed", "resolution": "wont_fix"},
        headers=auth_headers(admin),
    )
    assert len(await notes_of(client, developer)) == heard


async def test_a_watcher_who_lost_sight_of_a_bug_is_not_told_about_it(
    client, admin, developer, tester, db
):
    """Even a watch row left behind (say, by an older version) tells nothing to a non-member."""
    project = await make_project(client, admin, developer, tester)
    bug = await make_bug(client, tester, title="Crash")
    await db.execute(
        delete(ProjectMember).where(
            ProjectMember.project_id == project["id"], ProjectMember.user_id == developer.id
        )
    )
    db.add(BugWatcher(bug_id=bug["id"], user_id=developer.id))
    await db.commit()
    await client.post(
        f"/api/v1/bugs/{bug['id']}/comments", json={"body": "hi"}, headers=auth_headers(tester)
    )
    assert await notes_of(client, developer) == []


@pytest.mark.parametrize("change", [{"role": "tester"}, {"is_active": False}])
async def test_someone_no_longer_an_active_developer_is_unassigned(
    client, admin, developer, tester, change
):
    await make_project(client, admin, developer, tester)
    bug = await make_bug(client, admin, assignee_id=developer.id)
    r = await client.patch(
        f"/api/v1/users/{developer.id}", json=change, headers=auth_headers(admin)
    )
    assert r.status_code == 200, r.text
    now = (await client.get(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(tester))).json()
    assert now["assignee"] is None

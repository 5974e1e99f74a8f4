"""The workflow table x roles, and the rules around resolutions."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from api.bugs import workflow
from api.models import Bug, BugActivity, BugStatus, Resolution, Role
from api.permissions import has_permission
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers


@pytest.fixture
async def project(client, admin, developer, tester):
    return await make_project(client, admin, developer, tester)


def _valid_body(rule: workflow.Transition | None, target: BugStatus) -> dict:
    body: dict = {"to": target}
    if rule is not None and rule.requires_resolution:
        body["resolution"] = sorted(rule.resolutions - {Resolution.duplicate})[0]
    return body


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("source", "target"), list(itertools.permutations(BugStatus, 2)))
async def test_transition_table(
    client, db, project, admin, developer, tester, role, source, target
):
    actor = {Role.admin: admin, Role.developer: developer, Role.tester: tester}[role]
    bug = await make_bug(client, tester, project)
    row = await db.get(Bug, bug["id"])
    row.status = source
    row.resolution = Resolution.fixed if source in (BugStatus.resolved, BugStatus.closed) else None
    await db.commit()
    history_before = await db.scalar(select(func.count()).select_from(BugActivity))
    rule = workflow.find(source, target)

    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json=_valid_body(rule, target),
        headers=auth_headers(actor),
    )

    await db.refresh(row)
    if rule is not None and has_permission(role, rule.permission):
        assert r.status_code == 200, r.text
        assert row.status == target
        assert await db.scalar(select(func.count()).select_from(BugActivity)) > history_before
        if rule.clears_resolution:
            assert row.resolution is None
    else:
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "invalid_transition"
        allowed = {
            o["to"]
            for o in (
                await client.get(
                    f"/api/v1/bugs/{bug['id']}/transitions", headers=auth_headers(actor)
                )
            ).json()["items"]
        }
        assert set(r.json()["allowed"]) == allowed  # what the actor may do instead
        assert row.status == source
        assert await db.scalar(select(func.count()).select_from(BugActivity)) == history_before


async def _at(client, db, tester, project, status, resolution=None):
    bug = await make_bug(client, tester, project)
    row = await db.get(Bug, bug["id"])
    row.status, row.resolution = status, resolution
    await db.commit()
    return bug


async def test_resolving_requires_a_resolution(client, db, project, tester, developer):
    bug = await _at(client, db, tester, project, BugStatus.in_progress)
    url = f"/api/v1/bugs/{bug['id']}/transitions"
    r = await client.post(url, json={"to": "resolved"}, headers=auth_headers(developer))
    assert r.status_code == 409 and "requires a resolution" in r.json()["detail"]
    r = await client.post(
        url,
        json={"to": "resolved", "resolution": "fixed", "comment": "Fixed in abc123"},
        headers=auth_headers(developer),
    )
    assert r.status_code == 200
    assert (r.json()["status"], r.json()["resolution"]) == ("resolved", "fixed")
    comments = (
        await client.get(f"/api/v1/bugs/{bug['id']}/comments", headers=auth_headers(tester))
    ).json()["items"]
    assert comments[0]["body"] == "Fixed in abc123"


async def test_duplicate_needs_another_visible_bug(client, db, project, tester, developer, admin):
    original = await make_bug(client, tester, project, title="original")
    bug = await _at(client, db, tester, project, BugStatus.in_progress)
    hidden_project = await make_project(client, admin, key="HID")
    hidden = await make_bug(client, admin, hidden_project)
    url = f"/api/v1/bugs/{bug['id']}/transitions"
    h = auth_headers(developer)
    for extra in (
        {},
        {"duplicate_of": bug["key"]},
        {"duplicate_of": hidden["key"]},
        {"duplicate_of": "WEB-999"},
    ):
        r = await client.post(
            url, json={"to": "resolved", "resolution": "duplicate", **extra}, headers=h
        )
        assert r.status_code == 409, extra
    r = await client.post(
        url,
        json={"to": "resolved", "resolution": "fixed", "duplicate_of": original["key"]},
        headers=h,
    )
    assert r.status_code == 409
    r = await client.post(
        url,
        json={"to": "resolved", "resolution": "duplicate", "duplicate_of": original["key"]},
        headers=h,
    )
    assert r.status_code == 200
    assert r.json()["duplicate_of"] == original["key"]


@pytest.mark.parametrize("ref", ["id", "id as text", "key"])
async def test_duplicate_of_takes_an_id_or_a_key(client, project, tester, developer, ref):
    original = await make_bug(client, tester, project)
    bug = await make_bug(client, tester, project)
    given = {"id": original["id"], "id as text": str(original["id"]), "key": original["key"]}
    await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json={"to": "in_progress"},
        headers=auth_headers(developer),
    )
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json={"to": "resolved", "resolution": "duplicate", "duplicate_of": given[ref]},
        headers=auth_headers(developer),
    )
    assert r.status_code == 200, r.text
    assert r.json()["duplicate_of"] == original["key"]


async def test_closing_from_open_accepts_only_no_work_resolutions(client, db, project, tester):
    bug = await make_bug(client, tester, project)
    url = f"/api/v1/bugs/{bug['id']}/transitions"
    r = await client.post(
        url, json={"to": "closed", "resolution": "fixed"}, headers=auth_headers(tester)
    )
    assert r.status_code == 409
    r = await client.post(url, json={"to": "closed"}, headers=auth_headers(tester))
    assert r.status_code == 409
    r = await client.post(
        url, json={"to": "closed", "resolution": "wont_fix"}, headers=auth_headers(tester)
    )
    assert r.status_code == 200 and r.json()["resolution"] == "wont_fix"


async def test_reopening_clears_the_resolution(client, db, project, tester):
    bug = await _at(client, db, tester, project, BugStatus.closed, Resolution.fixed)
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions", json={"to": "open"}, headers=auth_headers(tester)
    )
    assert r.status_code == 200
    assert r.json()["resolution"] is None


async def test_a_resolution_where_none_is_taken_is_refused(client, project, tester, developer):
    bug = await make_bug(client, tester, project)
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json={"to": "in_progress", "resolution": "fixed"},
        headers=auth_headers(developer),
    )
    assert r.status_code == 409


async def test_tester_cannot_start_progress(client, project, tester):
    bug = await make_bug(client, tester, project)
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json={"to": "in_progress"},
        headers=auth_headers(tester),
    )
    assert r.status_code == 409
    assert "tester cannot start work" in r.json()["detail"]
    assert r.json()["allowed"] == ["closed"]


async def test_starting_work_takes_an_unassigned_bug(client, project, tester, developer):
    bug = await make_bug(client, tester, project)
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json={"to": "in_progress"},
        headers=auth_headers(developer),
    )
    assert r.json()["assignee"]["id"] == developer.id
    assert r.json()["watching"] is True


async def test_published_transitions_match_the_role(client, project, tester, developer, admin):
    bug = await make_bug(client, tester, project)
    url = f"/api/v1/bugs/{bug['id']}/transitions"
    dev = (await client.get(url, headers=auth_headers(developer))).json()["items"]
    assert [o["to"] for o in dev] == ["in_progress"]
    tst = (await client.get(url, headers=auth_headers(tester))).json()["items"]
    assert tst == [
        {
            "to": "closed",
            "requires": ["resolution"],
            "resolutions": ["duplicate", "wont_fix", "invalid"],
        }
    ]
    adm = (await client.get(url, headers=auth_headers(admin))).json()["items"]
    assert sorted(o["to"] for o in adm) == ["closed", "in_progress"]


async def test_stale_if_match_on_transition_is_412(client, project, tester, developer, db):
    bug = await make_bug(client, tester, project)
    r = await client.post(
        f"/api/v1/bugs/{bug['id']}/transitions",
        json={"to": "in_progress"},
        headers={**auth_headers(developer), "If-Match": '"99"'},
    )
    assert r.status_code == 412
    assert r.json()["current_version"] == bug["version"]  # what to reload and retry with
    assert (await db.get(Bug, bug["id"])).status == BugStatus.open


async def test_full_lifecycle_is_in_the_history(client, project, tester, developer):
    bug = await make_bug(client, tester, project)
    url = f"/api/v1/bugs/{bug['id']}/transitions"
    for actor, body in (
        (developer, {"to": "in_progress"}),
        (developer, {"to": "resolved", "resolution": "fixed"}),
        (tester, {"to": "open"}),
        (developer, {"to": "in_progress"}),
        (developer, {"to": "resolved", "resolution": "fixed"}),
        (tester, {"to": "closed"}),
    ):
        r = await client.post(url, json=body, headers=auth_headers(actor))
        assert r.status_code == 200, r.text
    items = (
        await client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=auth_headers(tester))
    ).json()["items"]
    statuses = [(a["old"], a["new"]) for a in items if a["field"] == "status"]
    assert statuses == [
        ("open", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "open"),
        ("open", "in_progress"),
        ("in_progress", "resolved"),
        ("resolved", "closed"),
    ]

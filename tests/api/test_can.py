"""What the API tells the caller they may do (`can`, `assignable`, `permissions`), against tables
written out by hand, and the routes doing exactly that: each action is tried through HTTP and
succeeds where `can` says so and is refused where it does not."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.models import Role, User
from tests.api.bug_helpers import make_bug, make_project
from tests.conftest import auth_headers
from tests.test_permissions_policy import ROWS

ADMIN, DEVELOPER, TESTER = Role.admin, Role.developer, Role.tester

# `can` of an open bug. whose: the actor reported it, is its assignee, or neither ("other").
# Only developers can be assignees. transition: the statuses offered, in workflow order.
BUG_CAN = """
role       whose     edit  assign  delete  comment  reproduce  transition
admin      reporter  yes   yes     yes     yes      yes        in_progress,closed
admin      other     yes   yes     yes     yes      yes        in_progress,closed
developer  reporter  yes   yes     no      yes      yes        in_progress
developer  assignee  yes   yes     no      yes      yes        in_progress
developer  other     no    yes     no      yes      yes        in_progress
tester     reporter  yes   no      no      yes      yes        closed
tester     other     no    no      no      yes      yes        closed
"""

# `can.transition` of a bug in each status, by role ("-": none).
TRANSITIONS = """
status       admin               developer       tester
open         in_progress,closed  in_progress     closed
in_progress  open,resolved       open,resolved   -
resolved     closed,open         -               closed,open
closed       open                -               open
"""

# `can` of a project, by role
PROJECT_CAN = """
role       update  delete  manage_members  file_bugs  manage_webhooks  manage_budget
admin      yes     yes     yes             yes        yes              yes
developer  no      no      no              yes        no               no
tester     no      no      no              yes        no               no
"""


def _table(text: str) -> list[dict[str, Any]]:
    header, *lines = text.strip().splitlines()
    names = header.split()
    rows = []
    for line in lines:
        values = line.split()
        assert len(values) == len(names), line
        row: dict[str, Any] = {}
        for name, value in zip(names, values, strict=True):
            row[name] = {"yes": True, "no": False}.get(value, value)
        rows.append(row)
    return rows


def _statuses(cell: str) -> list[str]:
    return [] if cell == "-" else cell.split(",")


BUG_ROWS = _table(BUG_CAN)


async def _world(client: httpx.AsyncClient, admin: User, make_user: Any, role: Role):
    actor = admin if role == ADMIN else await make_user(role)
    dev2 = await make_user(DEVELOPER)
    other = await make_user(TESTER)
    members = [u for u in (actor, dev2, other) if u is not admin]
    project = await make_project(client, admin, *members, key="CAN")
    return actor, dev2, other, project


async def _bug(client, admin, actor, other, whose: str) -> dict[str, Any]:
    bug = await make_bug(client, actor if whose == "reporter" else other, "CAN")
    if whose == "assignee":
        r = await client.patch(
            f"/api/v1/bugs/{bug['id']}", json={"assignee_id": actor.id}, headers=auth_headers(admin)
        )
        assert r.status_code == 200, r.text
    return bug


@pytest.mark.parametrize("row", BUG_ROWS, ids=[f"{r['role']}-{r['whose']}" for r in BUG_ROWS])
async def test_a_bug_says_what_the_caller_may_do_and_the_routes_agree(
    client, admin, make_user, row
):
    role = Role(row["role"])
    actor, dev2, other, _ = await _world(client, admin, make_user, role)
    h = auth_headers(actor)

    async def fresh() -> dict[str, Any]:
        return await _bug(client, admin, actor, other, row["whose"])

    bug = await fresh()
    seen = (await client.get(f"/api/v1/bugs/{bug['id']}", headers=h)).json()["can"]
    expected = {k: row[k] for k in ("edit", "assign", "delete", "comment", "reproduce")}
    assert seen == {**expected, "transition": _statuses(row["transition"])}
    listed = (await client.get("/api/v1/projects/CAN/bugs", headers=h)).json()["items"]
    assert next(b["can"] for b in listed if b["id"] == bug["id"]) == seen

    attempts = {
        "edit": ("PATCH", "", {"title": "edited"}, 200),
        "assign": ("PATCH", "", {"assignee_id": dev2.id}, 200),
        "delete": ("DELETE", "", None, 204),
        "comment": ("POST", "/comments", {"body": "seen"}, 201),
    }
    for action, (method, tail, body, ok) in attempts.items():
        target = await fresh()
        r = await client.request(method, f"/api/v1/bugs/{target['id']}{tail}", json=body, headers=h)
        assert r.status_code == (ok if seen[action] else 403), f"{action}: {r.text}"
    for to in ("in_progress", "closed"):
        target = await fresh()
        body: dict[str, Any] = {"to": to, **({"resolution": "invalid"} if to == "closed" else {})}
        r = await client.post(f"/api/v1/bugs/{target['id']}/transitions", json=body, headers=h)
        assert r.status_code == (200 if to in seen["transition"] else 409), f"{to}: {r.text}"


# what the admin does to bring a bug from open to each status
ROUTE = {
    "open": [],
    "in_progress": [{"to": "in_progress"}],
    "resolved": [{"to": "in_progress"}, {"to": "resolved", "resolution": "fixed"}],
    "closed": [{"to": "closed", "resolution": "invalid"}],
}


@pytest.mark.parametrize("row", _table(TRANSITIONS), ids=lambda r: r["status"])
async def test_the_transitions_a_bug_offers_follow_its_status(client, admin, make_user, row):
    developer, tester = await make_user(DEVELOPER), await make_user(TESTER)
    await make_project(client, admin, developer, tester, key="CAN")
    bug = await make_bug(client, admin, "CAN")
    for step in ROUTE[row["status"]]:
        r = await client.post(
            f"/api/v1/bugs/{bug['id']}/transitions", json=step, headers=auth_headers(admin)
        )
        assert r.status_code == 200, r.text
    for role, user in ((ADMIN, admin), (DEVELOPER, developer), (TESTER, tester)):
        r = await client.get(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(user))
        assert r.json()["status"] == row["status"]
        assert r.json()["can"]["transition"] == _statuses(row[role.value]), role


@pytest.mark.parametrize("row", _table(PROJECT_CAN), ids=lambda r: r["role"])
async def test_a_project_says_what_the_caller_may_do_and_the_routes_agree(
    client, admin, make_user, row
):
    role = Role(row["role"])
    actor, dev2, _, project = await _world(client, admin, make_user, role)
    h = auth_headers(actor)
    seen = (await client.get(f"/api/v1/projects/{project['id']}", headers=h)).json()["can"]
    assert seen == {k: v for k, v in row.items() if k != "role"}
    listed = (await client.get("/api/v1/projects", headers=h)).json()["items"]
    assert [p["can"] for p in listed] == [seen]

    pid = project["id"]
    attempts = {
        "update": ("PATCH", f"/projects/{pid}", {"name": "Renamed"}),
        "manage_members": ("DELETE", f"/projects/{pid}/members/{dev2.id}", None),
        "file_bugs": ("POST", "/projects/CAN/bugs", {"title": "t"}),
        "manage_webhooks": ("GET", f"/projects/{pid}/webhooks", None),
        "manage_budget": (
            "PUT",
            f"/projects/{pid}/budget",
            {"amount": "10.00", "currency": "EUR", "period": "total"},
        ),
        "delete": ("DELETE", f"/projects/{pid}", None),  # last: it ends the others
    }
    for action, (method, path, body) in attempts.items():
        r = await client.request(method, f"/api/v1{path}", json=body, headers=h)
        if seen[action]:
            assert r.status_code < 400, f"{action}: {r.text}"
        else:
            assert r.status_code == 403, f"{action}: {r.text}"


async def test_members_say_who_can_be_assigned(client, admin, make_user):
    developer, tester = await make_user(DEVELOPER), await make_user(TESTER)
    gone = await make_user(DEVELOPER)
    project = await make_project(client, admin, admin, developer, tester, gone, key="CAN")
    r = await client.delete(f"/api/v1/users/{gone.id}", headers=auth_headers(admin))
    assert r.status_code == 200, r.text
    r = await client.get(f"/api/v1/projects/{project['id']}/members", headers=auth_headers(tester))
    assignable = {m["user"]["id"]: m["assignable"] for m in r.json()["items"]}
    expected = {admin.id: False, developer.id: True, tester.id: False, gone.id: False}
    assert assignable == expected
    for user_id, ok in expected.items():
        bug = await make_bug(client, admin, "CAN")
        r = await client.patch(
            f"/api/v1/bugs/{bug['id']}", json={"assignee_id": user_id}, headers=auth_headers(admin)
        )
        assert r.status_code == (200 if ok else 422), r.text


@pytest.mark.parametrize("role", [ADMIN, DEVELOPER, TESTER])
async def test_my_profile_lists_the_permissions_the_table_gives_my_role(
    client, admin, make_user, role
):
    user = admin if role == ADMIN else await make_user(role)
    r = await client.get("/api/v1/users/me", headers=auth_headers(user))
    assert r.status_code == 200
    held = [op for op, whose, r_, allowed in ROWS if whose == "-" and r_ == role and allowed]
    assert sorted(r.json()["permissions"]) == sorted(held)

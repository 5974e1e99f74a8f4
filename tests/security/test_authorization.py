"""Attack class: a role doing what the permission table does not give it (issue 18, finding 11).

A tester assigned a bug (200) although only admins and developers hold `bugs:assign`: the
route let a bug's reporter change any field of it, assignment included, and filing a bug took an
`assignee_id` from anyone. Every operation below goes through the real routes as each role, and
the outcome is compared with the table written out here by hand -- not computed from
`api.permissions` -- so widening a permission there makes this test fail until the table below is
changed too, in review.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.models import Role, User
from tests.conftest import auth_headers

ADMIN, DEVELOPER, TESTER = Role.admin, Role.developer, Role.tester

# operation -> the status each role gets: (admin, developer, tester). "mine" is a bug the actor
# reported, "theirs" one another member reported; `dev2` is a developer of the project, `buddy`
# a tester of it. 403 forbidden/not_bug_editor, 409 invalid_transition, 422 invalid_assignee.
EXPECTED: dict[str, tuple[int, int, int]] = {
    "file a bug": (201, 201, 201),
    "file a bug assigned to a developer": (201, 201, 403),
    "file a bug assigned to a tester": (422, 422, 403),
    "assign their bug to a developer": (200, 200, 403),
    "assign my bug to a developer": (200, 200, 403),
    "assign my bug while editing its title": (200, 200, 403),
    "assign my bug to myself": (422, 200, 403),
    "assign their bug to an admin": (422, 422, 403),
    "unassign my bug": (200, 200, 403),
    "send my bug's assignee back unchanged with a title edit": (200, 200, 200),
    "edit my bug": (200, 200, 200),
    "edit their bug": (200, 403, 403),
    "delete their bug": (204, 403, 403),
    "start work on their bug": (200, 200, 409),
    "close their bug without work": (200, 409, 200),
    "comment on their bug": (201, 201, 201),
    "edit their comment": (200, 403, 403),
    "list the project's webhooks": (200, 403, 403),
    "add a webhook": (201, 403, 403),
    "list users": (200, 403, 403),
    "change a user's role": (200, 403, 403),
    "create a project": (201, 403, 403),
    "add a project member": (201, 403, 403),
    "add an expense category": (201, 403, 403),
    "set the project's budget": (201, 403, 403),
    "run a job list": (200, 200, 200),
}
# operations whose own setup (as admin or another member) changes a bug before the attempt
SETUP_CHANGES_BUGS = {"unassign my bug", "edit their comment"}
ROLE_COLUMN = {ADMIN: 0, DEVELOPER: 1, TESTER: 2}
REFUSAL_CODES = {
    403: {"forbidden", "not_bug_editor", "not_comment_author"},
    409: {"invalid_transition"},
}


@dataclass
class World:
    client: httpx.AsyncClient
    actor: User
    admin: User
    dev2: User
    buddy: User
    project: dict[str, Any]
    mine: dict[str, Any]
    theirs: dict[str, Any]

    def h(self, user: User | None = None) -> dict[str, str]:
        return auth_headers(user or self.actor)

    async def post(self, url: str, body: Any = None) -> httpx.Response:
        return await self.client.post(f"/api/v1{url}", json=body, headers=self.h())

    async def patch(self, url: str, body: Any) -> httpx.Response:
        return await self.client.patch(f"/api/v1{url}", json=body, headers=self.h())

    async def put(self, url: str, body: Any = None) -> httpx.Response:
        return await self.client.put(f"/api/v1{url}", json=body, headers=self.h())

    async def get(self, url: str) -> httpx.Response:
        return await self.client.get(f"/api/v1{url}", headers=self.h())

    async def delete(self, url: str) -> httpx.Response:
        return await self.client.delete(f"/api/v1{url}", headers=self.h())


Operation = Callable[[World], Awaitable[httpx.Response]]
OPERATIONS: dict[str, Operation] = {}


def operation(name: str) -> Callable[[Operation], Operation]:
    def register(fn: Operation) -> Operation:
        OPERATIONS[name] = fn
        return fn

    return register


@operation("file a bug")
async def _file(w: World) -> httpx.Response:
    return await w.post("/projects/AUTH/bugs", {"title": "filed"})


@operation("file a bug assigned to a developer")
async def _file_assigned(w: World) -> httpx.Response:
    return await w.post("/projects/AUTH/bugs", {"title": "filed", "assignee_id": w.dev2.id})


@operation("file a bug assigned to a tester")
async def _file_assigned_tester(w: World) -> httpx.Response:
    return await w.post("/projects/AUTH/bugs", {"title": "filed", "assignee_id": w.buddy.id})


@operation("assign their bug to a developer")
async def _assign_theirs(w: World) -> httpx.Response:
    return await w.patch(f"/bugs/{w.theirs['id']}", {"assignee_id": w.dev2.id})


@operation("assign my bug to a developer")
async def _assign_mine(w: World) -> httpx.Response:
    return await w.patch(f"/bugs/{w.mine['id']}", {"assignee_id": w.dev2.id})


@operation("assign my bug while editing its title")
async def _assign_mine_with_title(w: World) -> httpx.Response:
    return await w.patch(f"/bugs/{w.mine['id']}", {"title": "retitled", "assignee_id": w.dev2.id})


@operation("assign my bug to myself")
async def _assign_mine_to_me(w: World) -> httpx.Response:
    return await w.patch(f"/bugs/{w.mine['id']}", {"assignee_id": w.actor.id})


@operation("assign their bug to an admin")
async def _assign_to_admin(w: World) -> httpx.Response:
    return await w.patch(f"/bugs/{w.theirs['id']}", {"assignee_id": w.admin.id})


@operation("unassign my bug")
async def _unassign_mine(w: World) -> httpx.Response:
    await _assigned_by_admin(w, w.mine)
    return await w.patch(f"/bugs/{w.mine['id']}", {"assignee_id": None})


@operation("send my bug's assignee back unchanged with a title edit")
async def _same_assignee(w: World) -> httpx.Response:
    await _assigned_by_admin(w, w.mine)
    return await w.patch(f"/bugs/{w.mine['id']}", {"title": "same", "assignee_id": w.dev2.id})


@operation("edit my bug")
async def _edit_mine(w: World) -> httpx.Response:
    return await w.patch(f"/bugs/{w.mine['id']}", {"title": "edited", "priority": "high"})


@operation("edit their bug")
async def _edit_theirs(w: World) -> httpx.Response:
    return await w.patch(f"/bugs/{w.theirs['id']}", {"title": "edited"})


@operation("delete their bug")
async def _delete_theirs(w: World) -> httpx.Response:
    return await w.delete(f"/bugs/{w.theirs['id']}")


@operation("start work on their bug")
async def _start(w: World) -> httpx.Response:
    return await w.post(f"/bugs/{w.theirs['id']}/transitions", {"to": "in_progress"})


@operation("close their bug without work")
async def _close(w: World) -> httpx.Response:
    body = {"to": "closed", "resolution": "invalid"}
    return await w.post(f"/bugs/{w.theirs['id']}/transitions", body)


@operation("comment on their bug")
async def _comment(w: World) -> httpx.Response:
    return await w.post(f"/bugs/{w.theirs['id']}/comments", {"body": "seen"})


@operation("edit their comment")
async def _edit_comment(w: World) -> httpx.Response:
    r = await w.client.post(
        f"/api/v1/bugs/{w.theirs['id']}/comments", json={"body": "x"}, headers=w.h(w.buddy)
    )
    assert r.status_code == 201, r.text
    return await w.patch(f"/comments/{r.json()['id']}", {"body": "rewritten"})


@operation("list the project's webhooks")
async def _list_hooks(w: World) -> httpx.Response:
    return await w.get(f"/projects/{w.project['id']}/webhooks")


@operation("add a webhook")
async def _add_hook(w: World) -> httpx.Response:
    body = {"url": "https://8.8.8.8/hook", "events": ["bug.created"]}
    return await w.post(f"/projects/{w.project['id']}/webhooks", body)


@operation("list users")
async def _list_users(w: World) -> httpx.Response:
    return await w.get("/users")


@operation("change a user's role")
async def _change_role(w: World) -> httpx.Response:
    return await w.patch(f"/users/{w.buddy.id}", {"role": "developer"})


@operation("create a project")
async def _create_project(w: World) -> httpx.Response:
    return await w.post("/projects", {"key": "NEWP", "name": "New"})


@operation("add a project member")
async def _add_member(w: World) -> httpx.Response:
    return await w.put(f"/projects/{w.project['id']}/members/{w.admin.id}")


@operation("add an expense category")
async def _add_category(w: World) -> httpx.Response:
    return await w.post("/expense-categories", {"name": "Authz"})


@operation("set the project's budget")
async def _set_budget(w: World) -> httpx.Response:
    body = {"amount": "10.00", "currency": "EUR", "period": "total"}
    return await w.put(f"/projects/{w.project['id']}/budget", body)


@operation("run a job list")
async def _jobs(w: World) -> httpx.Response:
    return await w.get("/jobs")


async def _assigned_by_admin(w: World, bug: dict[str, Any]) -> None:
    r = await w.client.patch(
        f"/api/v1/bugs/{bug['id']}", json={"assignee_id": w.dev2.id}, headers=w.h(w.admin)
    )
    assert r.status_code == 200, r.text


async def _bugs_as_admin(w: World) -> list[Any]:
    r = await w.client.get("/api/v1/bugs", params={"limit": 200}, headers=w.h(w.admin))
    return sorted(r.json()["items"], key=lambda b: b["id"])


def test_the_table_covers_exactly_the_operations():
    assert set(EXPECTED) == set(OPERATIONS)


@pytest.mark.parametrize("name", list(EXPECTED))
@pytest.mark.parametrize("role", [ADMIN, DEVELOPER, TESTER])
async def test_each_role_may_do_exactly_what_the_table_says(client, admin, make_user, role, name):
    actor = admin if role == ADMIN else await make_user(role)
    dev2 = await make_user(DEVELOPER)
    buddy = await make_user(TESTER)
    r = await client.post(
        "/api/v1/projects", json={"key": "AUTH", "name": "Authz"}, headers=auth_headers(admin)
    )
    project = r.json()
    for user in {actor.id: actor, dev2.id: dev2, buddy.id: buddy}.values():
        if user is not admin:
            r = await client.put(
                f"/api/v1/projects/{project['id']}/members/{user.id}", headers=auth_headers(admin)
            )
            assert r.status_code in (200, 201), r.text

    async def file(user: User, title: str) -> dict[str, Any]:
        r = await client.post(
            "/api/v1/projects/AUTH/bugs", json={"title": title}, headers=auth_headers(user)
        )
        assert r.status_code == 201, r.text
        return r.json()

    world = World(
        client,
        actor,
        admin,
        dev2,
        buddy,
        project,
        await file(actor, "mine"),
        await file(buddy, "x"),
    )
    before = await _bugs_as_admin(world)

    r = await OPERATIONS[name](world)

    expected = EXPECTED[name][ROLE_COLUMN[role]]
    assert r.status_code == expected, f"{role} / {name}: {r.status_code} {r.text}"
    if expected in REFUSAL_CODES:
        assert r.json()["code"] in REFUSAL_CODES[expected], r.text
    if expected >= 400 and name not in SETUP_CHANGES_BUGS:
        assert await _bugs_as_admin(world) == before, "a refused request changed a bug"
    if expected >= 400 and name == "unassign my bug":
        bugs = {b["id"]: b for b in await _bugs_as_admin(world)}
        assert bugs[world.mine["id"]]["assignee"]["id"] == dev2.id


async def test_starting_work_takes_the_bug_only_for_those_who_may_be_assigned(
    client, admin, make_user
):
    developer = await make_user(DEVELOPER)
    r = await client.post(
        "/api/v1/projects", json={"key": "TAKE", "name": "Take"}, headers=auth_headers(admin)
    )
    await client.put(
        f"/api/v1/projects/{r.json()['id']}/members/{developer.id}", headers=auth_headers(admin)
    )
    for actor, assignee in ((admin, None), (developer, developer.id)):
        r = await client.post(
            "/api/v1/projects/TAKE/bugs", json={"title": "t"}, headers=auth_headers(admin)
        )
        bug = r.json()
        r = await client.post(
            f"/api/v1/bugs/{bug['id']}/transitions",
            json={"to": "in_progress"},
            headers=auth_headers(actor),
        )
        assert r.status_code == 200, r.text
        assert (r.json()["assignee"] or {}).get("id") == assignee


# role -> the transitions GET /bugs/{id}/transitions offers on an open bug
OFFERED_ON_OPEN = {ADMIN: {"in_progress", "closed"}, DEVELOPER: {"in_progress"}, TESTER: {"closed"}}


@pytest.mark.parametrize("role", [ADMIN, DEVELOPER, TESTER])
async def test_the_transitions_offered_are_the_ones_allowed(client, admin, make_user, role):
    actor = admin if role == ADMIN else await make_user(role)
    r = await client.post(
        "/api/v1/projects", json={"key": "OFF", "name": "Offered"}, headers=auth_headers(admin)
    )
    await client.put(
        f"/api/v1/projects/{r.json()['id']}/members/{actor.id}", headers=auth_headers(admin)
    )
    bug = (
        await client.post(
            "/api/v1/projects/OFF/bugs", json={"title": "t"}, headers=auth_headers(actor)
        )
    ).json()
    r = await client.get(f"/api/v1/bugs/{bug['id']}/transitions", headers=auth_headers(actor))
    assert {o["to"] for o in r.json()["items"]} == OFFERED_ON_OPEN[role]

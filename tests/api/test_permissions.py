"""The role x permission matrix through the real routes, against the literal table of
tests/test_permissions_policy.py (not against api.permissions), and what GET /roles publishes."""

from __future__ import annotations

import pytest

from api.models import Role
from api.permissions import PERMISSIONS
from tests.conftest import auth_headers
from tests.test_permissions_policy import ROWS

# permission -> roles the hand-written policy table gives it
BY_TABLE = {(operation, role): allowed for operation, whose, role, allowed in ROWS if whose == "-"}

# (permission, method, path template, body). {project} and {user} are filled per test.
PROTECTED = [
    ("users:read", "GET", "/api/v1/users", None),
    ("users:read", "GET", "/api/v1/users/{user}", None),
    (
        "users:manage",
        "POST",
        "/api/v1/users",
        {"email": "n@example.com", "password": "long-enough", "full_name": "N"},
    ),
    ("users:manage", "PATCH", "/api/v1/users/{user}", {"full_name": "Renamed"}),
    ("users:manage", "DELETE", "/api/v1/users/{user}", None),
    ("projects:create", "POST", "/api/v1/projects", {"key": "NEW", "name": "New"}),
    ("projects:update", "PATCH", "/api/v1/projects/{project}", {"name": "Renamed"}),
    ("projects:delete", "DELETE", "/api/v1/projects/{project}", None),
    ("projects:manage_members", "PUT", "/api/v1/projects/{project}/members/{user}", None),
    ("projects:manage_members", "DELETE", "/api/v1/projects/{project}/members/{user}", None),
    ("projects:read", "GET", "/api/v1/projects/{project}", None),
    ("projects:read", "GET", "/api/v1/projects/{project}/members", None),
    ("bugs:create", "POST", "/api/v1/projects/{project}/bugs", {"title": "t"}),
    ("bugs:delete", "DELETE", "/api/v1/bugs/{bug}", None),
    # The actor is neither reporter nor assignee: only admins edit, developers may only assign.
    ("bugs:edit_any", "PATCH", "/api/v1/bugs/{bug}", {"title": "edited"}),
    ("bugs:assign", "PATCH", "/api/v1/bugs/{bug}", {"assignee_id": "{user}"}),
    (
        "bugs:assign",
        "POST",
        "/api/v1/projects/{project}/bugs",
        {"title": "t", "assignee_id": "{user}"},
    ),
    ("comments:create", "POST", "/api/v1/bugs/{bug}/comments", {"body": "hi"}),
    ("webhooks:manage", "GET", "/api/v1/projects/{project}/webhooks", None),
    ("jobs:run", "GET", "/api/v1/jobs", None),
    ("jobs:run", "GET", "/api/v1/runtimes", None),
    ("expenses:create", "GET", "/api/v1/expenses", None),
    ("categories:manage", "POST", "/api/v1/expense-categories", {"name": "Matrix"}),
    ("categories:manage", "PATCH", "/api/v1/expense-categories/1", {"name": "Trips"}),
    ("categories:manage", "DELETE", "/api/v1/expense-categories/9", None),
    ("budgets:read", "GET", "/api/v1/projects/{project}/budget", None),
    (
        "budgets:manage",
        "PUT",
        "/api/v1/projects/{project}/budget",
        {"amount": "10.00", "currency": "EUR", "period": "total"},
    ),
    ("budgets:manage", "DELETE", "/api/v1/projects/{project}/budget", None),
]
# Permissions whose refusal is not a 403, tested where their rule lives.
TESTED_ELSEWHERE = {
    "projects:see_all": "test_admin_sees_projects_without_membership",
    "jobs:see_all": "jobs/test_jobs_api.py::test_admin_reads_and_lists_everyones_jobs",
    "bugs:be_assigned": "test_bugs.py::test_only_project_developers_can_be_assignees",
    "bugs:edit_own": "security/test_authorization.py (edit my bug)",
    "comments:edit_own": "test_bug_comments.py::test_author_edits_and_the_edit_is_recorded",
    "attachments:delete_own": "test_attachments.py::test_deleting_an_attachment_or_its_bug_...",
    "bugs:work": "test_bug_workflow.py::test_transition_table (409 invalid_transition)",
    "bugs:verify": "test_bug_workflow.py::test_transition_table (409 invalid_transition)",
    "bugs:override_verdict": "test_bug_verdicts.py::test_an_admin_overrides_only_with_a_...",
    "comments:moderate": "test_bug_comments.py::test_others_cannot_edit_but_admin_can",
    "expenses:see_all": "test_expense_privacy.py::test_admin_sees_and_may_fix_anyones_expense",
    "expenses:edit_any": "test_expense_privacy.py::test_admin_sees_and_may_fix_anyones_expense",
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("permission", "method", "path", "body"), PROTECTED)
async def test_role_matrix(client, make_user, admin, role, permission, method, path, body):
    actor = admin if role == Role.admin else await make_user(role)
    target = await make_user(Role.developer)
    project = (
        await client.post(
            "/api/v1/projects", json={"key": "MTX", "name": "Matrix"}, headers=auth_headers(admin)
        )
    ).json()
    # Members of the project, so that visibility (404) is not what decides here.
    for user in (actor, target):
        await client.put(
            f"/api/v1/projects/{project['id']}/members/{user.id}", headers=auth_headers(admin)
        )
    bug = (
        await client.post(
            "/api/v1/projects/MTX/bugs", json={"title": "b"}, headers=auth_headers(admin)
        )
    ).json()
    if "/budget" in path and method != "PUT":
        await client.put(
            f"/api/v1/projects/{project['id']}/budget",
            json={"amount": "10.00", "currency": "EUR", "period": "total"},
            headers=auth_headers(admin),
        )
    url = path.format(project=project["id"], user=target.id, bug=bug["id"])
    if body and body.get("assignee_id") == "{user}":
        body = {**body, "assignee_id": target.id}
    r = await client.request(method, url, json=body, headers=auth_headers(actor))
    if BY_TABLE[permission, role]:
        assert r.status_code < 400, r.text
    else:
        assert r.status_code == 403, r.text
        assert r.json()["code"] in ("forbidden", "not_bug_editor")


async def test_roles_endpoint_publishes_the_enforced_matrix(client):
    r = await client.get("/api/v1/roles")
    assert r.status_code == 200
    body = r.json()
    assert body["roles"] == ["admin", "developer", "tester"]
    published = {p["name"]: set(p["roles"]) for p in body["permissions"]}
    assert published == {name: {r.value for r in roles} for name, (roles, _) in PERMISSIONS.items()}


def test_every_permission_in_the_matrix_is_exercised():
    assert {p for p, *_ in PROTECTED} | set(TESTED_ELSEWHERE) == set(PERMISSIONS)


async def test_admin_sees_projects_without_membership(client, admin, make_user):
    other_admin = await make_user(Role.admin)
    project = (
        await client.post(
            "/api/v1/projects", json={"key": "ADM", "name": "A"}, headers=auth_headers(admin)
        )
    ).json()
    r = await client.get(f"/api/v1/projects/{project['id']}", headers=auth_headers(other_admin))
    assert r.status_code == 200

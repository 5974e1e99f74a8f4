"""The permission matrix: declared once, enforced by `deps.require`, published by GET /roles."""

from __future__ import annotations

from api.errors import Forbidden
from api.models.user import Role

ADMIN = frozenset({Role.admin})
DEVELOPERS = frozenset({Role.admin, Role.developer})
TESTERS = frozenset({Role.admin, Role.tester})
EVERYONE = frozenset(Role)

# permission -> (roles holding it, what it allows). Checks in code name a permission, never a role.
PERMISSIONS: dict[str, tuple[frozenset[Role], str]] = {
    "users:read": (ADMIN, "List and read any user account"),
    "users:manage": (ADMIN, "Create users, change roles, deactivate accounts"),
    "projects:read": (EVERYONE, "Read projects you are a member of (admins: all)"),
    "projects:create": (ADMIN, "Create projects"),
    "projects:update": (ADMIN, "Rename and describe projects"),
    "projects:delete": (ADMIN, "Delete projects with everything in them"),
    "projects:manage_members": (ADMIN, "Add and remove project members"),
    "projects:see_all": (ADMIN, "See every project without being a member"),
    "bugs:create": (EVERYONE, "File bugs in projects you are a member of"),
    "bugs:edit_any": (ADMIN, "Edit any bug (reporters and assignees edit their own)"),
    "bugs:assign": (DEVELOPERS, "Assign and unassign any bug of your projects, also when filing"),
    "bugs:be_assigned": (
        frozenset({Role.developer}),
        "Be a bug's assignee in your projects (starting work on an unassigned bug takes it)",
    ),
    "bugs:delete": (ADMIN, "Delete bugs"),
    "bugs:work": (DEVELOPERS, "Start, stop and resolve work on bugs"),
    "bugs:verify": (TESTERS, "Verify, close and reopen bugs"),
    "comments:create": (EVERYONE, "Comment on bugs you can see"),
    "comments:moderate": (ADMIN, "Edit or delete anyone's comment (authors edit their own)"),
    "webhooks:manage": (ADMIN, "Add and remove project webhooks"),
    "jobs:run": (EVERYONE, "Run code in the sandbox and follow, cancel and read your own jobs"),
    "jobs:see_all": (ADMIN, "See and cancel everyone's jobs"),
    "expenses:create": (EVERYONE, "Record, import and manage your own expenses"),
    "expenses:see_all": (ADMIN, "See everyone's expenses, totals and exports (filter user_id)"),
    "expenses:edit_any": (ADMIN, "Edit, delete and restore anyone's expense"),
    "categories:manage": (ADMIN, "Add, rename, move and delete expense categories"),
    "budgets:read": (EVERYONE, "Read the budgets of projects you are a member of (admins: all)"),
    "budgets:manage": (ADMIN, "Set and remove project budgets"),
}


def has_permission(role: Role, permission: str) -> bool:
    return role in PERMISSIONS[permission][0]


def ensure(role: Role, permission: str) -> None:
    """For rules inside a service (a field of a request, not the route, needs the permission):
    the same refusal as `deps.require`."""
    if not has_permission(role, permission):
        raise Forbidden(f"Your role ({role}) lacks the permission {permission}")


def roles_with(permission: str) -> frozenset[Role]:
    """The roles holding ``permission``, for queries that pick people by what they may do."""
    return PERMISSIONS[permission][0]

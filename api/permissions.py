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
    "bugs:edit_own": (EVERYONE, "Edit the bugs you reported or are assigned to"),
    "bugs:edit_any": (ADMIN, "Edit any bug, and delete anyone's bug attachment"),
    "bugs:assign": (DEVELOPERS, "Assign and unassign any bug of your projects, also when filing"),
    "bugs:be_assigned": (
        frozenset({Role.developer}),
        "Be a bug's assignee in your projects (starting work on an unassigned bug takes it)",
    ),
    "bugs:delete": (ADMIN, "Delete bugs"),
    "bugs:work": (DEVELOPERS, "Start, stop and resolve work on bugs"),
    "bugs:verify": (TESTERS, "Verify, close and reopen bugs"),
    "bugs:override_verdict": (
        ADMIN,
        "Close a bug resolved as fixed whose reproduction still fails (with a comment)",
    ),
    "comments:create": (EVERYONE, "Comment on bugs you can see"),
    "comments:edit_own": (EVERYONE, "Edit and delete your own comments"),
    "comments:moderate": (ADMIN, "Edit or delete anyone's comment"),
    "attachments:delete_own": (EVERYONE, "Delete the bug attachments you uploaded"),
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


# The role an account starts with. The first account of an installation administers it (someone
# must); everyone after starts as a tester, the least privileged role, until an admin promotes them.
FIRST_ACCOUNT_ROLE = Role.admin
NEW_ACCOUNT_ROLE = Role.tester


# Operations on something a user may own: operation -> (the permission enough when it is the
# caller's own, the permission needed when it is anyone's). Whose it is: a bug is its reporter's
# and its assignee's; a comment its author's; an attachment its uploader's; an expense its
# spender's; a job whoever started it. The second permission covers the first case too.
SCOPED: dict[str, tuple[str, str]] = {
    "bugs:edit": ("bugs:edit_own", "bugs:edit_any"),
    "comments:edit": ("comments:edit_own", "comments:moderate"),
    "attachments:delete": ("attachments:delete_own", "bugs:edit_any"),
    "expenses:edit": ("expenses:create", "expenses:edit_any"),
    "jobs:manage": ("jobs:run", "jobs:see_all"),
}


def has_permission(role: Role, permission: str) -> bool:
    return role in PERMISSIONS[permission][0]


def may(role: Role, operation: str, *, own: bool = False) -> bool:
    """Whether ``role`` may do ``operation``: a permission, or a `SCOPED` operation on the
    caller's own thing (``own``) or on anyone's."""
    if operation in SCOPED:
        own_permission, any_permission = SCOPED[operation]
        return has_permission(role, any_permission) or (
            own and has_permission(role, own_permission)
        )
    return has_permission(role, operation)


def permissions_of(role: Role) -> list[str]:
    """The permissions ``role`` holds, in table order (what GET /users/me tells the web app)."""
    return _HELD[role]


def ensure(role: Role, permission: str) -> None:
    """For rules inside a service (a field of a request, not the route, needs the permission):
    the same refusal as `deps.require`."""
    if not has_permission(role, permission):
        raise Forbidden(f"Your role ({role}) lacks the permission {permission}")


def roles_with(permission: str) -> frozenset[Role]:
    """The roles holding ``permission``, for queries that pick people by what they may do."""
    return PERMISSIONS[permission][0]


_HELD = {role: [p for p, (roles, _) in PERMISSIONS.items() if role in roles] for role in Role}
assert all(p in PERMISSIONS for pair in SCOPED.values() for p in pair)

"""The permission policy against a table written out by hand (issue 23).

`POLICY` below is what Nimbus allows, read by a reviewer: role x operation x whose it is. It is
deliberately not derived from `api.permissions`, so widening a permission there (say,
`projects:delete` for everyone) fails here until this table is changed too, in the same review.
"whose" is `own` (the caller's own bug, comment, attachment, expense or job), `any` (someone
else's) or `-` (an operation where ownership plays no part).
"""

from __future__ import annotations

import pytest

from api.models import Role
from api.permissions import (
    FIRST_ACCOUNT_ROLE,
    NEW_ACCOUNT_ROLE,
    PERMISSIONS,
    SCOPED,
    may,
    permissions_of,
)

POLICY = """
operation                whose  admin  developer  tester
users:read               -      yes    no         no
users:manage             -      yes    no         no
projects:read            -      yes    yes        yes
projects:create          -      yes    no         no
projects:update          -      yes    no         no
projects:delete          -      yes    no         no
projects:manage_members  -      yes    no         no
projects:see_all         -      yes    no         no
bugs:create              -      yes    yes        yes
bugs:edit_own            -      yes    yes        yes
bugs:edit_any            -      yes    no         no
bugs:assign              -      yes    yes        no
bugs:be_assigned         -      no     yes        no
bugs:delete              -      yes    no         no
bugs:work                -      yes    yes        no
bugs:verify              -      yes    no         yes
bugs:override_verdict    -      yes    no         no
comments:create          -      yes    yes        yes
comments:edit_own        -      yes    yes        yes
comments:moderate        -      yes    no         no
attachments:delete_own   -      yes    yes        yes
webhooks:manage          -      yes    no         no
jobs:run                 -      yes    yes        yes
jobs:see_all             -      yes    no         no
expenses:create          -      yes    yes        yes
expenses:see_all         -      yes    no         no
expenses:edit_any        -      yes    no         no
categories:manage        -      yes    no         no
budgets:read             -      yes    yes        yes
budgets:manage           -      yes    no         no
bugs:edit                own    yes    yes        yes
bugs:edit                any    yes    no         no
comments:edit            own    yes    yes        yes
comments:edit            any    yes    no         no
attachments:delete       own    yes    yes        yes
attachments:delete       any    yes    no         no
expenses:edit            own    yes    yes        yes
expenses:edit            any    yes    no         no
jobs:manage              own    yes    yes        yes
jobs:manage              any    yes    no         no
"""

ROLES = (Role.admin, Role.developer, Role.tester)


def _rows() -> list[tuple[str, str, Role, bool]]:
    header, *lines = POLICY.strip().splitlines()
    assert header.split() == ["operation", "whose", "admin", "developer", "tester"]
    rows = []
    for line in lines:
        operation, whose, *answers = line.split()
        assert whose in ("-", "own", "any") and set(answers) <= {"yes", "no"}, line
        rows += [
            (operation, whose, role, a == "yes") for role, a in zip(ROLES, answers, strict=True)
        ]
    return rows


ROWS = _rows()


@pytest.mark.parametrize(("operation", "whose", "role", "allowed"), ROWS)
def test_the_policy_allows_exactly_what_the_table_says(operation, whose, role, allowed):
    assert may(role, operation, own=whose == "own") is allowed


def test_the_table_names_every_permission_and_both_scopes_of_every_scoped_operation():
    written = {(operation, whose) for operation, whose, _, _ in ROWS}
    expected = {(p, "-") for p in PERMISSIONS} | {
        (op, whose) for op in SCOPED for whose in ("own", "any")
    }
    assert written == expected
    assert len(ROWS) == 3 * len(written), "an operation is written twice"


def test_ownership_never_matters_for_a_plain_permission():
    for permission in PERMISSIONS:
        for role in ROLES:
            assert may(role, permission, own=True) is may(role, permission, own=False)


@pytest.mark.parametrize("role", ROLES)
def test_a_role_is_told_the_permissions_the_table_gives_it(role):
    held = {op for op, whose, r, allowed in ROWS if whose == "-" and r == role and allowed}
    assert set(permissions_of(role)) == held


def test_the_first_account_administers_and_every_later_one_starts_as_a_tester():
    # Written out too: making sign-ups developers (or admins) must change this line as well.
    assert FIRST_ACCOUNT_ROLE is Role.admin
    assert NEW_ACCOUNT_ROLE is Role.tester

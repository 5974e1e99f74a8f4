"""Every endpoint x someone else's expense is 404; admins see everyone's."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from api.models import Expense, Role
from tests.api.bug_helpers import make_project
from tests.api.expense_helpers import URL, csv_import, make_expense
from tests.conftest import auth_headers

# (method, path, body) for every operation on one expense.
ON_ONE_EXPENSE = [
    ("GET", "{url}/{id}", None),
    ("PATCH", "{url}/{id}", {"description": "mine now"}),
    ("DELETE", "{url}/{id}", None),
    ("POST", "{url}/{id}/restore", None),
    ("GET", "{url}/{id}/history", None),
    ("GET", "{url}/{id}/attachments", None),
    ("DELETE", "{url}/{id}?purge=true", None),
]


@pytest.fixture
async def alice(make_user):
    return await make_user(Role.developer, full_name="Alice")


@pytest.fixture
async def bob(make_user):
    return await make_user(Role.tester, full_name="Bob")


@pytest.mark.parametrize("state", ["live", "deleted", "in_a_shared_project"])
@pytest.mark.parametrize(("method", "path", "body"), ON_ONE_EXPENSE)
async def test_someone_elses_expense_is_404(
    client, db, admin, alice, bob, method, path, body, state
):
    project = {}
    if state == "in_a_shared_project":
        project = {"project_id": (await make_project(client, admin, alice, bob))["id"]}
    expense = await make_expense(client, alice, description="private", **project)
    deleted = state == "deleted"
    if deleted:
        r = await client.delete(f"{URL}/{expense['id']}", headers=auth_headers(alice))
        assert r.status_code == 204
    r = await client.request(
        method, path.format(url=URL, id=expense["id"]), json=body, headers=auth_headers(bob)
    )
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "expense_not_found"
    # ... and it is exactly what a missing id answers
    missing = await client.request(
        method, path.format(url=URL, id=10**9), json=body, headers=auth_headers(bob)
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "expense_not_found")
    stored = await db.scalar(select(Expense).where(Expense.id == expense["id"]))
    await db.refresh(stored)
    assert stored.description == "private"
    assert (stored.deleted_at is not None) == deleted


async def test_lists_totals_and_exports_hold_only_my_expenses(client, alice, bob):
    await make_expense(client, alice, description="alice's", amount="5.00")
    mine = await make_expense(client, bob, description="bob's", amount="7.00")
    h = auth_headers(bob)
    assert [e["id"] for e in (await client.get(URL, headers=h)).json()["items"]] == [mine["id"]]
    assert (await client.get(URL, params={"q": "alice"}, headers=h)).json()["items"] == []
    rows = (await client.get(f"{URL}/summary", headers=h)).json()["rows"]
    assert rows == [{"currency": "EUR", "total": "7.00", "count": 1}]
    export = await client.get(f"{URL}/export.csv", headers=h)
    assert "bob's" in export.text and "alice's" not in export.text
    for path in ("", "/summary", "/export.csv"):
        r = await client.get(f"{URL}{path}", params={"user_id": alice.id}, headers=h)
        assert r.status_code == 403, path
    r = await client.get(URL, params={"user_id": bob.id}, headers=h)
    assert [e["id"] for e in r.json()["items"]] == [mine["id"]]


async def test_imports_are_always_the_importers_own(client, alice, bob, db):
    r = await csv_import(
        client,
        bob,
        f"spent_on,amount,currency,category,user\n2026-03-29,1.00,EUR,Meals,{alice.email}\n",
    )
    assert r.status_code == 200, r.text
    owners = set(await db.scalars(select(Expense.user_id)))
    assert owners == {bob.id}


async def test_admin_sees_and_may_fix_anyones_expense(client, admin, alice, bob):
    a = await make_expense(client, alice, amount="1.00")
    b = await make_expense(client, bob, amount="2.00")
    h = auth_headers(admin)
    assert {e["id"] for e in (await client.get(URL, headers=h)).json()["items"]} == {
        a["id"],
        b["id"],
    }
    only_alice = await client.get(URL, params={"user_id": alice.id}, headers=h)
    assert [e["id"] for e in only_alice.json()["items"]] == [a["id"]]
    assert (await client.get(f"{URL}/{b['id']}", headers=h)).status_code == 200
    r = await client.patch(f"{URL}/{b['id']}", json={"description": "fixed"}, headers=h)
    assert r.status_code == 200
    history = (await client.get(f"{URL}/{b['id']}/history", headers=h)).json()["items"]
    assert history[-1]["actor"]["id"] == admin.id
    rows = (await client.get(f"{URL}/summary", params={"group_by": "user"}, headers=h)).json()[
        "rows"
    ]
    assert {(r["user_id"], r["total"]) for r in rows} == {(alice.id, "1.00"), (bob.id, "2.00")}

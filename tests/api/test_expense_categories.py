"""Categories: a default set, two levels, admin-managed, never deleted while in use."""

from __future__ import annotations

from tests.api.expense_helpers import category_id, make_expense
from tests.conftest import auth_headers

URL = "/api/v1/expense-categories"


async def test_the_migration_creates_a_default_set(client, tester):
    r = await client.get(URL, params={"limit": 200}, headers=auth_headers(tester))
    paths = {c["path"] for c in r.json()["items"]}
    assert {"Travel", "Travel/Flights", "Meals", "Software/Subscriptions", "Other"} <= paths


async def test_admins_build_a_two_level_tree(client, admin):
    h = auth_headers(admin)
    parent = await client.post(URL, json={"name": "Marketing"}, headers=h)
    assert parent.status_code == 201, parent.text
    child = await client.post(
        URL, json={"name": "Ads", "parent_id": parent.json()["id"]}, headers=h
    )
    assert child.json()["path"] == "Marketing/Ads"
    grandchild = await client.post(
        URL, json={"name": "Search", "parent_id": child.json()["id"]}, headers=h
    )
    assert (grandchild.status_code, grandchild.json()["code"]) == (422, "invalid_category_parent")
    r = await client.patch(
        f"{URL}/{parent.json()['id']}",
        json={"parent_id": await category_id(client, admin, "Travel")},
        headers=h,
    )
    assert r.json()["code"] == "invalid_category_parent"
    same = await client.post(URL, json={"name": "marketing"}, headers=h)
    assert (same.status_code, same.json()["code"]) == (409, "category_name_taken")
    slash = await client.post(URL, json={"name": "A/B"}, headers=h)
    assert slash.status_code == 422
    r = await client.patch(
        f"{URL}/{child.json()['id']}", json={"name": "Online ads"}, headers={**h, "If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["path"] == "Marketing/Online ads"


async def test_a_category_in_use_cannot_be_deleted(client, admin, tester):
    h = auth_headers(admin)
    created = (await client.post(URL, json={"name": "Snacks"}, headers=h)).json()
    expense = await make_expense(client, tester, category_id=created["id"])
    await client.delete(f"/api/v1/expenses/{expense['id']}", headers=auth_headers(tester))
    r = await client.delete(f"{URL}/{created['id']}", headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "category_in_use")
    travel = await category_id(client, admin, "Travel")
    r = await client.delete(f"{URL}/{travel}", headers=h)
    assert (r.status_code, r.json()["code"]) == (409, "category_in_use")
    unused = (await client.post(URL, json={"name": "Unused"}, headers=h)).json()
    assert (await client.delete(f"{URL}/{unused['id']}", headers=h)).status_code == 204
    assert (await client.get(f"{URL}/{unused['id']}", headers=h)).json()["code"] == (
        "category_not_found"
    )


async def test_only_admins_manage_categories(client, developer):
    h = auth_headers(developer)
    assert (await client.post(URL, json={"name": "Mine"}, headers=h)).status_code == 403
    meals = await category_id(client, developer)
    assert (await client.patch(f"{URL}/{meals}", json={"name": "x"}, headers=h)).status_code == 403
    assert (await client.delete(f"{URL}/{meals}", headers=h)).status_code == 403

"""Admin management of user accounts."""

from __future__ import annotations

from api.models import Role, User
from tests.conftest import auth_headers

USERS = "/api/v1/users"


async def test_admin_lists_users_with_keyset_pagination(client, admin, make_user):
    for _ in range(4):
        await make_user()
    first = await client.get(USERS, params={"limit": 2}, headers=auth_headers(admin))
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert 'rel="next"' in first.headers["Link"]
    seen = [u["id"] for u in page["items"]]
    cursor = page["next_cursor"]
    while cursor:
        r = await client.get(
            USERS, params={"limit": 2, "cursor": cursor}, headers=auth_headers(admin)
        )
        seen += [u["id"] for u in r.json()["items"]]
        cursor = r.json()["next_cursor"]
    assert len(seen) == 5 and seen == sorted(seen)


async def test_user_list_filters_and_descending_sort(client, admin, make_user):
    await make_user(Role.developer, full_name="Grace Hopper")
    await make_user(Role.developer, is_active=False)
    r = await client.get(
        USERS, params={"role": "developer", "is_active": "true"}, headers=auth_headers(admin)
    )
    assert [u["full_name"] for u in r.json()["items"]] == ["Grace Hopper"]
    r = await client.get(USERS, params={"q": "hopp"}, headers=auth_headers(admin))
    assert len(r.json()["items"]) == 1
    r = await client.get(USERS, params={"sort": "-id"}, headers=auth_headers(admin))
    ids = [u["id"] for u in r.json()["items"]]
    assert ids == sorted(ids, reverse=True)


async def test_bad_sort_and_cursor_are_400(client, admin):
    r = await client.get(USERS, params={"sort": "password_hash"}, headers=auth_headers(admin))
    assert r.status_code == 400 and r.json()["code"] == "invalid_sort"
    r = await client.get(USERS, params={"cursor": "!!!"}, headers=auth_headers(admin))
    assert r.status_code == 400 and r.json()["code"] == "invalid_cursor"
    r = await client.get(USERS, params={"limit": 500}, headers=auth_headers(admin))
    assert r.status_code == 422


async def test_admin_creates_user_with_role(client, admin):
    r = await client.post(
        USERS,
        json={
            "email": "dev@example.com",
            "password": "long-enough",
            "full_name": "D",
            "role": "developer",
        },
        headers=auth_headers(admin),
    )
    assert r.status_code == 201
    assert r.json()["role"] == "developer"


async def test_admin_changes_role_and_version_moves(client, admin, tester, db):
    r = await client.patch(
        f"{USERS}/{tester.id}", json={"role": "developer"}, headers=auth_headers(admin)
    )
    assert r.status_code == 200
    assert r.json()["role"] == "developer"
    assert r.json()["version"] == 2
    await db.refresh(tester)
    assert tester.role == Role.developer


async def test_stale_if_match_changes_nothing(client, admin, tester, db):
    read = await client.get(f"{USERS}/{tester.id}", headers=auth_headers(admin))
    etag = read.headers["ETag"]
    ok = await client.patch(
        f"{USERS}/{tester.id}",
        json={"full_name": "One"},
        headers={**auth_headers(admin), "If-Match": etag},
    )
    assert ok.status_code == 200
    stale = await client.patch(
        f"{USERS}/{tester.id}",
        json={"full_name": "Two"},
        headers={**auth_headers(admin), "If-Match": etag},
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "version_conflict"
    await db.refresh(tester)
    assert tester.full_name == "One"


async def test_delete_deactivates_and_keeps_the_account(client, admin, tester, db):
    r = await client.delete(f"{USERS}/{tester.id}", headers=auth_headers(admin))
    assert r.status_code == 200
    assert r.json()["is_active"] is False
    assert await db.get(User, tester.id) is not None


async def test_reactivation(client, admin, make_user):
    user = await make_user(is_active=False)
    r = await client.patch(
        f"{USERS}/{user.id}", json={"is_active": True}, headers=auth_headers(admin)
    )
    assert r.json()["is_active"] is True


async def test_last_admin_cannot_be_demoted_or_deactivated(client, admin, make_user):
    for body in ({"role": "tester"}, {"is_active": False}):
        r = await client.patch(f"{USERS}/{admin.id}", json=body, headers=auth_headers(admin))
        assert r.status_code == 409
        assert r.json()["code"] == "last_admin"
    await make_user(Role.admin)
    r = await client.patch(
        f"{USERS}/{admin.id}", json={"role": "developer"}, headers=auth_headers(admin)
    )
    assert r.status_code == 200


async def test_admin_email_change_must_be_free(client, admin, tester, developer):
    r = await client.patch(
        f"{USERS}/{tester.id}", json={"email": developer.email}, headers=auth_headers(admin)
    )
    assert r.status_code == 409
    r = await client.patch(
        f"{USERS}/{tester.id}", json={"email": "T@Example.com"}, headers=auth_headers(admin)
    )
    assert r.json()["email"] == "t@example.com"


async def test_unknown_user_is_404(client, admin):
    r = await client.get(f"{USERS}/999999", headers=auth_headers(admin))
    assert r.status_code == 404
    assert r.json()["code"] == "user_not_found"

"""Personal access tokens and the own-profile endpoints."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from api.models import PersonalAccessToken, RefreshToken
from tests.conftest import PASSWORD, auth_headers

TOKENS = "/api/v1/users/me/tokens"
ME = "/api/v1/users/me"


async def test_pat_is_shown_once_and_stored_hashed(client, developer, db):
    r = await client.post(TOKENS, json={"name": "ci"}, headers=auth_headers(developer))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token.startswith("nmb_")
    listed = await client.get(TOKENS, headers=auth_headers(developer))
    assert listed.status_code == 200
    assert token not in listed.text
    assert listed.json()["items"][0]["name"] == "ci"
    stored = (await db.scalars(select(PersonalAccessToken))).one()
    assert stored.token_hash != token and token not in stored.token_hash


async def test_pat_authenticates_and_records_last_use(client, developer, db):
    token = (
        await client.post(TOKENS, json={"name": "cli"}, headers=auth_headers(developer))
    ).json()["token"]
    r = await client.get(ME, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.json()["id"] == developer.id
    listed = (await client.get(TOKENS, headers=auth_headers(developer))).json()
    assert listed["items"][0]["last_used_at"] is not None


async def test_revoked_pat_stops_working(client, developer):
    created = (
        await client.post(TOKENS, json={"name": "x"}, headers=auth_headers(developer))
    ).json()
    r = await client.delete(f"{TOKENS}/{created['id']}", headers=auth_headers(developer))
    assert r.status_code == 204
    r = await client.get(ME, headers={"Authorization": f"Bearer {created['token']}"})
    assert r.status_code == 401


async def test_a_pat_cannot_mint_tokens_that_would_outlive_it(client, developer, db):
    token = (
        await client.post(TOKENS, json={"name": "ci"}, headers=auth_headers(developer))
    ).json()["token"]
    pat = {"Authorization": f"Bearer {token}"}
    r = await client.post(TOKENS, json={"name": "from the pat"}, headers=pat)
    assert r.status_code == 403 and r.json()["code"] == "forbidden", r.text
    assert [t["name"] for t in (await client.get(TOKENS, headers=pat)).json()["items"]] == ["ci"]


async def test_cannot_revoke_someone_elses_pat(client, developer, tester):
    created = (
        await client.post(TOKENS, json={"name": "x"}, headers=auth_headers(developer))
    ).json()
    r = await client.delete(f"{TOKENS}/{created['id']}", headers=auth_headers(tester))
    assert r.status_code == 404
    assert r.json()["code"] == "token_not_found"


async def test_expired_pat_is_refused(client, developer, db):
    created = (
        await client.post(TOKENS, json={"name": "x"}, headers=auth_headers(developer))
    ).json()
    stored = await db.get(PersonalAccessToken, created["id"])
    stored.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    await db.commit()
    r = await client.get(ME, headers={"Authorization": f"Bearer {created['token']}"})
    assert r.status_code == 401


async def test_pat_expiry_must_be_in_the_future(client, developer):
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    r = await client.post(
        TOKENS, json={"name": "x", "expires_at": past}, headers=auth_headers(developer)
    )
    assert r.status_code == 422
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = await client.post(
        TOKENS, json={"name": "x", "expires_at": future}, headers=auth_headers(developer)
    )
    assert r.status_code == 201
    # without a zone, or a plain date: taken as UTC (was a 500: naive times cannot be stored)
    naive = (datetime.now(UTC) + timedelta(days=2)).replace(tzinfo=None, microsecond=0)
    for given in (naive.isoformat(), naive.date().isoformat()):
        r = await client.post(
            TOKENS, json={"name": "x", "expires_at": given}, headers=auth_headers(developer)
        )
        assert r.status_code == 201, r.text
        expires = datetime.fromisoformat(r.json()["expires_at"])
        assert expires == datetime.fromisoformat(given).replace(tzinfo=UTC)


async def test_deactivated_users_pat_stops_working(client, developer, db):
    token = (await client.post(TOKENS, json={"name": "x"}, headers=auth_headers(developer))).json()[
        "token"
    ]
    developer.is_active = False
    db.add(developer)
    await db.commit()
    assert (await client.get(ME, headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_unknown_pat_is_refused(client):
    r = await client.get(ME, headers={"Authorization": "Bearer nmb_not-a-real-token"})
    assert r.status_code == 401


async def test_profile_edit_returns_new_etag(client, tester):
    r = await client.patch(
        ME,
        json={"full_name": "Renamed", "email_notifications": False},
        headers=auth_headers(tester),
    )
    assert r.status_code == 200
    assert r.json()["full_name"] == "Renamed"
    assert r.json()["email_notifications"] is False
    assert r.headers["ETag"] == '"2"'


async def test_password_change_needs_the_current_password(client, tester, db):
    r = await client.patch(ME, json={"password": "brand-new-pass"}, headers=auth_headers(tester))
    assert r.status_code == 403
    assert r.json()["code"] == "current_password_required"
    r = await client.patch(
        ME,
        json={"password": "brand-new-pass", "current_password": "wrong"},
        headers=auth_headers(tester),
    )
    assert r.status_code == 403


async def test_password_change_works_and_ends_other_sessions(client, tester, db):
    pair = (
        await client.post(
            "/api/v1/auth/token", data={"username": tester.email, "password": PASSWORD}
        )
    ).json()
    r = await client.patch(
        ME,
        json={"password": "brand-new-pass", "current_password": PASSWORD},
        headers=auth_headers(tester),
    )
    assert r.status_code == 200
    old = await client.post(
        "/api/v1/auth/token", data={"username": tester.email, "password": PASSWORD}
    )
    assert old.status_code == 401
    new = await client.post(
        "/api/v1/auth/token", data={"username": tester.email, "password": "brand-new-pass"}
    )
    assert new.status_code == 200
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    ).status_code == 401
    revoked = (
        await db.scalars(select(RefreshToken.revoked_at).where(RefreshToken.user_id == tester.id))
    ).all()
    # only the sessions opened by and after the change: the one its answer carries, the sign-in
    assert revoked.count(None) == 2


async def test_email_change_needs_password_and_must_be_free(client, tester, developer):
    r = await client.patch(ME, json={"email": "fresh@example.com"}, headers=auth_headers(tester))
    assert r.status_code == 403
    r = await client.patch(
        ME,
        json={"email": developer.email, "current_password": PASSWORD},
        headers=auth_headers(tester),
    )
    assert r.status_code == 409
    r = await client.patch(
        ME,
        json={"email": "Fresh@Example.com", "current_password": PASSWORD},
        headers=auth_headers(tester),
    )
    assert r.status_code == 200
    assert r.json()["email"] == "fresh@example.com"


async def test_profile_cannot_change_own_role(client, tester):
    r = await client.patch(ME, json={"role": "admin"}, headers=auth_headers(tester))
    assert r.status_code == 422


async def test_stale_if_match_on_profile_is_412(client, tester):
    r = await client.patch(
        ME, json={"full_name": "A"}, headers={**auth_headers(tester), "If-Match": '"7"'}
    )
    assert r.status_code == 412
    assert r.json()["code"] == "version_conflict"

"""Issue 18, finding 8: credentials must not outlive a password change or a deactivation.

Whoever knew the old password (or held a token minted with it) must lose access the moment the
owner changes it: every access token at once (a per-user session epoch checked on each request),
every refresh token and every personal access token (unless the owner keeps them, explicitly and
warned). The owner's own request answers with a fresh session, so they stay signed in.
"""

from __future__ import annotations

import time

import httpx
from jose import jwt
from sqlalchemy import select

from api.models import PersonalAccessToken, RefreshToken
from tests.conftest import PASSWORD, TEST_SECRET, auth_headers
from tests.security.embedded import sqlite_app

API = "/api/v1"
ME = f"{API}/users/me"
TOKENS = f"{API}/users/me/tokens"
NEW_PASSWORD = "a brand new passphrase"


async def sign_in(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict:
    r = await client.post(f"{API}/auth/token", data={"username": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def mint_pat(client: httpx.AsyncClient, access_token: str) -> str:
    r = await client.post(TOKENS, json={"name": "ci"}, headers=bearer(access_token))
    assert r.status_code == 201, r.text
    return r.json()["token"]


async def change_password(client: httpx.AsyncClient, access_token: str, **extra) -> httpx.Response:
    body = {"password": NEW_PASSWORD, "current_password": PASSWORD, **extra}
    return await client.patch(ME, json=body, headers=bearer(access_token))


async def test_password_change_ends_every_session_at_once(client, tester):
    laptop = await sign_in(client, tester.email)
    phone = await sign_in(client, tester.email)  # the attacker's session, say
    assert (await change_password(client, laptop["access_token"])).status_code == 200
    for pair in (laptop, phone):
        me = await client.get(ME, headers=bearer(pair["access_token"]))
        assert me.status_code == 401, "an access token from before the change still works"
        assert me.json()["code"] == "invalid_token"
        refreshed = await client.post(
            f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        )
        assert refreshed.status_code == 401


async def test_password_change_ends_access_tokens_minted_outside_a_sign_in(client, tester):
    """A token signed with the server's key but minted before the change (the fixtures' way)."""
    old = auth_headers(tester)
    assert (await client.get(ME, headers=old)).status_code == 200
    pair = await sign_in(client, tester.email)
    assert (await change_password(client, pair["access_token"])).status_code == 200
    assert (await client.get(ME, headers=old)).status_code == 401


async def test_password_change_revokes_personal_access_tokens(client, tester, db):
    pair = await sign_in(client, tester.email)
    pat = await mint_pat(client, pair["access_token"])
    assert (await client.get(ME, headers=bearer(pat))).status_code == 200
    changed = await change_password(client, pair["access_token"])
    assert changed.status_code == 200
    r = await client.get(ME, headers=bearer(pat))
    assert r.status_code == 401, "a personal access token from before the change still works"
    fresh = changed.json()["session"]["access_token"]
    listed = await client.get(TOKENS, headers=bearer(fresh))
    assert listed.json()["items"] == []
    stored = (await db.scalars(select(PersonalAccessToken))).all()
    assert [t.revoked_at is not None for t in stored] == [True]


async def test_password_change_answers_with_a_fresh_session_that_works(client, tester):
    pair = await sign_in(client, tester.email)
    r = await change_password(client, pair["access_token"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["email"] == tester.email
    session = body["session"]
    assert session["token_type"] == "bearer" and session["refresh_token"]
    assert (await client.get(ME, headers=bearer(session["access_token"]))).status_code == 200
    refreshed = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": session["refresh_token"]}
    )
    assert refreshed.status_code == 200
    assert (await client.get(ME, headers=bearer(refreshed.json()["access_token"]))).is_success
    # a PAT minted after the change works
    pat = await mint_pat(client, refreshed.json()["access_token"])
    assert (await client.get(ME, headers=bearer(pat))).status_code == 200
    # and the password is the new one
    await sign_in(client, tester.email, NEW_PASSWORD)


async def test_profile_edits_without_a_new_password_keep_every_session(client, tester):
    pair = await sign_in(client, tester.email)
    pat = await mint_pat(client, pair["access_token"])
    r = await client.patch(ME, json={"full_name": "Renamed"}, headers=bearer(pair["access_token"]))
    assert r.status_code == 200
    assert r.json()["session"] is None
    assert (await client.get(ME, headers=bearer(pair["access_token"]))).status_code == 200
    assert (await client.get(ME, headers=bearer(pat))).status_code == 200


async def test_keeping_tokens_is_an_explicit_choice_with_a_warning(client, tester):
    pair = await sign_in(client, tester.email)
    pat = await mint_pat(client, pair["access_token"])
    r = await change_password(client, pair["access_token"], keep_tokens=True)
    assert r.status_code == 200, r.text
    warnings = r.json()["warnings"]
    assert len(warnings) == 1 and "1 personal access token" in warnings[0]
    assert (await client.get(ME, headers=bearer(pat))).status_code == 200
    # sessions end all the same: only the PATs were kept
    assert (await client.get(ME, headers=bearer(pair["access_token"]))).status_code == 401


async def test_keep_tokens_without_a_new_password_is_refused(client, tester):
    pair = await sign_in(client, tester.email)
    r = await client.patch(ME, json={"keep_tokens": True}, headers=bearer(pair["access_token"]))
    assert r.status_code == 422
    assert "keep_tokens" in str(r.json()["errors"])


async def test_reactivating_an_account_does_not_revive_its_old_tokens(client, tester, admin):
    pair = await sign_in(client, tester.email)
    pat = await mint_pat(client, pair["access_token"])
    user_url = f"{API}/users/{tester.id}"
    off = await client.patch(user_url, json={"is_active": False}, headers=auth_headers(admin))
    assert off.status_code == 200, off.text
    for token in (pair["access_token"], pat):
        assert (await client.get(ME, headers=bearer(token))).status_code == 401
    on = await client.patch(user_url, json={"is_active": True}, headers=auth_headers(admin))
    assert on.status_code == 200
    for token in (pair["access_token"], pat):
        r = await client.get(ME, headers=bearer(token))
        assert r.status_code == 401, "a token from before the deactivation works again"
    refreshed = await client.post(
        f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]}
    )
    assert refreshed.status_code == 401
    await sign_in(client, tester.email)  # the account itself works again


async def test_password_change_ends_old_sessions_on_sqlite(tmp_path):
    async with sqlite_app(tmp_path) as at:
        c = at("192.0.2.10")
        account = {"email": "owner@example.com", "password": PASSWORD, "full_name": "Owner"}
        assert (await c.post(f"{API}/auth/register", json=account)).status_code == 201
        pair = await sign_in(c, account["email"])
        pat = await mint_pat(c, pair["access_token"])
        changed = await change_password(c, pair["access_token"])
        assert changed.status_code == 200, changed.text
        for token in (pair["access_token"], pat):
            assert (await c.get(ME, headers=bearer(token))).status_code == 401
        r = await c.post(f"{API}/auth/refresh", json={"refresh_token": pair["refresh_token"]})
        assert r.status_code == 401
        fresh = changed.json()["session"]["access_token"]
        assert (await c.get(ME, headers=bearer(fresh))).status_code == 200


async def test_a_refresh_token_minted_under_the_old_epoch_is_refused(client, tester, db):
    """A refresh that raced the change: its token was written with the epoch it read."""
    pair = await sign_in(client, tester.email)
    changed = await change_password(client, pair["access_token"])
    fresh = changed.json()["session"]["refresh_token"]
    stored = (await db.scalars(select(RefreshToken).where(RefreshToken.revoked_at.is_(None)))).one()
    stored.session_epoch -= 1
    await db.commit()
    r = await client.post(f"{API}/auth/refresh", json={"refresh_token": fresh})
    assert r.status_code == 401


async def test_an_access_token_with_a_malformed_epoch_is_refused(client, tester):
    now = int(time.time())
    claims = {"sub": str(tester.id), "iat": now, "exp": now + 600, "jti": "j", "typ": "access"}
    token = jwt.encode({**claims, "epoch": "0"}, TEST_SECRET, algorithm="HS256")
    assert (await client.get(ME, headers=bearer(token))).status_code == 401

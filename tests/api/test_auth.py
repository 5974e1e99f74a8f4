"""Registration, sign-in, refresh rotation, logout and token validation."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt
from sqlalchemy import func, select

from api import security
from api.models import LoginFailure, RefreshToken, Role, User
from tests.conftest import PASSWORD, TEST_SECRET, auth_headers

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/users/me"


def new_account(email: str = "new@example.com") -> dict[str, str]:
    return {"email": email, "password": "s3cret-enough", "full_name": "New Person"}


async def login(client, email: str, password: str = PASSWORD):
    return await client.post(TOKEN, data={"username": email, "password": password})


async def test_first_registered_user_becomes_admin_then_testers(client, db):
    first = await client.post(REGISTER, json=new_account("first@example.com"))
    second = await client.post(REGISTER, json=new_account("second@example.com"))
    assert first.status_code == 201, first.text
    assert first.json()["role"] == "admin"
    assert second.json()["role"] == "tester"
    assert "password" not in first.text and "password_hash" not in first.text


async def test_registration_closed_is_refused(client, settings, db):
    settings.registration = "closed"
    r = await client.post(REGISTER, json=new_account())
    assert r.status_code == 403
    assert r.json()["code"] == "registration_closed"
    assert await db.scalar(select(func.count()).select_from(User)) == 0


async def test_duplicate_email_is_a_conflict_regardless_of_case(client, tester):
    r = await client.post(REGISTER, json=new_account(tester.email.upper()))
    assert r.status_code == 409
    assert r.json()["code"] == "email_taken"


@pytest.mark.parametrize(
    ("body", "bad_field"),
    [
        ({"email": "not-an-email", "password": "long-enough", "full_name": "X"}, "email"),
        ({"email": "a@example.com", "password": "short", "full_name": "X"}, "password"),
        ({"email": "a@example.com", "password": "long-enough", "full_name": ""}, "full_name"),
        (
            {"email": "a@example.com", "password": "long-enough", "full_name": "x" * 201},
            "full_name",
        ),
        ({"email": "a@example.com", "password": 12345678, "full_name": "X"}, "password"),
        ({"email": "a@example.com", "password": "long-enough"}, "full_name"),
        (
            {
                "email": "a@example.com",
                "password": "long-enough",
                "full_name": "X",
                "role": "admin",
            },
            "role",
        ),
        ({"email": "a@example.com", "password": "x" * 300, "full_name": "X"}, "password"),
    ],
)
async def test_bad_registration_is_422_with_the_field_named(client, db, body, bad_field):
    r = await client.post(REGISTER, json=body)
    assert r.status_code == 422
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "validation_error"
    assert any(bad_field in e["loc"] for e in problem["errors"])
    assert await db.scalar(select(func.count()).select_from(User)) == 0


async def test_malformed_json_is_422(client):
    r = await client.post(
        REGISTER, content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["type"] == "json_invalid"


async def test_unicode_and_sql_like_text_is_stored_verbatim(client):
    name = "Zoë O'Brien'); DROP TABLE user_account;-- 🐛"
    r = await client.post(REGISTER, json={**new_account(), "full_name": name})
    assert r.status_code == 201
    assert r.json()["full_name"] == name


async def test_login_returns_a_working_token_pair(client, tester):
    r = await login(client, tester.email)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] > 0 and body["refresh_token"]
    me = await client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == tester.email


async def test_login_email_is_case_insensitive(client, tester):
    assert (await login(client, tester.email.upper())).status_code == 200


async def test_wrong_password_and_unknown_account_look_the_same(client, tester):
    wrong = await login(client, tester.email, "wrong password")
    unknown = await login(client, "nobody@example.com", "wrong password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"
    assert wrong.json()["detail"] == unknown.json()["detail"]


async def test_unknown_account_pays_for_the_same_argon2_verification(client, tester, monkeypatch):
    """Equal work, counted rather than timed: both paths run one real argon2id verification
    with the same cost parameters (the wrapper still calls the real verify)."""
    from api import security

    verified: list[str] = []
    real_verify = security._passwords.verify

    def counting_verify(secret, hash, **kwargs):
        verified.append(hash)
        return real_verify(secret, hash, **kwargs)

    monkeypatch.setattr(security._passwords, "verify", counting_verify)
    assert (await login(client, "nobody@example.com", "wrong password")).status_code == 401
    assert (await login(client, tester.email, "wrong password")).status_code == 401
    assert len(verified) == 2
    unknown, known = (h.split("$") for h in verified)
    assert unknown[1] == known[1] == "argon2id"
    assert unknown[3] == known[3]  # m=<memory>,t=<time>,p=<parallelism>


async def test_repeated_failures_are_rate_limited_per_account_and_client(client, tester, settings):
    for _ in range(settings.login_max_failures):
        assert (await login(client, tester.email, "nope")).status_code == 401
    # even the right password waits, from this client (others: tests/security/test_login_limits)
    r = await login(client, tester.email, PASSWORD)
    assert r.status_code == 429
    assert r.json()["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= settings.login_window_s + 1


async def test_rate_limit_per_client_address_spans_accounts(client, settings, db):
    for i in range(settings.login_max_failures * 4):
        await login(client, f"ghost{i}@example.com", "nope")
    r = await login(client, "someone-else@example.com", "nope")
    assert r.status_code == 429
    assert r.json()["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= settings.login_window_s + 1


async def test_successful_logins_do_not_count_and_clear_the_clients_failures(
    client, tester, settings, db
):
    for _ in range(settings.login_max_failures - 1):
        await login(client, tester.email, "nope")
    assert (await login(client, tester.email)).status_code == 200
    for _ in range(settings.login_max_failures * 2):
        assert (await login(client, tester.email)).status_code == 200
    subjects = (await db.scalars(select(LoginFailure.subject))).all()
    assert f"pair:127.0.0.1 {tester.email}" not in subjects


async def test_deactivated_user_cannot_log_in(client, make_user):
    user = await make_user(is_active=False)
    r = await login(client, user.email)
    assert r.status_code == 403
    assert r.json()["code"] == "account_inactive"


async def test_refresh_rotates_the_pair(client, tester):
    first = (await login(client, tester.email)).json()
    r = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    me = await client.get(ME, headers={"Authorization": f"Bearer {second['access_token']}"})
    assert me.status_code == 200


async def test_reusing_a_spent_refresh_token_revokes_the_family(client, tester, db):
    first = (await login(client, tester.email)).json()
    second = (await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})).json()
    reuse = await client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    # The legitimate holder's newer token is dead too: the family is revoked.
    after = await client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401
    live = await db.scalar(
        select(func.count()).where(
            RefreshToken.user_id == tester.id, RefreshToken.revoked_at.is_(None)
        )
    )
    assert live == 0


async def test_logout_revokes_the_refresh_token(client, tester):
    pair = (await login(client, tester.email)).json()
    assert (
        await client.post(LOGOUT, json={"refresh_token": pair["refresh_token"]})
    ).status_code == 204
    r = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401


async def test_unknown_and_expired_refresh_tokens_are_refused(client, tester, db):
    assert (await client.post(REFRESH, json={"refresh_token": "made-up"})).status_code == 401
    pair = (await login(client, tester.email)).json()
    stored = (await db.scalars(select(RefreshToken).where(RefreshToken.user_id == tester.id))).one()
    stored.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    await db.commit()
    r = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"


async def test_refresh_for_a_deactivated_user_is_refused(client, tester, db):
    pair = (await login(client, tester.email)).json()
    tester.is_active = False
    db.add(tester)
    await db.commit()
    r = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401


def _claims(user_id: int, **overrides):
    now = int(time.time())
    claims = {"sub": str(user_id), "iat": now, "exp": now + 600, "jti": "x", "typ": "access"}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _unsigned(claims) -> str:
    import base64
    import json

    def b64(obj) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(
            lambda uid: jwt.encode(_claims(uid, exp=int(time.time()) - 5), TEST_SECRET),
            id="expired",
        ),
        pytest.param(
            lambda uid: jwt.encode(_claims(uid), "another-secret-of-some-length"), id="forged"
        ),
        pytest.param(lambda uid: _unsigned(_claims(uid)), id="alg-none"),
        pytest.param(
            lambda uid: jwt.encode(_claims(uid), TEST_SECRET, algorithm="HS512"), id="hs512"
        ),
        pytest.param(lambda uid: jwt.encode(_claims(uid, sub=None), TEST_SECRET), id="no-sub"),
        pytest.param(lambda uid: jwt.encode(_claims(uid, jti=None), TEST_SECRET), id="no-jti"),
        pytest.param(
            lambda uid: jwt.encode(_claims(uid, typ="refresh"), TEST_SECRET), id="wrong-typ"
        ),
        pytest.param(lambda uid: jwt.encode(_claims(uid, sub="abc"), TEST_SECRET), id="bad-sub"),
        pytest.param(lambda uid: jwt.encode(_claims(999_999), TEST_SECRET), id="unknown-user"),
        pytest.param(lambda uid: "garbage", id="garbage"),
    ],
)
async def test_bad_access_tokens_are_refused(client, tester, make_token):
    r = await client.get(ME, headers={"Authorization": f"Bearer {make_token(tester.id)}"})
    assert r.status_code == 401
    assert r.json()["code"] == "invalid_token"
    assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_missing_token_is_401(client):
    r = await client.get(ME)
    assert r.status_code == 401
    assert r.json()["code"] == "not_authenticated"


async def test_deactivated_users_old_token_stops_working(client, admin, tester):
    headers = auth_headers(tester)
    assert (await client.get(ME, headers=headers)).status_code == 200
    r = await client.patch(
        f"/api/v1/users/{tester.id}", json={"is_active": False}, headers=auth_headers(admin)
    )
    assert r.status_code == 200
    assert (await client.get(ME, headers=headers)).status_code == 401


async def test_registered_user_role_is_tester_even_if_asked(client, admin):
    r = await client.post(REGISTER, json={**new_account(), "role": "admin"})
    assert r.status_code == 422  # unknown fields are refused, not silently ignored


async def test_password_is_stored_as_argon2(client, db):
    await client.post(REGISTER, json=new_account())
    stored = await db.scalar(select(User.password_hash))
    assert stored.startswith("$argon2id$")


async def test_first_user_admin_role_value(client, db):
    await client.post(REGISTER, json=new_account())
    assert await db.scalar(select(User.role)) == Role.admin


async def test_a_token_accepted_once_is_refused_once_it_expires(client, tester):
    """Verified tokens are remembered (api.security): never past their `exp`."""
    expires = int(time.time()) + 1
    token = jwt.encode(_claims(tester.id, exp=expires), TEST_SECRET)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get(ME, headers=headers)).status_code == 200
    assert (await client.get(ME, headers=headers)).status_code == 200  # from memory
    await asyncio.sleep(expires + 1.05 - time.time())  # jose: expired once now > exp
    r = await client.get(ME, headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "invalid_token"


async def test_argon2_runs_off_the_event_loop(monkeypatch):
    """~20 ms of CPU a call, GIL released: in a thread, other requests are served meanwhile."""
    ran_on = []
    original = security._passwords

    class Recording:
        def hash(self, password):
            ran_on.append(threading.current_thread())
            return original.hash(password)

        def verify(self, password, password_hash):
            ran_on.append(threading.current_thread())
            return original.verify(password, password_hash)

    monkeypatch.setattr(security, "_passwords", Recording())
    hashed = await security.hash_password("long-enough")
    assert await security.verify_password("long-enough", hashed)
    assert not await security.verify_password("wrong-password", None)
    assert len(ran_on) == 3 and threading.main_thread() not in ran_on
    # On its own threads, at most one per core: a burst of sign-ins neither takes the default
    # pool's threads (file I/O uses them) nor runs more hashes at once than there are cores.
    ran_on.clear()
    await asyncio.gather(*(security.hash_password("long-enough") for _ in range(12)))
    assert all(thread.name.startswith("argon2") for thread in ran_on)
    assert len(set(ran_on)) <= len(os.sched_getaffinity(0))

"""Issue 18, finding 14 (registration): one client must not mint accounts by the dozen.

The review registered 20 accounts from one client in 0.9 s, each a tester with its own job
quota. Self-registrations are limited per client address (NIMBUS_REGISTRATION_MAX_PER_CLIENT in
NIMBUS_REGISTRATION_WINDOW_S), answered 429 with Retry-After, and the limit holds when the
registrations arrive all at once.
"""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import delete, func, select
from sqlmodel import col

from api.config import Settings
from api.db import create_sessionmaker
from api.main import create_app
from api.models import LoginFailure, User
from tests.conftest import PASSWORD
from tests.security.embedded import client_at, sqlite_app

REGISTER = "/api/v1/auth/register"
DEFAULT_MAX = Settings.model_fields["registration_max_per_client"].default
DEFAULT_WINDOW = Settings.model_fields["registration_window_s"].default


def account(n: int, password: str = PASSWORD) -> dict[str, str]:
    return {"email": f"signup{n}@example.com", "password": password, "full_name": f"Signup {n}"}


async def test_defaults_allow_a_handful_of_accounts_per_client_and_hour():
    assert 1 <= DEFAULT_MAX <= 10
    assert DEFAULT_WINDOW >= 3600


async def test_registrations_beyond_the_limit_are_429_with_retry_after(app, settings, db):
    settings.registration_max_per_client = DEFAULT_MAX
    async with client_at(app, "198.51.100.20") as c:
        for n in range(DEFAULT_MAX):
            assert (await c.post(REGISTER, json=account(n))).status_code == 201
        r = await c.post(REGISTER, json=account(99))
    assert r.status_code == 429, r.text
    assert r.json()["code"] == "rate_limited"
    assert 1 < int(r.headers["Retry-After"]) <= settings.registration_window_s + 1
    assert await db.scalar(select(func.count()).select_from(User)) == DEFAULT_MAX


async def test_another_client_still_registers(app, settings):
    settings.registration_max_per_client = 2
    async with client_at(app, "198.51.100.21") as busy, client_at(app, "203.0.113.21") as other:
        for n in range(2):
            assert (await busy.post(REGISTER, json=account(n))).status_code == 201
        assert (await busy.post(REGISTER, json=account(2))).status_code == 429
        assert (await other.post(REGISTER, json=account(3))).status_code == 201


async def test_refused_registrations_do_not_use_up_the_allowance(app, settings):
    settings.registration_max_per_client = 2
    async with client_at(app, "198.51.100.22") as c:
        for _ in range(4):
            assert (await c.post(REGISTER, json=account(0, "password"))).status_code == 422
        assert (await c.post(REGISTER, json=account(0))).status_code == 201
        assert (await c.post(REGISTER, json=account(0))).status_code == 409  # taken
        assert (await c.post(REGISTER, json=account(1))).status_code == 201


async def test_a_burst_of_parallel_registrations_gets_only_the_allowance(settings, engine):
    """All at once, on the app's own connections (each request its own transaction)."""
    settings.registration_max_per_client = DEFAULT_MAX
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    emails = [account(n)["email"] for n in range(20)]
    try:
        async with client_at(app, "198.51.100.23") as c:
            results = await asyncio.gather(*(c.post(REGISTER, json=account(n)) for n in range(20)))
        codes = sorted(r.status_code for r in results)
        assert codes == [201] * DEFAULT_MAX + [429] * (20 - DEFAULT_MAX), [r.text for r in results]
    finally:
        async with create_sessionmaker(engine)() as s:
            await s.execute(delete(User).where(col(User.email).in_(emails)))
            await s.execute(delete(LoginFailure))
            await s.commit()


async def test_a_burst_of_parallel_registrations_on_sqlite(tmp_path):
    async with sqlite_app(tmp_path) as at:
        c = at("198.51.100.24")
        results = await asyncio.gather(*(c.post(REGISTER, json=account(n)) for n in range(20)))
        codes = sorted(r.status_code for r in results)
        assert codes == [201] * DEFAULT_MAX + [429] * (20 - DEFAULT_MAX), [r.text for r in results]
        other = at("203.0.113.24")
        assert (await other.post(REGISTER, json=account(50))).status_code == 201


async def test_registration_is_throttled_on_a_live_server_too(tmp_path):
    from tests.support.server import nimbus_env, start_server

    server = start_server(nimbus_env(tmp_path, executor_backend="off"))
    try:
        async with httpx.AsyncClient(base_url=server.api, timeout=30) as c:
            codes = [
                (await c.post("/auth/register", json=account(n))).status_code for n in range(8)
            ]
        assert codes == [201] * DEFAULT_MAX + [429] * (8 - DEFAULT_MAX)
    finally:
        server.stop()

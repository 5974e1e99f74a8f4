"""Issue 18, finding 9: the login limits must slow an attacker without locking the owner out, and
the client address they key on must not be the client's to choose.

Failures are counted per (account, client) with an exponential delay, per client across accounts,
and per account only as a ceiling that still admits a client with no recent failures. The client
is the TCP peer unless the peer is a configured proxy (NIMBUS_FORWARDED_ALLOW_IPS), as uvicorn's
ProxyHeadersMiddleware decides in `nimbus serve` — exercised here on a live process.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from sqlalchemy import select

from api.config import Settings
from api.models import LoginFailure
from tests.conftest import PASSWORD
from tests.security.embedded import client_at, sqlite_app
from tests.support.server import nimbus_env, start_server

TOKEN = "/api/v1/auth/token"


WRONG = "not it"


async def attempt(client: httpx.AsyncClient, email: str, password: str = WRONG) -> int:
    r = await client.post(TOKEN, data={"username": email, "password": password})
    if r.status_code == 429:
        assert r.json()["code"] == "rate_limited"
        assert int(r.headers["Retry-After"]) >= 1
    return r.status_code


async def age_failures(db, seconds: float) -> None:
    """As if the failures so far happened ``seconds`` earlier (waiting, without the wait)."""
    for failure in (await db.scalars(select(LoginFailure))).all():
        failure.created_at -= timedelta(seconds=seconds)
    await db.commit()


async def test_failures_from_one_client_do_not_lock_the_owner_out(app, tester):
    async with client_at(app, "198.51.100.1") as attacker, client_at(app, "203.0.113.7") as owner:
        statuses = [await attempt(attacker, tester.email) for _ in range(30)]
        assert set(statuses) == {401, 429}
        assert await attempt(owner, tester.email, PASSWORD) == 200


async def test_the_attacking_client_waits_longer_after_each_failure(app, db, tester, settings):
    async with client_at(app, "198.51.100.2") as attacker:
        free = [await attempt(attacker, tester.email) for _ in range(settings.login_max_failures)]
        assert free == [401] * settings.login_max_failures
        waits = []
        for _ in range(3):
            r = await attacker.post(TOKEN, data={"username": tester.email, "password": PASSWORD})
            assert r.status_code == 429, "the client that failed must wait, even if right now"
            waits.append(int(r.headers["Retry-After"]))
            await age_failures(db, waits[-1])  # the wait is over ...
            assert await attempt(attacker, tester.email) == 401  # ... and it fails again
        assert waits[0] >= 2 and waits[1] >= 2 * waits[0] - 1 and waits[2] >= 2 * waits[1] - 1
        # once its wait is over, the right password from that client is accepted again
        r = await attacker.post(TOKEN, data={"username": tester.email, "password": PASSWORD})
        assert r.status_code == 429
        await age_failures(db, int(r.headers["Retry-After"]))
        assert await attempt(attacker, tester.email, PASSWORD) == 200


async def test_the_account_ceiling_slows_dirty_clients_but_admits_a_clean_one(
    app, db, tester, settings
):
    settings.login_max_failures = 2  # ceiling: 20 failures of the account from any clients
    bots = [client_at(app, f"198.51.100.{n}") for n in range(10, 20)]
    try:
        for bot in bots:
            assert [await attempt(bot, tester.email) for _ in range(2)] == [401, 401]
        await age_failures(db, 60)  # every bot's own delay is over; the ceiling is not
        assert await attempt(bots[0], tester.email, PASSWORD) == 429
        async with client_at(app, "203.0.113.8") as owner, client_at(app, "203.0.113.9") as new:
            assert await attempt(owner, tester.email, PASSWORD) == 200
            assert await attempt(new, tester.email) == 401  # one guess per fresh address
            assert await attempt(new, tester.email) == 429
    finally:
        for bot in bots:
            await bot.aclose()


async def test_guesses_sent_at_once_are_limited_like_guesses_in_a_row(tmp_path):
    # the limits were read before the password check and written after it: a burst of guesses
    # all passed the check before any failure was stored (own sessions per request: SQLite)
    async with sqlite_app(tmp_path) as at:
        attacker, owner = at("198.51.100.9"), at("203.0.113.9")
        account = {"email": "burst@example.com", "password": PASSWORD, "full_name": "Owner"}
        assert (await owner.post("/api/v1/auth/register", json=account)).status_code == 201
        free = Settings().login_max_failures
        burst = free * 3
        statuses = await asyncio.gather(
            *(attempt(attacker, account["email"]) for _ in range(burst))
        )
        assert statuses.count(401) <= free, statuses
        assert statuses.count(429) >= burst - free
        assert await attempt(owner, account["email"], PASSWORD) == 200


async def test_an_ipv6_attacker_cannot_start_afresh_from_each_address_of_its_64(
    app, tester, settings
):
    statuses = []
    for n in range(settings.login_max_failures * 2):
        async with client_at(app, f"2001:db8:1:2::{n + 1:x}") as attacker:
            statuses.append(await attempt(attacker, tester.email))
    assert statuses[: settings.login_max_failures] == [401] * settings.login_max_failures
    assert set(statuses[settings.login_max_failures :]) == {429}
    async with client_at(app, "2001:db8:1:3::1") as owner:  # another /64 is another client
        assert await attempt(owner, tester.email, PASSWORD) == 200


async def test_unknown_accounts_are_limited_like_real_ones(app, tester, settings):
    async with client_at(app, "198.51.100.3") as a, client_at(app, "198.51.100.4") as b:
        n = settings.login_max_failures + 2
        known = [await attempt(a, tester.email) for _ in range(n)]
        unknown = [await attempt(b, "nobody-here@example.com") for _ in range(n)]
        assert known == unknown


async def test_a_username_too_long_to_store_is_counted_like_any_other(app, settings):
    """The failure table keys on the username: one longer than its column is stored hashed,
    not refused (nor a 500), and limited the same way."""
    long_name = "x" * 600 + "@example.com"
    async with client_at(app, "198.51.100.6") as c:
        statuses = [await attempt(c, long_name) for _ in range(settings.login_max_failures + 2)]
    assert statuses == [401] * settings.login_max_failures + [429] * 2


async def test_owner_gets_in_while_attacked_on_sqlite(tmp_path):
    async with sqlite_app(tmp_path) as at:
        attacker, owner = at("198.51.100.5"), at("203.0.113.5")
        account = {"email": "owner@example.com", "password": PASSWORD, "full_name": "Owner"}
        assert (await owner.post("/api/v1/auth/register", json=account)).status_code == 201
        statuses = [await attempt(attacker, account["email"]) for _ in range(30)]
        assert statuses.count(401) >= 5 and statuses[-1] == 429
        assert await attempt(owner, account["email"], PASSWORD) == 200


@pytest.fixture
def live_server(tmp_path):
    """`nimbus serve` as a user starts it (SQLite), with settings of the test's choosing."""
    servers = []

    def start(**settings: str):
        server = start_server(nimbus_env(tmp_path / f"s{len(servers)}", **settings))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


async def test_forwarded_for_from_a_peer_that_is_no_proxy_is_ignored(live_server):
    """The review's attack: made-up X-Forwarded-For values, one per attempt, from one client."""
    server = live_server(executor_backend="off")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as c:
        statuses = []
        for n in range(24):
            r = await c.post(
                TOKEN,
                data={"username": f"ghost{n}@example.com", "password": "not it"},
                headers={"X-Forwarded-For": f"192.0.2.{n + 1}"},
            )
            statuses.append(r.status_code)
    # one client: its 20 failures across accounts (4 x NIMBUS_LOGIN_MAX_FAILURES) are the limit
    assert statuses[:20] == [401] * 20
    assert statuses[20:] == [429] * 4, statuses


async def test_forwarded_for_from_the_configured_proxy_names_the_client(live_server):
    server = live_server(executor_backend="off", forwarded_allow_ips="127.0.0.1")
    account = {"email": "owner@example.com", "password": PASSWORD, "full_name": "Owner"}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as c:
        assert (await c.post("/api/v1/auth/register", json=account)).status_code == 201

        async def via_proxy(forwarded_for: str, password: str = WRONG) -> int:
            r = await c.post(
                TOKEN,
                data={"username": account["email"], "password": password},
                headers={"X-Forwarded-For": forwarded_for},
            )
            return r.status_code

        attacked = [await via_proxy("198.51.100.9") for _ in range(8)]
        assert attacked[:5] == [401] * 5 and attacked[5:] == [429] * 3
        # a client that prepends made-up hops is still the address the proxy saw
        assert await via_proxy("203.0.113.1, 198.51.100.9", PASSWORD) == 429
        assert await via_proxy("198.51.100.9, 203.0.113.1", PASSWORD) == 200


def test_the_shipped_stack_believes_forwarded_headers_from_its_proxy_alone():
    """docker-compose.yml trusted X-Forwarded-For from anyone, and nginx appended the client's
    own header to its address: both let a client pick the address its failures count under."""
    root = Path(__file__).resolve().parents[2]
    nginx = (root / "deploy" / "nginx.conf").read_text()
    directives = [line.split("#")[0].strip() for line in nginx.splitlines()]
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in directives
    assert not any("$proxy_add_x_forwarded_for" in d for d in directives)
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    api, web = compose["services"]["api"], compose["services"]["web"]
    assert "FORWARDED_ALLOW_IPS" not in api["environment"]  # uvicorn's own: not read any more
    trusted = api["environment"]["NIMBUS_FORWARDED_ALLOW_IPS"]
    edge = compose["networks"]["edge"]["ipam"]["config"][0]["subnet"]
    assert trusted == edge and "*" not in trusted
    assert web["networks"] == ["edge"]  # web reaches the api from the trusted network only
    members = [name for name, s in compose["services"].items() if "edge" in s.get("networks", [])]
    assert sorted(members) == ["api", "web"]

"""PostgreSQL restarted under load: while it is away the API answers clean 503 problem+json
(never a 500, never a hang), and it recovers on its own — no API restart — without losing any
write it acknowledged."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.support.load import audit, prepare, run_load
from tests.support.postgres import start_cluster
from tests.support.server import nimbus_env, start_server

pytestmark = pytest.mark.slow

OUTAGE_S = 3.0


async def test_postgres_restart_gives_clean_503s_and_the_api_recovers(tmp_path):
    cluster = await asyncio.to_thread(start_cluster)  # our own: the test restarts it
    server = None
    try:
        cluster.psql("CREATE DATABASE nimbus")
        url = cluster.url("nimbus")
        env = nimbus_env(tmp_path, database_url=url, executor_backend="off")
        server = await asyncio.to_thread(start_server, env)
        ws = await prepare(server.api, users=4, seed_bugs=10)
        load = asyncio.create_task(run_load(server.api, ws, 12.0, jobs=False, timeout_s=10))
        await asyncio.sleep(3)
        await asyncio.to_thread(cluster.shut_down, fast=True)
        async with httpx.AsyncClient(base_url=server.api, timeout=10) as client:
            started = time.monotonic()
            during = await client.get("/bugs", headers=ws.actors[0].headers)
            answered_in_s = time.monotonic() - started
            ready = await client.get(f"{server.base_url}/readyz")
            await asyncio.sleep(OUTAGE_S)
            await asyncio.to_thread(cluster.start)
            recovered_after_s = await _first_write_after(client, ws, deadline_s=15)
        result = await load
        checked = await audit(url, result.writes)
    finally:
        if server is not None:
            await asyncio.to_thread(server.stop)
        await asyncio.to_thread(cluster.stop)

    assert during.status_code == 503, during.text
    assert during.headers["content-type"] == "application/problem+json"
    assert during.json()["code"] == "service_unavailable"
    assert during.headers.get("retry-after")
    assert answered_in_s < 5
    assert ready.status_code == 503
    assert recovered_after_s is not None, "no write succeeded within 15 s of PostgreSQL's return"
    # the load saw the outage, only ever as 503 problem+json, and every request was answered
    assert result.no_response == [], result.no_response[:3]
    assert result.server_errors, "the outage never reached the load"
    bad = [
        f
        for f in result.server_errors
        if (f.status, f.content_type, f.code)
        != (503, "application/problem+json", "service_unavailable")
    ]
    assert bad == [], bad[:3]
    table = result.table()
    assert table["all"]["ok"] > 0
    assert checked.missing == []


async def _first_write_after(client, ws, deadline_s):
    """Seconds until a bug can be filed again, or None if that never happened in time."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        r = await client.post(
            f"/projects/{ws.project_id}/bugs",
            json={"title": "Filed right after the database came back"},
            headers=ws.actors[0].headers,
        )
        if r.status_code == 201:
            return time.monotonic() - started
        assert r.status_code == 503, r.text
        await asyncio.sleep(0.2)
    return None

"""The Docker engine restarted while jobs run: each of those jobs ends cleanly (`error` with a
reason, or retried and finished) — none is left `running` — and the worker, without being
restarted itself, runs the jobs submitted afterwards."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from executor.image.build import build_image
from tests.executor.docker_engine import start_private_dockerd
from tests.support.load import PASSWORD, TERMINAL_JOB
from tests.support.postgres import Cluster
from tests.support.server import nimbus_env, start_server

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SLOW = "import time\nprint('started', flush=True)\ntime.sleep(4)\nprint('done')\n"


@pytest.fixture
def own_engine():
    """A daemon of our own (the test restarts it), with a throwaway data root."""
    try:
        engine = start_private_dockerd(throwaway=True)
    except RuntimeError as exc:
        pytest.fail(f"cannot start a private dockerd: {exc}", pytrace=False)
    try:
        build_image(docker_host=engine.docker_host, tag=engine.image)
        yield engine
    finally:
        engine.stop()


async def test_docker_restart_mid_job_ends_cleanly_and_the_worker_recovers(
    pg_cluster: Cluster, own_engine, tmp_path
):
    pg_cluster.psql("CREATE DATABASE nimbus_docker_restart")
    env = nimbus_env(
        tmp_path,
        database_url=pg_cluster.url("nimbus_docker_restart"),
        executor_backend="docker",
        docker_host=own_engine.docker_host,
        sandbox_image=own_engine.image,
        job_concurrency="2",
        sandbox_pool_size="2",
        job_poll_interval_s="0.2",
    )
    server = await asyncio.to_thread(start_server, env)
    try:
        async with httpx.AsyncClient(base_url=server.api, timeout=40) as c:
            headers = await _sign_up(c)
            ids = []
            for _ in range(2):
                r = await c.post("/jobs", json={"source": SLOW}, headers=headers)
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
            async with asyncio.timeout(30):
                while True:
                    jobs = [await _job(c, i, headers) for i in ids]
                    if all(j["status"] == "running" for j in jobs):
                        break
                    await asyncio.sleep(0.1)

            await asyncio.to_thread(own_engine.restart)

            async with asyncio.timeout(45):
                while True:
                    ended = [await _job(c, i, headers) for i in ids]
                    if all(j["status"] in TERMINAL_JOB for j in ended):
                        break
                    await asyncio.sleep(0.2)
            started = time.monotonic()
            after = await c.post(
                "/jobs", params={"wait": 25}, json={"source": "print(1)"}, headers=headers
            )
            recovered_in_s = time.monotonic() - started
    finally:
        log = server.log_tail(8000)
        await asyncio.to_thread(server.stop)

    for job in ended:
        assert job["status"] in ("error", "succeeded"), (job, log)
        if job["status"] == "error":  # the backend's own verdict, with the engine's reason
            assert job["error"].startswith("sandbox failure: "), job
        else:
            assert job["stdout"] == "started\ndone\n"
    assert after.status_code == 200, (after.text, log)
    assert after.json()["status"] == "succeeded" and after.json()["stdout"] == "1\n", after.json()
    assert recovered_in_s < 30


async def _sign_up(c):
    email = "runner@example.com"
    body = {"email": email, "password": PASSWORD, "full_name": "Runner"}
    assert (await c.post("/auth/register", json=body)).status_code == 201
    r = await c.post("/auth/token", data={"username": email, "password": PASSWORD})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def _job(c, job_id, headers):
    r = await c.get(f"/jobs/{job_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()

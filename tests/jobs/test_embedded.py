"""The embedded default: SQLite, an in-process worker (bubblewrap here), in-process wake-ups;
and how the API behaves when no sandbox can be had."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from typer.testing import CliRunner

from api import migrations
from api.cli import app as cli
from api.config import Settings, get_settings
from api.main import create_app
from tests.jobs.test_jobs_live import parse_sse

REGISTER = {"email": "a@example.com", "password": "long-enough", "full_name": "Ann"}


async def _login(c: httpx.AsyncClient) -> dict[str, str]:
    await c.post("/api/v1/auth/register", json=REGISTER)
    form = {"username": REGISTER["email"], "password": REGISTER["password"]}
    token = (await c.post("/api/v1/auth/token", data=form)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def test_sqlite_with_an_in_process_bwrap_worker(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        spa_dir=tmp_path / "no-spa",
        executor_backend="bwrap",
        job_poll_interval_s=60.0,  # wake-ups, not polling, must drive this (a missed one: 202)
        worker_shutdown_grace_s=1.0,
    )
    await asyncio.to_thread(migrations.upgrade, settings.effective_database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            h = await _login(c)
            r = await c.post("/api/v1/jobs?wait=10", json={"source": "print(6*7)"}, headers=h)
            assert r.status_code == 200, r.text
            assert r.json()["status"] == "succeeded" and r.json()["stdout"] == "42\n"
            job_id = r.json()["id"]
            events = parse_sse((await c.get(f"/api/v1/jobs/{job_id}/events", headers=h)).text)
            assert [k for _, k, _ in events] == ["status", "status", "stdout", "status", "exit"]
            slow = await c.post(
                "/api/v1/jobs", json={"source": "import time; time.sleep(20)"}, headers=h
            )
            sid = slow.json()["id"]
            for _ in range(100):
                job = (await c.get(f"/api/v1/jobs/{sid}", headers=h)).json()
                if job["status"] == "running":
                    break
                await asyncio.sleep(0.05)
            cancel = await c.post(f"/api/v1/jobs/{sid}/cancel", headers=h)
            assert cancel.status_code in (200, 202)
            r = await c.post("/api/v1/jobs?wait=10", json={"source": "print(2)"}, headers=h)
            assert r.json()["status"] == "succeeded"
            done = (await c.get(f"/api/v1/jobs/{sid}", headers=h)).json()
            assert done["status"] == "cancelled"
            ready = (await c.get("/readyz")).json()
            assert ready["checks"]["executor"] == "ok"


async def test_without_a_sandbox_the_api_starts_and_jobs_say_how_to_fix_it(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        spa_dir=tmp_path / "no-spa",
        executor_backend="docker",
        docker_host=f"unix://{tmp_path}/nothing.sock",
    )
    await asyncio.to_thread(migrations.upgrade, settings.effective_database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            h = await _login(c)
            r = await c.post("/api/v1/jobs", json={"source": "print(1)"}, headers=h)
            assert r.status_code == 503 and r.json()["code"] == "executor_unavailable"
            assert "NIMBUS_DOCKER_HOST" in r.json()["detail"]
            ready = await c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["executor"] == "unavailable"
            assert "dockerd" in ready.json()["details"]["executor"]
            python, *_ = (await c.get("/api/v1/runtimes", headers=h)).json()["items"]
            assert python["available"] is False and python["backend"] is None


def test_worker_command_fails_clearly_without_a_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("NIMBUS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("NIMBUS_EXECUTOR_BACKEND", "docker")
    monkeypatch.setenv("NIMBUS_DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(cli, ["worker", "--concurrency", "1"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 1
    assert "no Docker engine answers" in r.output


@pytest.mark.docker
def test_sandbox_build_command_reports_the_image(docker_engine, monkeypatch):
    monkeypatch.setenv("NIMBUS_DOCKER_HOST", docker_engine.docker_host)
    monkeypatch.setenv("NIMBUS_SANDBOX_IMAGE", docker_engine.image)
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(cli, ["sandbox", "build"])
    finally:
        get_settings.cache_clear()
    assert r.exit_code == 0, r.output
    assert f"sandbox image {docker_engine.image} is ready" in r.output


async def _embedded(settings: Settings):
    await asyncio.to_thread(migrations.upgrade, settings.effective_database_url)
    return create_app(settings)


async def test_auto_without_docker_runs_on_bwrap_and_says_it_is_weaker(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        spa_dir=tmp_path / "no-spa",
        docker_host=f"unix://{tmp_path}/nothing.sock",  # no engine answers here
        worker_shutdown_grace_s=1.0,
    )
    app = await _embedded(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            h = await _login(c)
            python, *_ = (await c.get("/api/v1/runtimes", headers=h)).json()["items"]
            assert python["available"] is True and python["backend"] == "bwrap"
            assert "weaker sandbox" in python["notice"]
            assert "`nimbus sandbox build`" in python["notice"]
            ready = await c.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["executor"] == "ok"
            assert ready.json()["details"]["executor"] == python["notice"]
            r = await c.post("/api/v1/jobs?wait=10", json={"source": "print(6*7)"}, headers=h)
            assert r.json()["status"] == "succeeded", r.text


async def test_auto_without_docker_or_bwrap_names_the_commands_that_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # bubblewrap is not installed
    settings = Settings(
        data_dir=tmp_path,
        spa_dir=tmp_path / "no-spa",
        docker_host=f"unix://{tmp_path}/nothing.sock",
    )
    app = await _embedded(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            h = await _login(c)
            ready = await c.get("/readyz")
            assert ready.status_code == 503
            fix = ready.json()["details"]["executor"]
            for command in ("make run", "apt-get install bubblewrap", "nimbus sandbox build"):
                assert command in fix
            python, *_ = (await c.get("/api/v1/runtimes", headers=h)).json()["items"]
            assert python["available"] is False and python["detail"] == fix
            assert python["notice"] is None
            r = await c.post("/api/v1/jobs", json={"source": "print(1)"}, headers=h)
            assert r.status_code == 503 and r.json()["detail"] == fix


@pytest.mark.docker
async def test_auto_with_an_engine_but_no_image_runs_on_bwrap_until_it_is_built(
    docker_engine, tmp_path
):
    settings = Settings(
        data_dir=tmp_path,
        spa_dir=tmp_path / "no-spa",
        docker_host=docker_engine.docker_host,
        sandbox_image="nimbus-sandbox:never-built",
        worker_shutdown_grace_s=1.0,
    )
    app = await _embedded(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            h = await _login(c)
            python, *_ = (await c.get("/api/v1/runtimes", headers=h)).json()["items"]
            assert python["available"] is True and python["backend"] == "bwrap"
            assert "nimbus-sandbox:never-built is missing" in python["notice"]
            assert "`nimbus sandbox build`" in python["notice"]
            r = await c.post("/api/v1/jobs?wait=10", json={"source": "print(6*7)"}, headers=h)
            assert r.json()["status"] == "succeeded", r.text


READS_TWO_LINES = "a = input()\nb = input()\nprint(a, b)\n"


async def test_input_past_the_end_of_stdin_says_so_on_bwrap(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        spa_dir=tmp_path / "no-spa",
        executor_backend="bwrap",
        worker_shutdown_grace_s=1.0,
    )
    app = await _embedded(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            h = await _login(c)
            for stdin in ("", "only one line\n"):
                body = {"source": READS_TWO_LINES, "stdin": stdin}
                r = await c.post("/api/v1/jobs?wait=10", json=body, headers=h)
                job = r.json()
                assert job["status"] == "failed", r.text
                assert job["stderr"].rstrip().endswith("EOFError: EOF when reading a line")
                assert job["hint"]["code"] == "stdin_exhausted"
                assert "read more than the standard input" in job["hint"]["message"]
                again = (await c.get(f"/api/v1/jobs/{job['id']}", headers=h)).json()
                assert again["hint"] == job["hint"]
                events = parse_sse(
                    (await c.get(f"/api/v1/jobs/{job['id']}/events", headers=h)).text
                )
                assert events[-1][1] == "exit" and events[-1][2]["hint"] == job["hint"]
            enough = {"source": READS_TWO_LINES, "stdin": "1\n2\n"}
            r = await c.post("/api/v1/jobs?wait=10", json=enough, headers=h)
            assert r.json()["status"] == "succeeded" and r.json()["hint"] is None
            other = {"source": "raise EOFError('Ran out of input')"}
            r = await c.post("/api/v1/jobs?wait=10", json=other, headers=h)
            assert r.json()["status"] == "failed" and r.json()["hint"] is None

"""Notifications that a plain job finished, run end to end by an in-process bubblewrap
worker on SQLite (no Docker): a job that ran long enough tells its owner, a quick one does not."""

from __future__ import annotations

import asyncio

import httpx

from api import migrations
from api.config import Settings
from api.main import create_app
from tests.jobs.test_embedded import _login

JOBS = "/api/v1/jobs"
NOTIFY_AFTER_S = 1.5


async def test_only_jobs_that_ran_long_enough_notify_their_owner(tmp_path):
    settings = Settings(
        data_dir=tmp_path,
        spa_dir=tmp_path / "no-spa",
        executor_backend="bwrap",
        job_notify_after_s=NOTIFY_AFTER_S,
        worker_shutdown_grace_s=1.0,
    )
    await asyncio.to_thread(migrations.upgrade, settings.effective_database_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            h = await _login(c)
            quick = await c.post(f"{JOBS}?wait=20", json={"source": "print(1)"}, headers=h)
            assert quick.json()["status"] == "succeeded", quick.text
            assert quick.json()["duration_ms"] < NOTIFY_AFTER_S * 1000
            slow = await c.post(
                f"{JOBS}?wait=20",
                json={"source": f"import time; time.sleep({NOTIFY_AFTER_S + 0.5})"},
                headers=h,
            )
            assert slow.json()["status"] == "succeeded", slow.text
            assert slow.json()["duration_ms"] >= NOTIFY_AFTER_S * 1000
            notes = (await c.get("/api/v1/notifications", headers=h)).json()["items"]
    assert [(n["kind"], n["title"], n["link"]) for n in notes] == [
        ("job.finished", "Your job finished: succeeded", f"/jobs/{slow.json()['id']}")
    ]

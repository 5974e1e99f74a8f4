"""A bug's reproduction script runs in the real sandbox; the verdict lands on the bug."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import text

from api.models import Bug, JobStatus, Role
from tests.conftest import auth_headers

pytestmark = [pytest.mark.docker, pytest.mark.slow]

FINAL = (JobStatus.succeeded, JobStatus.failed, JobStatus.timed_out, JobStatus.error)


async def _bug(live, script: str | None):
    admin = await live.user(Role.admin)
    dev = await live.user(Role.developer)
    key = "R" + os.urandom(3).hex().upper()
    h = auth_headers(admin)
    await live.client.post("/api/v1/projects", json={"key": key, "name": "Repro"}, headers=h)
    await live.client.put(f"/api/v1/projects/{key}/members/{dev.id}", headers=h)
    body = {"title": "Totals are wrong", **({"repro_script": script} if script else {})}
    bug = (await live.client.post(f"/api/v1/projects/{key}/bugs", json=body, headers=h)).json()
    return admin, dev, bug


async def _settled(live, bug_id: int) -> Bug:
    async with live.sessionmaker() as session:
        bug = await session.get(Bug, bug_id)
        assert bug is not None
        return bug


async def _cleanup(live):
    async with live.sessionmaker() as session:
        await session.execute(text("TRUNCATE project RESTART IDENTITY CASCADE"))
        await session.commit()


@pytest.mark.parametrize(
    ("script", "verdict"), [("import sys\nsys.exit(3)", True), ("print('ok')", False)]
)
async def test_reproduction_verdict_follows_the_exit_code(live, script, verdict):
    try:
        admin, dev, bug = await _bug(live, script)
        r = await live.client.post(
            f"/api/v1/bugs/{bug['key']}/reproductions", headers=auth_headers(dev)
        )
        assert r.status_code == 202, r.text
        assert r.headers["Location"] == f"/api/v1/jobs/{r.json()['id']}"
        await live.wait_status(r.json()["id"], *FINAL)
        stored = await _settled(live, bug["id"])
        assert stored.reproduces is verdict
        assert stored.repro_job_id == r.json()["id"] and stored.repro_checked_at is not None
        shown = (
            await live.client.get(f"/api/v1/bugs/{bug['id']}", headers=auth_headers(dev))
        ).json()
        assert shown["reproduces"] is verdict
        history = (
            await live.client.get(f"/api/v1/bugs/{bug['id']}/activity", headers=auth_headers(dev))
        ).json()
        notes = [a["new"] for a in history["items"] if a["field"] == "reproduction"]
        assert notes[0].startswith("started job") and "reproduce" in notes[-1]
        inbox = (await live.client.get("/api/v1/notifications", headers=auth_headers(admin))).json()
        assert [n["kind"] for n in inbox["items"]] == ["job.finished"]  # the reporter watches
    finally:
        await _cleanup(live)


async def test_a_bug_without_a_script_cannot_be_reproduced(live):
    try:
        _, dev, bug = await _bug(live, None)
        r = await live.client.post(
            f"/api/v1/bugs/{bug['id']}/reproductions", headers=auth_headers(dev)
        )
        assert r.status_code == 409
        assert r.json()["code"] == "no_repro_script"
    finally:
        await _cleanup(live)


async def test_resolving_as_fixed_reruns_the_script(live):
    try:
        _, dev, bug = await _bug(live, "import sys\nsys.exit(1)")
        url = f"/api/v1/bugs/{bug['id']}/transitions"
        await live.client.post(url, json={"to": "in_progress"}, headers=auth_headers(dev))
        r = await live.client.post(
            url, json={"to": "resolved", "resolution": "fixed"}, headers=auth_headers(dev)
        )
        assert r.status_code == 200, r.text
        job_id = r.json()["repro_job_id"]
        assert job_id
        await live.wait_status(job_id, *FINAL)
        stored = await _settled(live, bug["id"])
        assert stored.reproduces is True  # the "fix" did not fix it, and the bug says so
    finally:
        await _cleanup(live)

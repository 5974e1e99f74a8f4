"""A bug's reproduction run by a standalone `nimbus worker` (a real process on the real Docker
engine, no API in it): the verdict lands on the bug, because the worker wires the job hooks at
start-up itself instead of relying on whatever its imports happened to register."""

from __future__ import annotations

import pytest

from api.models import JobStatus
from tests.conftest import auth_headers
from tests.jobs.test_reproductions import FINAL, _bug, _cleanup, _settled
from tests.jobs.test_worker_shutdown import worker_env
from tests.support.postgres import free_port
from tests.support.processes import start

pytestmark = [pytest.mark.docker, pytest.mark.slow]


async def test_a_standalone_worker_records_the_reproduction_verdict(
    live_factory, jobs_database_url, docker_engine, tmp_path
):
    async with live_factory(executor_in_process=False) as live:
        try:
            _admin, dev, bug = await _bug(live, "import sys\nprint('still broken')\nsys.exit(3)")
            r = await live.client.post(
                f"/api/v1/bugs/{bug['key']}/reproductions", headers=auth_headers(dev)
            )
            assert r.status_code == 202, r.text
            env = worker_env(tmp_path, jobs_database_url, docker_engine, 5.0, free_port())
            process = start(["worker", "--concurrency", "1"], env, tmp_path / "worker.log")
            try:
                job = await live.wait_status(r.json()["id"], *FINAL, timeout_s=90)
            finally:
                process.stop()
            assert job.status == JobStatus.failed and job.worker_id == "leaver", process.output()
            stored = await _settled(live, bug["id"])
            assert stored.reproduces is True, process.output()
            assert stored.repro_job_id == str(job.id) and stored.repro_checked_at is not None
        finally:
            await _cleanup(live)

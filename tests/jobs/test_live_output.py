"""Live output as stored (#24), through the real worker into the database, on the Docker warm
pool and on bubblewrap: an unflushed print is an event while its job still runs, output printed
before a timeout kill is the job's stdout, and 100,000 one-character writes are a few events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from api.jobs.worker import Worker
from api.models import JobEvent, JobStatus
from executor.backends import SandboxBackend
from tests.conftest import auth_headers
from tests.jobs.fixtures import Live
from tests.jobs.test_crash_safety import _printed

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture(params=["sandbox", "bwrap_backend"])
def job_backend(request: pytest.FixtureRequest) -> SandboxBackend:
    """The Docker warm pool the live apps share, then bubblewrap."""
    backend: SandboxBackend = request.getfixturevalue(request.param)
    return backend


@contextlib.asynccontextmanager
async def running(live_factory, backend: SandboxBackend) -> AsyncIterator[Live]:
    """A live app whose jobs run on a worker of ``backend``."""
    async with live_factory(executor_in_process=False) as live:
        worker = Worker(live.sessionmaker, backend, live.settings, worker_id="live-output")
        await worker.start()
        try:
            yield live
        finally:
            await worker.stop()


async def test_an_unflushed_print_is_stored_while_its_job_still_runs(live_factory, job_backend):
    async with running(live_factory, job_backend) as live:
        dev = await live.user()
        body = {"source": "import time\nprint('tick')\ntime.sleep(25)\n"}
        job_id = (await live.submit(dev, {**body, "limits": {"wall_time_s": 30}})).json()["id"]
        async with asyncio.timeout(20):
            while True:  # polled: the event is a row another task writes
                if await _printed(live, job_id, "tick"):
                    break
                await asyncio.sleep(0.05)
        # the script sleeps 25 s after its print: still running, so stored before it exits
        assert (await live.job(job_id)).status == JobStatus.running
        r = await live.client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth_headers(dev))
        assert r.status_code == 202, r.text
        job = await live.wait_status(job_id, JobStatus.cancelled, timeout_s=30)
        assert job.stdout == "tick\n"


async def test_output_printed_before_a_timeout_kill_is_stored(live_factory, job_backend):
    async with running(live_factory, job_backend) as live:
        dev = await live.user()
        body = {"source": "import time\nprint('before the kill')\ntime.sleep(60)\n"}
        job_id = (await live.submit(dev, {**body, "limits": {"wall_time_s": 2}})).json()["id"]
        job = await live.wait_status(job_id, JobStatus.timed_out, timeout_s=30)
        assert job.stdout == "before the kill\n"
        assert await _printed(live, job_id, "before the kill")


async def test_a_hundred_thousand_one_character_writes_are_a_few_stored_events(
    live_factory, job_backend
):
    async with running(live_factory, job_backend) as live:
        dev = await live.user()
        body = {"source": "import sys\nfor _ in range(100_000):\n    sys.stdout.write('x')\n"}
        job_id = (await live.submit(dev, body)).json()["id"]
        job = await live.wait_status(job_id, JobStatus.succeeded, timeout_s=60)
        assert job.stdout == "x" * 100_000
        async with live.sessionmaker() as session:
            events = await session.scalar(
                select(func.count()).where(JobEvent.job_id == job.id, JobEvent.kind == "stdout")
            )
        print(f"{job_backend.name}: 100000 one-character writes -> {events} stored events")
        assert events is not None and 1 <= events <= 100

"""A worker killed mid-job: the job does not stay `running`, it is retried, and the sandbox the
dead worker left behind is removed by the next worker's reaper."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import aiodocker
import pytest
from sqlalchemy import select

from api.jobs.runtime import sandbox_instance
from api.jobs.worker import Worker
from api.models import JobEvent, JobStatus
from executor.backends import DockerBackend
from executor.backends.docker import LABEL_INSTANCE
from tests.executor.test_docker_backend import labelled

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(60)\n"


async def test_killed_worker_job_is_retried_and_its_sandbox_reaped(
    live_factory, jobs_database_url, docker_engine, sandbox, tmp_path
):
    async with live_factory(executor_in_process=False, job_lease_s=2.0) as live:
        dev = await live.user()
        body = {"source": SLEEPER, "limits": {"wall_time_s": 3}}
        job_id = (await live.submit(dev, body)).json()["id"]
        env = _worker_env(jobs_database_url, docker_engine, tmp_path, "doomed")
        log = (tmp_path / "worker.log").open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api", "worker", env=env, stdout=log, stderr=log
        )
        try:
            async with asyncio.timeout(30):
                while not await _printed(live, job_id, "started"):
                    assert proc.returncode is None, (tmp_path / "worker.log").read_text()
                    await asyncio.sleep(0.1)
            job = await live.job(job_id)
            assert job.status == JobStatus.running and job.worker_id == "doomed"
            orphans, _ = await labelled(docker_engine.docker_host)
            proc.kill()  # SIGKILL: no clean-up of any kind
            await proc.wait()
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            log.close()
        assert set(orphans) - sandbox.pool.container_ids()  # its sandbox is still there

        job = await live.wait_status(job_id, JobStatus.queued, JobStatus.error, timeout_s=15)
        assert job.status == JobStatus.queued and job.attempts == 1 and job.worker_id is None

        settings = live.settings.model_copy(update={"worker_reap_on_start": True})
        # the same installation (its database) as the dead worker: it reaps what that one left
        successor = installation_backend(live.settings, docker_engine)
        await successor.check()
        worker = Worker(live.sessionmaker, successor, settings, worker_id="successor")
        await worker.start()
        try:
            job = await live.wait_status(job_id, JobStatus.timed_out, timeout_s=20)
        finally:
            await worker.stop()
            await successor.close()
        assert job.attempts == 2
        await sandbox.drain()
        async with asyncio.timeout(30):  # the pool refills itself: let it finish
            while sandbox.pool.available < sandbox.pool.size:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        # nothing of this installation is left (other sandboxes on a shared engine are not ours)
        filters = json.dumps({"label": [f"{LABEL_INSTANCE}={sandbox_instance(live.settings)}"]})
        async with aiodocker.Docker(url=docker_engine.docker_host) as docker:
            assert await docker.containers.list(all=True, filters=filters) == []
            volumes = await docker.volumes.list(filters={"label": json.loads(filters)["label"]})
        assert not volumes.get("Volumes")


async def _printed(live, job_id, text):
    async with live.sessionmaker() as session:
        rows = await session.scalars(
            select(JobEvent.data).where(
                JobEvent.job_id == (await live.job(job_id)).id, JobEvent.kind == "stdout"
            )
        )
        return any(text in data for data in rows)


async def test_a_job_whose_worker_dies_on_every_attempt_ends_error_not_running(
    live_factory, jobs_database_url, docker_engine, sandbox, tmp_path
):
    """Two workers SIGKILLed mid-job in turn: after the second the job ends `error` with a
    reason (it is never left `running`, nor retried forever)."""
    async with live_factory(executor_in_process=False, job_lease_s=2.0) as live:
        dev = await live.user()
        body = {"source": SLEEPER, "limits": {"wall_time_s": 20}}
        job_id = (await live.submit(dev, body)).json()["id"]
        procs = []

        async def start(name):
            env = _worker_env(jobs_database_url, docker_engine, tmp_path, name)
            with (tmp_path / f"{name}.log").open("wb") as log:
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable, "-m", "api", "worker", env=env, stdout=log, stderr=log
                    )
                )
            return procs[-1]

        async def running_on(name, proc):
            async with asyncio.timeout(30):
                while True:
                    job = await live.job(job_id)
                    if job.status == JobStatus.running and job.worker_id == name:
                        return job
                    assert proc.returncode is None, (tmp_path / f"{name}.log").read_text()
                    await asyncio.sleep(0.1)

        try:
            first = await start("doomed-1")
            assert (await running_on("doomed-1", first)).attempts == 1
            second = await start("doomed-2")  # boots while the first one runs the job
            first.kill()  # SIGKILL mid-job
            await first.wait()
            assert (await running_on("doomed-2", second)).attempts == 2  # the retry, by the other
            second.kill()
            await second.wait()
            job = await live.wait_status(job_id, JobStatus.queued, JobStatus.error, timeout_s=15)
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            reaper = installation_backend(live.settings, docker_engine)
            await reaper.reap(older_than_s=0)  # the dead workers' containers
            await reaper.close()
    assert job.status == JobStatus.error
    assert job.attempts == 2 and job.finished_at is not None
    assert "doomed-2 stopped responding during attempt 2" in (job.error or "")


def installation_backend(settings, docker_engine):
    """A Docker backend of the installation whose database ``settings`` name."""
    instance = sandbox_instance(settings)
    return DockerBackend(docker_engine.docker_host, docker_engine.image, instance=instance)


def _worker_env(database_url, docker_engine, tmp_path, worker_id):
    return {
        **os.environ,
        "NIMBUS_DATA_DIR": str(tmp_path),
        "NIMBUS_DATABASE_URL": database_url,
        "NIMBUS_EXECUTOR_BACKEND": "docker",
        "NIMBUS_DOCKER_HOST": docker_engine.docker_host,
        "NIMBUS_SANDBOX_IMAGE": docker_engine.image,
        "NIMBUS_SANDBOX_POOL_SIZE": "0",
        "NIMBUS_JOB_LEASE_S": "2",
        "NIMBUS_JOB_POLL_INTERVAL_S": "0.2",
        "NIMBUS_WORKER_REAP_ON_START": "false",  # the shared engine also runs our pool
        "NIMBUS_WORKER_ID": worker_id,
    }

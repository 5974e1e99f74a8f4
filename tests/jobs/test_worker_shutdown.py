"""SIGTERM to a real `nimbus worker`: it stops claiming, lets a short job finish within the grace
period, and hands a long one back to the queue (lease released, no attempt spent) for another
worker. While it runs it serves its job metrics to Prometheus; its log is JSON with job ids."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid

import httpx
import pytest

from api.jobs.worker import Worker
from api.models import JobStatus
from tests.jobs.test_crash_safety import _printed
from tests.support.postgres import free_port
from tests.support.processes import nimbus_env, start

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SLEEPER = "import time\nprint('started', flush=True)\ntime.sleep(60)\n"
SHORT = "import time\nprint('started', flush=True)\ntime.sleep(2)\nprint('done')\n"


def worker_env(tmp_path, jobs_database_url, docker_engine, grace_s: float, metrics_port: int):
    return nimbus_env(
        tmp_path,
        jobs_database_url,
        executor_backend="docker",
        docker_host=docker_engine.docker_host,
        sandbox_image=docker_engine.image,
        sandbox_pool_size="0",
        job_poll_interval_s="0.2",
        worker_reap_on_start="false",  # the shared engine also runs the tests' pool
        worker_id="leaver",
        worker_shutdown_grace_s=str(grace_s),
        worker_metrics_port=str(metrics_port),
        log_format="json",
    )


async def _until_printed(live, job_id, process, text="started", timeout_s=90):
    async with asyncio.timeout(timeout_s):
        while not await _printed(live, job_id, text):
            assert process.proc.poll() is None, process.output()
            await asyncio.sleep(0.1)


async def _stop(process, timeout_s: float) -> tuple[int, float]:
    sent = time.monotonic()
    process.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.proc.wait, timeout_s)
    return code, time.monotonic() - sent


def _json_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


async def test_sigterm_hands_a_long_job_back_to_the_queue(
    live_factory, jobs_database_url, docker_engine, sandbox, tmp_path
):
    async with live_factory(executor_in_process=False) as live:
        dev = await live.user()
        body = {"source": SLEEPER, "limits": {"wall_time_s": 5}}
        job_id = (await live.submit(dev, body)).json()["id"]
        port = free_port()
        env = worker_env(tmp_path, jobs_database_url, docker_engine, 1.0, port)
        process = start(["worker"], env, tmp_path / "worker.log")
        try:
            await _until_printed(live, job_id, process)
            job = await live.job(job_id)
            assert job.status == JobStatus.running and job.worker_id == "leaver"
            assert job.attempts == 1

            async with httpx.AsyncClient() as http:
                scraped = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
            assert "nimbus_jobs_running 1.0" in scraped
            for name in ("nimbus_job_queue_depth", "nimbus_job_queue_wait_seconds_count"):
                assert f"\n{name} " in scraped, scraped

            code, took = await _stop(process, 60)
        finally:
            process.stop()
        output = process.output()
        assert code == 0, output
        assert took < 30, output

        job = await live.job(job_id)
        assert job.status == JobStatus.queued, output
        assert job.worker_id is None and job.lease_expires_at is None
        assert job.attempts == 0  # being stopped is not the job's fault

        entries = _json_lines(output)
        handed = [e for e in entries if "handed back" in str(e["message"])]
        assert handed and handed[0]["job_id"] == job_id, entries

        # Another worker takes it from the queue (it then hits its 5 s limit).
        other = Worker(live.sessionmaker, sandbox, live.settings, worker_id="successor")
        await other.start()
        try:
            job = await live.wait_status(job_id, JobStatus.timed_out, timeout_s=60)
        finally:
            await other.stop()
        assert job.worker_id == "successor" and job.attempts == 1


async def test_sigterm_lets_a_short_job_finish_within_the_grace_period(
    live_factory, jobs_database_url, docker_engine, tmp_path
):
    async with live_factory(executor_in_process=False) as live:
        dev = await live.user()
        first = (await live.submit(dev, {"source": SHORT})).json()["id"]
        env = worker_env(tmp_path, jobs_database_url, docker_engine, 30.0, free_port())
        process = start(["worker", "--concurrency", "1"], env, tmp_path / "worker.log")
        try:
            await _until_printed(live, first, process)
            # queued behind the running one; a stopping worker must not claim it
            second = (await live.submit(dev, {"source": "print(2)"})).json()["id"]
            code, took = await _stop(process, 60)
        finally:
            process.stop()
        output = process.output()
        assert code == 0, output
        job = await live.job(first)
        assert job.status == JobStatus.succeeded, output
        assert await _printed(live, first, "done")
        assert took < 30
        later = await live.job(second)
        assert later.status == JobStatus.queued and later.worker_id is None
        ended = [e for e in _json_lines(output) if "ended succeeded" in str(e["message"])]
        assert ended and ended[0]["job_id"] == str(uuid.UUID(first))

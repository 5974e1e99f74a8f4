"""The job worker: claim a queued job, run it in the sandbox, store the result.

- Claiming is one conditional UPDATE of as many jobs as there are free slots, round robin by
  owner so one user's flood cannot starve the others (``SELECT ... FOR UPDATE SKIP LOCKED`` on
  PostgreSQL; on SQLite the single writer makes the statement atomic), woken by the `QUEUE`
  signal (in-process or LISTEN/NOTIFY) and by a poll as a fallback. At most ``job_concurrency``
  jobs run at once.
- While a job runs, one task per job batches its output chunks into numbered events and renews
  the lease (heartbeat); the same write tells it whether someone asked to cancel.
- A job whose lease ran out (its worker died) is retried once, else it ends ``error``
  (`maintenance_loop`, run by every worker and API process). Sandboxes left on the engine by a
  dead worker are removed when a worker starts and periodically.
- Stopping gives running jobs a grace period, then kills them and puts them back in the queue
  without spending an attempt.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.config import Settings
from api.jobs import metrics, queue, repository, retention, runtimes, service
from api.jobs.signals import QUEUE, cancel_topic, signals
from api.logs import job_id_var
from api.models import Job
from executor.backends import JobSpec, Outcome, RunResult, SandboxBackend
from executor.backends.base import StreamName
from executor.backends.docker import MAX_IDLE_S as POOL_MAX_IDLE_S

log = logging.getLogger(__name__)
T = TypeVar("T")

FLUSH_DELAY_S = 0.05
"""How long output may wait to be batched with more output before it is written as events."""
FLUSH_BYTES = 64 * 1024
"""Write at once when this much output is pending; also the largest single output event."""
DOCKER_REAP_INTERVAL_S = 60.0
FINISH_ATTEMPTS = 3


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def job_spec(job: Job) -> JobSpec:
    return JobSpec(
        files={path: base64.b64decode(content) for path, content in job.input_files.items()},
        entrypoint=job.entrypoint,
        args=list(job.args),
        stdin=job.stdin,
        limits=service.sandbox_limits(job),
        image=runtimes.image_of(job.runtime),
    )


@dataclass
class _Run:
    """One claimed job while it runs."""

    job_id: uuid.UUID
    attempt: int
    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    output: list[list[str]] = field(default_factory=list)
    pending_bytes: int = 0
    pending_since: float = 0.0
    finished: bool = False
    lost: bool = False
    user_cancelled: bool = False
    stopping: bool = False

    async def sink(self, stream: StreamName, text: str) -> None:
        if self.output and self.output[-1][0] == stream and len(self.output[-1][1]) < FLUSH_BYTES:
            self.output[-1][1] += text
        else:
            self.output.append([stream, text])
        if not self.pending_bytes:
            self.pending_since = time.monotonic()
            self.wake.set()
        self.pending_bytes += len(text)
        if self.pending_bytes >= FLUSH_BYTES:
            self.wake.set()

    def take_output(self) -> list[tuple[str, str]]:
        chunks = [(stream, text) for stream, text in self.output]
        self.output, self.pending_bytes = [], 0
        return chunks


class Worker:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        backend: SandboxBackend,
        settings: Settings,
        *,
        worker_id: str | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.backend = backend
        self.settings = settings
        self.id = worker_id or settings.worker_id or default_worker_id()
        self.concurrency = max(1, settings.job_concurrency)
        self._wake = asyncio.Event()
        self._runs: dict[uuid.UUID, _Run] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[int] | None = None
        self._stopping = False

    @property
    def running(self) -> int:
        return len(self._runs)

    async def start(self) -> None:
        if self.settings.worker_reap_on_start:
            # in the background: an engine that hangs on a locked leftover must not hold up
            # start-up (jobs run meanwhile; the reaper spares this process's own sandboxes)
            self._reaper = asyncio.create_task(reap_sandboxes(self.backend, older_than_s=0.0))
        metrics.JOBS_RUNNING.set_function(lambda: float(self.running))
        self._dispatcher = asyncio.create_task(self._dispatch(), name=f"worker {self.id}")
        self._maintenance = asyncio.create_task(
            maintenance_loop(self.sessionmaker, self.settings, self.backend)
        )
        log.info("worker %s started: %d slots on %s", self.id, self.concurrency, self.backend.name)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop claiming; let running jobs end within ``grace_s``, else kill and requeue them."""
        self._stopping = True
        log.info(
            "worker %s stopping: %d jobs running, grace %.0f s", self.id, self.running, grace_s
        )
        for task in (self._dispatcher, self._maintenance, self._reaper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace_s)
        for run in self._runs.values():
            run.stopping = True
            run.cancel.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)

    async def _dispatch(self) -> None:
        poll = self.settings.job_poll_interval_s
        with signals.watch(QUEUE, wake=self._wake):
            while not self._stopping:
                self._wake.clear()
                while (free := self.concurrency - len(self._runs)) > 0 and not self._stopping:
                    jobs = await self._claim(free)
                    for job in jobs:
                        self._launch(job)
                    if len(jobs) < free:
                        break  # the queue is empty (for now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), poll)

    async def _claim(self, limit: int) -> list[Job]:
        """Up to ``limit`` queued jobs, in one statement: a wake-up claims what fits."""
        try:
            async with self.sessionmaker() as session:
                jobs = await queue.claim(session, self.id, self.settings.job_lease_s, limit)
                await session.commit()
                return jobs
        except Exception:  # the database may be briefly away; the poll retries
            log.exception("worker %s: could not claim a job", self.id)
            return []

    def _launch(self, job: Job) -> None:
        run = _Run(job.id, job.attempts)
        self._runs[job.id] = run
        task = asyncio.create_task(self._execute(job, run), name=f"job {job.id}")
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            self._runs.pop(job.id, None)
            self._wake.set()  # a slot is free

        task.add_done_callback(done)

    async def _execute(self, job: Job, run: _Run) -> None:
        job_id_var.set(str(job.id))  # this task's log lines (and its pump's) carry the job id
        log.info("job %s: running (attempt %d)", job.id, run.attempt)
        pump = asyncio.create_task(self._pump(run))
        try:
            result = await self.backend.run(job_spec(job), run.sink, run.cancel)
        except Exception as exc:  # backends return errors; this is a bug, not the user's fault
            log.exception("job %s: the sandbox backend raised", job.id)
            result = RunResult(outcome=Outcome.ERROR, error=f"worker failure: {exc}")
        finally:
            run.finished = True
            run.wake.set()
            await pump
        if run.lost:
            log.warning("job %s: lease lost to another worker; dropping this run", job.id)
            return
        if run.stopping and not run.user_cancelled and result.outcome == Outcome.CANCELLED:
            await self._with_session(lambda s: queue.release(s, job.id, self.id, run.attempt))
            log.info("job %s: handed back to the queue (worker stopping)", job.id)
            return
        if result.outcome == Outcome.CANCELLED and not run.user_cancelled:
            result.outcome = Outcome.ERROR
            result.error = "the run was stopped by the worker"
        output = run.take_output()
        for attempt in range(FINISH_ATTEMPTS):
            try:
                await self._with_session(
                    lambda s: queue.finish_run(
                        s,
                        job.id,
                        self.id,
                        run.attempt,
                        result,
                        output,
                        notify_after_s=self.settings.job_notify_after_s,
                    )
                )
                log.info("job %s: ended %s", job.id, result.outcome.value)
                return
            except Exception:
                log.exception("job %s: could not store the result (try %d)", job.id, attempt + 1)
                await asyncio.sleep(0.5 * (attempt + 1))
        # the lease will expire and the maintenance loop retries or ends the job

    async def _with_session(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.sessionmaker() as session:
            value = await work(session)
            await session.commit()
            return value

    async def _pump(self, run: _Run) -> None:
        """Batch output into events and renew the lease until the run ends."""
        interval = self.settings.job_lease_s / 3
        next_beat = time.monotonic() + interval
        with signals.watch(cancel_topic(run.job_id), wake=run.wake):
            while not run.finished:
                now = time.monotonic()
                timeout = next_beat - now
                if run.pending_bytes:
                    timeout = min(timeout, run.pending_since + FLUSH_DELAY_S - now)
                if timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(run.wake.wait(), timeout)
                run.wake.clear()
                if run.finished:
                    break
                now = time.monotonic()
                flush = run.pending_bytes >= FLUSH_BYTES or (
                    run.pending_bytes and now >= run.pending_since + FLUSH_DELAY_S
                )
                if run.pending_bytes and not flush and now < next_beat:
                    continue  # more output may come: batch it
                output = run.take_output()
                try:
                    job = await self._with_session(
                        lambda s, o=output: queue.heartbeat(  # type: ignore[misc]
                            s, run.job_id, self.id, run.attempt, self.settings.job_lease_s, o
                        )
                    )
                except Exception:
                    log.exception("job %s: heartbeat failed", run.job_id)
                    run.output[:0] = [list(c) for c in output]  # keep it for the next write
                    run.pending_bytes += sum(len(t) for _, t in output)
                    next_beat = time.monotonic() + 1.0
                    continue
                next_beat = time.monotonic() + interval
                if job is None:
                    run.lost = True
                    run.cancel.set()
                    return
                if job.cancel_requested and not run.user_cancelled:
                    run.user_cancelled = True
                    run.cancel.set()


async def reap_sandboxes(backend: SandboxBackend, older_than_s: float) -> int:
    """Remove sandbox containers and volumes a dead worker left (Docker only)."""
    reap: Callable[..., Awaitable[int]] | None = getattr(backend, "reap", None)
    if reap is None:
        return 0
    try:
        removed = await reap(older_than_s=older_than_s)
    except Exception:
        log.exception("could not reap leftover sandboxes")
        return 0
    if removed:
        log.warning("removed %d leftover sandbox containers/volumes", removed)
    return removed


async def maintain_once(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> int:
    """Retry or end jobs whose lease expired; refresh the queue-depth gauge; every
    ``job_retention_interval_s``, remove what ended jobs keep past their retention."""
    async with sessionmaker() as session:
        handled = await queue.reap_expired_leases(session, settings)
        metrics.QUEUE_DEPTH.set(await repository.count_queued(session))
        await session.commit()
    await retention.run_if_due(sessionmaker, settings)
    return handled


async def maintenance_loop(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    backend: SandboxBackend | None = None,
    interval_s: float | None = None,
) -> None:
    interval = interval_s or max(0.5, min(settings.job_lease_s / 2, 10.0))
    last_reap = time.monotonic()
    reaper: asyncio.Task[int] | None = None
    pool_available: Any = getattr(backend, "pool_available", None)
    if pool_available is not None:
        metrics.POOL_AVAILABLE.set_function(lambda: float(getattr(backend, "pool_available", 0)))
    try:
        while True:
            try:
                await maintain_once(sessionmaker, settings)
            except Exception:
                log.exception("job maintenance failed")
            due = time.monotonic() - last_reap >= DOCKER_REAP_INTERVAL_S
            if backend is not None and due and (reaper is None or reaper.done()):
                # only sandboxes older than any job may run: another worker's live ones are
                # younger: no live sandbox of any worker is older than this (see the warm pool).
                # In the background: a hung engine must not stall the leases' expiry.
                max_age = POOL_MAX_IDLE_S + settings.job_max_wall_time_s + 120.0
                reaper = asyncio.create_task(reap_sandboxes(backend, older_than_s=max_age))
                last_reap = time.monotonic()
            await asyncio.sleep(interval)
    finally:
        if reaper is not None:
            reaper.cancel()

"""The job queue's state machine over the database: claim, lease (heartbeat), release, finish.

A queued job is claimed by a worker (``running``, one attempt spent, a lease); while it runs the
worker renews the lease and appends output; it ends through `finish_run`, goes back to the queue
through `release` (the worker is stopping: no attempt spent), or — its worker gone — is retried
or ended by `reap_expired_leases`. Every transition is one conditional UPDATE that holds only
for the owner of the current attempt, so a worker that lost its lease changes nothing. What
happens once a job has ended (events, files, the completion hook) is `service.end_job`. Never
commits; callers own the transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.config import Settings
from api.db import utcnow
from api.jobs import metrics, repository, service
from api.jobs.signals import QUEUE, job_topic, publish
from api.models import Job, JobStatus
from executor.backends import RunResult

log = logging.getLogger(__name__)


def _owned(job_id: uuid.UUID, worker_id: str, attempt: int) -> list[ColumnElement[bool]]:
    return [
        col(Job.id) == job_id,
        col(Job.status) == JobStatus.running,
        col(Job.worker_id) == worker_id,
        col(Job.attempts) == attempt,
    ]


async def claim(session: AsyncSession, worker_id: str, lease_s: float, limit: int) -> list[Job]:
    """Take up to ``limit`` queued jobs for this worker in one statement, round robin by owner
    (`repository.fair_claim_order`); the caller commits at once."""
    now = utcnow()
    jobs = await repository.claim_queued(
        session,
        {
            "status": JobStatus.running,
            "worker_id": worker_id,
            "attempts": col(Job.attempts) + 1,
            "started_at": now,
            "heartbeat_at": now,
            "lease_expires_at": now + timedelta(seconds=lease_s),
        },
        limit,
    )
    for job in jobs:
        repository.add_events(
            session,
            job,
            [service.event("status", {"status": JobStatus.running.value, "attempt": job.attempts})],
        )
        metrics.QUEUE_WAIT.observe(max(0.0, (now - job.queued_at).total_seconds()))
    await publish(session, *(job_topic(job.id) for job in jobs))
    return jobs


async def claim_next(session: AsyncSession, worker_id: str, lease_s: float) -> Job | None:
    """Take the next queued job for this worker (the caller commits at once)."""
    jobs = await claim(session, worker_id, lease_s, 1)
    return jobs[0] if jobs else None


async def heartbeat(
    session: AsyncSession,
    job_id: uuid.UUID,
    worker_id: str,
    attempt: int,
    lease_s: float,
    output: Sequence[tuple[str, str]] = (),
) -> Job | None:
    """Extend the lease and append output events; None when the job is no longer ours."""
    now = utcnow()
    job = await repository.transition(
        session,
        _owned(job_id, worker_id, attempt),
        {"heartbeat_at": now, "lease_expires_at": now + timedelta(seconds=lease_s)},
        events=len(output),
    )
    if job is not None and output:
        repository.add_events(
            session, job, [service.event(k, {"data": text}) for k, text in output]
        )
        await publish(session, job_topic(job_id))
    return job


async def finish_run(
    session: AsyncSession,
    job_id: uuid.UUID,
    worker_id: str,
    attempt: int,
    result: RunResult,
    output: Sequence[tuple[str, str]] = (),
    *,
    notify_after_s: float,
) -> Job | None:
    """Record how a run ended (with its last output); None when the job is no longer ours.
    A plain job (no completion hook) that ran at least `notify_after_s` notifies its owner."""
    status = JobStatus(result.outcome.value)
    job = await repository.transition(
        session,
        _owned(job_id, worker_id, attempt),
        service.final_values(status, result),
        events=len(output) + 2,
    )
    if job is not None:
        await service.end_job(session, job, result.files, output)
        await service.notify_if_long(session, job, notify_after_s)
    return job


async def release(session: AsyncSession, job_id: uuid.UUID, worker_id: str, attempt: int) -> bool:
    """Give a job back to the queue without spending an attempt (worker shutting down)."""
    job = await repository.transition(
        session,
        _owned(job_id, worker_id, attempt),
        _requeue_values(attempts=attempt - 1),
        events=1,
    )
    if job is None:
        return False
    repository.add_events(
        session, job, [service.event("status", {"status": "queued", "reason": "worker stopped"})]
    )
    await publish(session, QUEUE, job_topic(job_id))
    return True


def _requeue_values(**extra: Any) -> dict[str, Any]:
    return {
        "status": JobStatus.queued,
        "worker_id": None,
        "lease_expires_at": None,
        "heartbeat_at": None,
        "started_at": None,
        **extra,
    }


async def reap_expired_leases(session: AsyncSession, settings: Settings) -> int:
    """Jobs whose worker stopped heartbeating: retried (once by default), else ended `error`."""
    now = utcnow()
    handled = 0
    for stale in await repository.expired_leases(session, now):
        where = [
            col(Job.id) == stale.id,
            col(Job.status) == JobStatus.running,
            col(Job.lease_expires_at) < now,
        ]
        lost = f"worker {stale.worker_id} stopped responding during attempt {stale.attempts}"
        if stale.cancel_requested:
            job = await repository.transition(
                session, where, service.final_values(JobStatus.cancelled), events=2
            )
            if job is not None:
                await service.end_job(session, job, [])
        elif stale.attempts < settings.job_max_attempts:
            job = await repository.transition(session, where, _requeue_values(), events=1)
            if job is not None:
                log.warning("job %s: %s; retrying", job.id, lost)
                repository.add_events(
                    session, job, [service.event("status", {"status": "queued", "reason": lost})]
                )
                await publish(session, QUEUE, job_topic(job.id))
        else:
            job = await repository.transition(
                session, where, service.final_values(JobStatus.error, error=lost), events=2
            )
            if job is not None:
                log.warning("job %s: %s; giving up", job.id, lost)
                await service.end_job(session, job, [])
        handled += job is not None
    return handled

"""Retention of ended jobs: their input, output, files and events are removed after
``job_retention_days`` and, oldest first, once their owner stores more than
``job_storage_per_user_mb``. The job row stays (status, exit code, times) with ``purged_at`` and
``purge_reason``, so history and links still work and say the output was removed; its `exit`
event stays too, so a replay still ends. Jobs a completion hook keeps (a bug's reproduction
while the bug is not closed) are never touched.

Run by the maintenance loop of every worker and API process, in small batches, each its own
transaction, locking the rows it purges with SKIP LOCKED so processes share the work. Memory
stays bounded: nothing is read but ids and sizes.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, false, func, or_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from api.config import Settings
from api.db import utcnow
from api.jobs import hooks, metrics, repository, service
from api.models import Job

log = logging.getLogger(__name__)

BATCH = 50
"""Jobs purged in one transaction."""
MAX_BATCHES = 40
"""Batches of one pass; what is left waits for the next pass (it comes soon, see `Purged`)."""
MAX_OWNERS = 100
"""Owners over their quota handled in one pass."""


@dataclass
class Purged:
    expired: int = 0
    over_quota: int = 0
    more: bool = False
    """The pass stopped at its bound with work left: run the next one soon."""


def protected() -> ColumnElement[bool]:
    """Jobs a completion hook keeps (see `hooks.JobHook.keep_while`)."""
    kept = [
        and_(func.coalesce(col(Job.on_finish), "") == name, keep())
        for name, keep in hooks.registry.kept_while().items()
    ]
    return or_(*kept) if kept else false()


async def enforce(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime | None = None
) -> Purged:
    """One pass: expired jobs, then owners over their quota; then the storage gauges."""
    now = now or utcnow()
    done = Purged()
    batches = 0
    if settings.job_retention_days > 0:
        cutoff = now - timedelta(days=settings.job_retention_days)
        while batches < MAX_BATCHES:
            batches += 1
            async with sessionmaker() as session:
                ids = await repository.expired_jobs(session, cutoff, protected(), BATCH)
                await _purge(session, ids, "retention", now)
                await session.commit()
            done.expired += len(ids)
            if len(ids) < BATCH:
                break
        else:
            done.more = True
    quota = settings.job_storage_per_user_mb * 1024 * 1024
    if quota > 0:
        async with sessionmaker() as session:
            owners = await repository.owners_over(session, quota, MAX_OWNERS)
        done.more |= len(owners) == MAX_OWNERS
        for owner_id in owners:
            while batches < MAX_BATCHES:
                batches += 1
                purged, left = await _purge_over_quota(sessionmaker, owner_id, quota, now)
                done.over_quota += purged
                if not left:
                    break
            else:
                done.more = True
    await refresh_gauges(sessionmaker)
    if done.expired or done.over_quota:
        log.info(
            "retention: removed the output of %d expired jobs and %d over quota",
            done.expired,
            done.over_quota,
        )
    return done


async def _purge_over_quota(
    sessionmaker: async_sessionmaker[AsyncSession], owner_id: int, quota: int, now: datetime
) -> tuple[int, bool]:
    """Purge one batch of the owner's oldest jobs, as many as bring them under ``quota``;
    and whether more must go. Under the owner's submission lock: two processes purging the same
    owner at once would each remove the excess."""
    async with sessionmaker() as session:
        await repository.lock_owner(session, owner_id)
        excess = await repository.stored_by(session, owner_id) - quota
        if excess <= 0:
            return 0, False
        ids: list[uuid.UUID] = []
        candidates = await repository.oldest_kept_of(session, owner_id, protected(), BATCH)
        for job_id, size in candidates:
            ids.append(job_id)
            excess -= size
            if excess <= 0:
                break
        await _purge(session, ids, "quota", now)
        await session.commit()
    return len(ids), excess > 0 and len(candidates) == BATCH


async def _purge(
    session: AsyncSession, ids: Sequence[uuid.UUID], reason: str, now: datetime
) -> None:
    if not ids:
        return
    for job in await repository.purge(session, ids, reason, now):
        summary = service.to_summary(job, [])
        data = json.dumps(summary.model_dump(mode="json"), separators=(",", ":"))
        await repository.rewrite_exit_event(session, job, data)


async def refresh_gauges(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session:
        jobs, purged, events, stored, files = await repository.storage_totals(session)
    metrics.JOB_ROWS.labels(output="kept").set(jobs - purged)
    metrics.JOB_ROWS.labels(output="purged").set(purged)
    metrics.JOB_EVENT_ROWS.set(events)
    metrics.JOB_STORED_BYTES.set(stored)
    metrics.JOB_FILE_BYTES.set(files)


_next_pass = 0.0
"""When this process's next pass is due (monotonic clock)."""


async def run_if_due(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
    """The maintenance loop's call: a pass every ``job_retention_interval_s`` (at once again
    when the last one stopped at its bound). A failure is logged; the next pass retries."""
    global _next_pass
    now = time.monotonic()
    if now < _next_pass:
        return
    _next_pass = now + settings.job_retention_interval_s
    try:
        done = await enforce(sessionmaker, settings)
    except Exception:
        log.exception("job retention failed")
        return
    if done.more:
        _next_pass = now

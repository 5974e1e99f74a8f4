"""Every query of the jobs domain: the queue's conditional transitions, events, files, counts.

State changes go through `transition`: one UPDATE ... WHERE <expected state> RETURNING, which
also reserves sequence numbers for the events the change appends. Whoever loses a race (a worker
whose lease was taken over, a cancel that came after the start) simply gets None back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, Text, cast, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased, defer, undefer
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from api.concurrency import AdvisoryLock, advisory_lock
from api.models import Job, JobEvent, JobFile, JobStatus
from api.pagination import AnySelect, PageParams, paginate, resolve_sort

ACTIVE = (JobStatus.queued, JobStatus.running)


async def transition(
    session: AsyncSession,
    where: Sequence[ColumnElement[bool]],
    values: dict[str, Any],
    *,
    events: int = 0,
) -> Job | None:
    """Apply ``values`` to the job matching ``where`` (at most one), reserving ``events`` event
    numbers: they are ``job.last_seq - events + 1 .. job.last_seq`` of the returned job."""
    if events:
        values = {**values, "last_seq": col(Job.last_seq) + events}
    stmt = (
        update(Job)
        .where(*where)
        .values(**values)
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(stmt)).one_or_none()


def fair_claim_order(limit: int) -> Select[uuid.UUID]:
    """The ids of the next ``limit`` queued jobs to run, round robin by owner, each row locked
    (SKIP LOCKED: rows another worker is claiming are passed over, not waited for).

    A queued job's turn is how many slots its owner would hold once it runs: the owner's
    running jobs plus its rank among the owner's queued ones. Lower turns go first; among equal
    turns, the owner served least recently (never, first), then the oldest job. So a user's
    job waits for at most one job of each other active user per slot, however many they queued.
    The ranking reads only queued and running rows (``ix_job_status_queued_at``) and each
    owner's latest start (``ix_job_owner_id_started_at``)."""
    running = (
        select(col(Job.owner_id), func.count().label("slots"))
        .where(col(Job.status) == JobStatus.running)
        .group_by(col(Job.owner_id))
        .subquery("running")
    )
    earlier = aliased(Job, name="earlier")
    served_at = (
        select(func.max(earlier.started_at))
        .where(col(earlier.owner_id) == col(Job.owner_id))
        .scalar_subquery()
    )
    rank = func.row_number().over(
        partition_by=col(Job.owner_id), order_by=(col(Job.queued_at), col(Job.id))
    )
    ranked = (
        select(
            col(Job.id).label("id"),
            (rank + func.coalesce(running.c.slots, 0)).label("turn"),
            served_at.label("served_at"),
            col(Job.queued_at).label("queued_at"),
        )
        .outerjoin(running, running.c.owner_id == col(Job.owner_id))
        .where(col(Job.status) == JobStatus.queued)
        .cte("ranked")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return (
        select(col(Job.id))
        .join(ranked, ranked.c.id == col(Job.id))
        .where(col(Job.status) == JobStatus.queued)
        .order_by(
            ranked.c.turn, ranked.c.served_at.asc().nulls_first(), ranked.c.queued_at, ranked.c.id
        )
        .limit(limit)
        .with_for_update(skip_locked=True, of=Job)
    )


async def claim_queued(session: AsyncSession, values: dict[str, Any], limit: int) -> list[Job]:
    """Apply ``values`` (reserving one event number) to the next ``limit`` queued jobs in
    `fair_claim_order`, oldest first (SQLite's RETURNING cannot name the order's columns).
    SQLite ignores FOR UPDATE, and its single writer makes the UPDATE atomic."""
    # Materialised: inlined, PostgreSQL may run the LIMIT again per row and claim more than
    # ``limit`` jobs.
    chosen = (
        fair_claim_order(limit).cte("claimable").prefix_with("MATERIALIZED", dialect="postgresql")
    )
    stmt = (
        update(Job)
        .where(col(Job.id) == chosen.c.id, col(Job.status) == JobStatus.queued)
        .values(**values, last_seq=col(Job.last_seq) + 1)
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    jobs = (await session.scalars(stmt)).all()
    return sorted(jobs, key=lambda job: (job.queued_at, job.id))


def add_events(session: AsyncSession, job: Job, items: Sequence[tuple[str, str]]) -> None:
    """Append ``(kind, json data)`` events numbered up to ``job.last_seq`` (see `transition`)."""
    first = job.last_seq - len(items) + 1
    for offset, (kind, data) in enumerate(items):
        session.add(JobEvent(job_id=job.id, seq=first + offset, kind=kind, data=data))


async def get_job(session: AsyncSession, job_id: uuid.UUID) -> Job | None:
    return await session.get(Job, job_id, populate_existing=True)


async def events_after(
    session: AsyncSession, job_id: uuid.UUID, after: int, limit: int
) -> list[JobEvent]:
    stmt = (
        select(JobEvent)
        .where(col(JobEvent.job_id) == job_id, col(JobEvent.seq) > after)
        .order_by(col(JobEvent.seq))
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def job_progress(session: AsyncSession, job_id: uuid.UUID) -> int | None:
    """The job's newest event number, or None when the job is gone."""
    seq: int | None = await session.scalar(select(col(Job.last_seq)).where(col(Job.id) == job_id))
    return seq


async def job_by_idempotency_key(session: AsyncSession, owner_id: int, key: str) -> Job | None:
    return await session.scalar(
        select(Job).where(col(Job.owner_id) == owner_id, col(Job.idempotency_key) == key)
    )


async def lock_owner(session: AsyncSession, owner_id: int) -> None:
    """Serialise one user's submissions so the per-user caps hold under concurrency.

    An advisory lock rather than the user's row: a row lock also holds up every insert whose
    foreign key names the user (their history rows, notifications), and a bug edit that locks
    the bug and then submits a reproduction could deadlock with one."""
    await advisory_lock(session, AdvisoryLock.job_submissions, owner_id)


async def submission_load(
    session: AsyncSession, owner_id: int, since: datetime
) -> tuple[int, int, datetime | None, int]:
    """What a new submission is checked against, in one statement: the user's jobs queued or
    running, how many they created since ``since`` and when the oldest of those was (one pass
    over the user's jobs), and how many jobs of anyone's wait in the queue."""
    active, recent = col(Job.status).in_(ACTIVE), col(Job.created_at) > since
    queued = _count_queued().scalar_subquery()
    row = (
        await session.execute(
            select(
                func.count().filter(active),
                func.count().filter(recent),
                func.min(Job.created_at).filter(recent),
                queued,
            ).where(col(Job.owner_id) == owner_id, active | recent)
        )
    ).one()
    oldest = row[2]
    if isinstance(oldest, str):  # SQLite's min() loses the column type
        oldest = datetime.fromisoformat(oldest)
    return int(row[0]), int(row[1]), oldest, int(row[3])


def _count_queued() -> Select[int]:
    return select(func.count()).where(col(Job.status) == JobStatus.queued)


async def count_queued(session: AsyncSession) -> int:
    return int(await session.scalar(_count_queued()) or 0)


async def expired_leases(session: AsyncSession, now: datetime, limit: int = 100) -> list[Job]:
    stmt = (
        select(Job)
        .where(col(Job.status) == JobStatus.running, col(Job.lease_expires_at) < now)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


def visible_jobs(owner_id: int | None) -> Select[Any]:
    stmt = select(Job)
    if owner_id is not None:
        stmt = stmt.where(col(Job.owner_id) == owner_id)
    return stmt


OUTPUT_SIZE = "output_size"
_INPUTS = (Job.input_files, Job.stdin)
_OUTPUTS = (Job.stdout, Job.stderr)


class ByteLength(FunctionElement[int]):
    """The size in bytes of a text value, without reading it where the database can: PostgreSQL's
    octet_length takes the stored size (length() would unpack and count characters); SQLite's
    length() counts characters, and only up to a NUL."""

    type = Integer()
    inherit_cache = True


@compiles(ByteLength)
def _octet_length(element: ByteLength, compiler: SQLCompiler, **kw: Any) -> str:
    return f"octet_length({compiler.process(element.clauses, **kw)})"


@compiles(ByteLength, "sqlite")
def _sqlite_byte_length(element: ByteLength, compiler: SQLCompiler, **kw: Any) -> str:
    return f"length(CAST({compiler.process(element.clauses, **kw)} AS BLOB))"


def listed_jobs(owner_id: int | None) -> AnySelect:
    """`visible_jobs` without what may be megabytes a job (its input, stdin and output), and the
    size of its output (bytes of stdout + stderr) as `OUTPUT_SIZE`."""
    size = ByteLength(col(Job.stdout)) + ByteLength(col(Job.stderr))
    return (
        visible_jobs(owner_id)
        .options(*(defer(c) for c in (*_INPUTS, *_OUTPUTS)))  # type: ignore[arg-type]
        .add_columns(size.label(OUTPUT_SIZE))
    )


async def with_output(session: AsyncSession, job_ids: Sequence[uuid.UUID]) -> list[Job]:
    """The jobs as they are now, with their output (not their input), in the order of
    ``job_ids``; a job gone meanwhile is left out."""
    if not job_ids:
        return []
    stmt = (
        select(Job)
        .options(*(defer(c) for c in _INPUTS), *(undefer(c) for c in _OUTPUTS))  # type: ignore[arg-type]
        .where(col(Job.id).in_(job_ids))
        .execution_options(populate_existing=True)
    )
    jobs = {job.id: job for job in await session.scalars(stmt)}
    return [jobs[i] for i in job_ids if i in jobs]


async def page_of_files(
    session: AsyncSession, job_id: uuid.UUID, params: PageParams
) -> tuple[list[JobFile], str | None]:
    """One job's files by path (unique within the job: the path is its own tiebreak)."""
    key = resolve_sort(
        params.sort, {"path": col(JobFile.path)}, tiebreak=col(JobFile.path), default="path"
    )
    stmt = (
        select(JobFile)
        .options(defer(JobFile.content))  # type: ignore[arg-type]
        .where(col(JobFile.job_id) == job_id)
    )
    return await paginate(session, stmt, key, params)


async def files_of(
    session: AsyncSession, job_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, list[JobFile]]:
    ids = list(job_ids)
    out: dict[uuid.UUID, list[JobFile]] = {i: [] for i in ids}
    if not ids:
        return out
    stmt = (
        select(JobFile)
        .options(defer(JobFile.content))  # type: ignore[arg-type]
        .where(col(JobFile.job_id).in_(ids))
        .order_by(col(JobFile.job_id), col(JobFile.path))
    )
    for row in (await session.scalars(stmt)).all():
        out[row.job_id].append(row)
    return out


async def file_of(session: AsyncSession, job_id: uuid.UUID, path: str) -> JobFile | None:
    return await session.get(JobFile, (job_id, path))


# -- retention ----------------------------------------------------------------------------------


def _stored_size() -> ColumnElement[int]:
    """What a job keeps, in bytes: input, stdin, output text, files and events."""
    files = (
        select(func.coalesce(func.sum(col(JobFile.size)), 0))
        .where(col(JobFile.job_id) == col(Job.id))
        .scalar_subquery()
    )
    events = (
        select(func.coalesce(func.sum(ByteLength(col(JobEvent.data))), 0))
        .where(col(JobEvent.job_id) == col(Job.id))
        .scalar_subquery()
    )
    parts = (
        ByteLength(cast(col(Job.input_files), Text)),
        ByteLength(col(Job.stdin)),
        ByteLength(col(Job.stdout)),
        ByteLength(col(Job.stderr)),
    )
    total: ColumnElement[int] = files + events
    for part in parts:
        total = total + func.coalesce(part, 0)
    return total


async def count_stored_bytes(session: AsyncSession, job_id: uuid.UUID) -> None:
    await session.execute(
        update(Job)
        .where(col(Job.id) == job_id)
        .values(stored_bytes=_stored_size())
        .execution_options(synchronize_session=False)
    )


def _kept(now_kept: ColumnElement[bool]) -> list[ColumnElement[bool]]:
    """Ended jobs whose output is still there and that no completion hook keeps."""
    return [
        col(Job.purged_at).is_(None),
        col(Job.finished_at).is_not(None),
        now_kept,
    ]


async def expired_jobs(
    session: AsyncSession, cutoff: datetime, protected: ColumnElement[bool], limit: int
) -> list[uuid.UUID]:
    """Up to ``limit`` jobs that ended before ``cutoff``, oldest first, locked (SKIP LOCKED:
    another process purging at the same time takes others)."""
    stmt = (
        select(col(Job.id))
        .where(*_kept(~protected), col(Job.finished_at) < cutoff)
        .order_by(col(Job.finished_at), col(Job.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list((await session.scalars(stmt)).all())


async def owners_over(session: AsyncSession, quota: int, limit: int) -> list[int]:
    """Owners whose kept jobs store more than ``quota`` bytes."""
    used = func.sum(col(Job.stored_bytes))
    stmt = (
        select(col(Job.owner_id))
        .where(col(Job.purged_at).is_(None))
        .group_by(col(Job.owner_id))
        .having(used > quota)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def stored_by(session: AsyncSession, owner_id: int) -> int:
    used = await session.scalar(
        select(func.coalesce(func.sum(col(Job.stored_bytes)), 0)).where(
            col(Job.owner_id) == owner_id, col(Job.purged_at).is_(None)
        )
    )
    return int(used or 0)


async def oldest_kept_of(
    session: AsyncSession, owner_id: int, protected: ColumnElement[bool], limit: int
) -> list[tuple[uuid.UUID, int]]:
    """The owner's oldest ended jobs still kept, with what each stores, locked."""
    stmt = (
        select(col(Job.id), col(Job.stored_bytes))
        .where(col(Job.owner_id) == owner_id, *_kept(~protected))
        .order_by(col(Job.created_at), col(Job.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(row[0], int(row[1])) for row in (await session.execute(stmt)).all()]


async def purge(
    session: AsyncSession, job_ids: Sequence[uuid.UUID], reason: str, now: datetime
) -> list[Job]:
    """Remove the jobs' input, output, files and every event but `exit`; mark them purged.
    The jobs as they are now, without their (emptied) input and output."""
    await session.execute(
        delete(JobEvent).where(col(JobEvent.job_id).in_(job_ids), col(JobEvent.kind) != "exit")
    )
    await session.execute(delete(JobFile).where(col(JobFile.job_id).in_(job_ids)))
    stmt = (
        update(Job)
        .where(col(Job.id).in_(job_ids), col(Job.purged_at).is_(None))
        .values(
            input_files={},
            stdin=b"",
            stdout="",
            stderr="",
            purged_at=now,
            purge_reason=reason,
        )
        .returning(Job)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def rewrite_exit_event(session: AsyncSession, job: Job, data: str) -> None:
    await session.execute(
        update(JobEvent)
        .where(col(JobEvent.job_id) == job.id, col(JobEvent.kind) == "exit")
        .values(data=data)
    )
    await count_stored_bytes(session, job.id)


async def storage_totals(session: AsyncSession) -> tuple[int, int, int, int, int]:
    """Job rows, purged job rows, event rows, stored bytes of kept jobs, bytes of files."""
    jobs = (
        await session.execute(
            select(
                func.count(),
                func.count(col(Job.purged_at)),
                func.coalesce(func.sum(col(Job.stored_bytes)), 0),
            )
        )
    ).one()
    events = await session.scalar(select(func.count()).select_from(JobEvent))
    files = await session.scalar(select(func.coalesce(func.sum(col(JobFile.size)), 0)))
    return int(jobs[0]), int(jobs[1]), int(events or 0), int(jobs[2]), int(files or 0)

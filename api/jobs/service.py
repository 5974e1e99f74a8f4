"""Job rules: submission (caps, idempotency), visibility, cancel and the end of a job (with its
completion hook); the queue's lease protocol is `api.jobs.queue`. Never commits; callers own
the transaction."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from api.config import Settings
from api.db import utcnow
from api.errors import Forbidden
from api.jobs import hooks, metrics, repository
from api.jobs.exceptions import (
    ExecutorUnavailable,
    IdempotencyKeyReused,
    JobAlreadyFinished,
    JobNotFound,
    JobTooLarge,
    QueueFull,
    SubmissionRateLimited,
    TooManyJobs,
)
from api.jobs.hints import job_hint
from api.jobs.schemas import (
    JobCreate,
    JobDetail,
    JobFileRead,
    JobInputFileRead,
    JobLimits,
    JobLimitsRequest,
    JobOrigin,
    JobRead,
    JobStorageRead,
    JobSummary,
)
from api.jobs.signals import (
    QUEUE,
    SHUTDOWN,
    cancel_topic,
    end_topic,
    job_topic,
    publish,
    signals,
)
from api.jobs.storage import save_output_file
from api.models import Job, JobFile, JobStatus, User
from api.notifications.service import notify
from api.pagination import PageParams, cursor_after, paginate_rows, resolve_sort
from api.permissions import has_permission, may
from executor.backends import DEFAULT_LIMITS, MAX_LIMITS, Limits, OutputFile, RunResult

log = logging.getLogger(__name__)

RATE_WINDOW_S = 60
QUEUE_FULL_RETRY_AFTER_S = 5
JOB_SORTS = {"created_at": Job.created_at, "status": Job.status}


@dataclass(frozen=True)
class ExecutorState:
    """Whether this API process can promise that submitted jobs will run."""

    available: bool
    backend: str | None
    detail: str
    notice: str | None = None
    """Set when jobs run, but on less than the Docker sandbox: what is weaker and the fix."""


# -- limits -------------------------------------------------------------------------------------


def max_limits(settings: Settings) -> JobLimits:
    return JobLimits(
        wall_time_s=min(float(settings.job_max_wall_time_s), MAX_LIMITS.wall_time_s),
        memory_mb=min(settings.job_max_memory_mb, MAX_LIMITS.memory_mb),
        output_bytes=min(settings.job_max_output_bytes, MAX_LIMITS.output_bytes),
    )


def default_limits(settings: Settings) -> JobLimits:
    top = max_limits(settings)
    return JobLimits(
        wall_time_s=min(DEFAULT_LIMITS.wall_time_s, top.wall_time_s),
        memory_mb=min(DEFAULT_LIMITS.memory_mb, top.memory_mb),
        output_bytes=min(DEFAULT_LIMITS.output_bytes, top.output_bytes),
    )


def resolve_limits(asked: JobLimitsRequest, settings: Settings) -> JobLimits:
    """What the job gets: the defaults where nothing was asked, never above the maxima."""
    top, default = max_limits(settings), default_limits(settings)
    return JobLimits(
        wall_time_s=min(asked.wall_time_s or default.wall_time_s, top.wall_time_s),
        memory_mb=min(asked.memory_mb or default.memory_mb, top.memory_mb),
        output_bytes=min(asked.output_bytes or default.output_bytes, top.output_bytes),
    )


def sandbox_limits(job: Job) -> Limits:
    limits = JobLimits.model_validate(job.limits)
    return Limits(
        wall_time_s=limits.wall_time_s,
        memory_mb=limits.memory_mb,
        output_bytes=limits.output_bytes,
    )


# -- submission ---------------------------------------------------------------------------------


def fingerprint(data: JobCreate) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def event(kind: str, payload: dict[str, Any]) -> tuple[str, str]:
    return kind, json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


async def create_job(
    session: AsyncSession,
    settings: Settings,
    executor: ExecutorState,
    owner: User,
    data: JobCreate,
    *,
    idempotency_key: str | None = None,
    on_finish: str | None = None,
    on_finish_data: dict[str, Any] | None = None,
) -> tuple[Job, bool]:
    """Queue a job; returns it and whether it is an earlier job replayed for the same
    Idempotency-Key and request."""
    assert owner.id is not None
    if not executor.available:
        raise ExecutorUnavailable(executor.detail, headers={"Retry-After": "30"})
    files = data.input_files()
    stdin = data.stdin.encode()
    size = sum(map(len, files.values())) + len(stdin)
    if size > settings.job_max_request_bytes:
        raise JobTooLarge(
            f"files and stdin total {size} bytes; the limit is {settings.job_max_request_bytes}"
        )
    print_ = fingerprint(data)
    await repository.lock_owner(session, owner.id)
    if idempotency_key is not None:
        earlier = await _replay(session, owner.id, idempotency_key, print_)
        if earlier is not None:
            return earlier, True
    await _check_capacity(session, settings, owner.id)

    limits = resolve_limits(data.limits, settings)
    job = Job(
        owner_id=owner.id,
        runtime=data.runtime,
        entrypoint=data.entrypoint,
        input_files={p: _b64(c) for p, c in files.items()},
        stdin=stdin,
        args=list(data.args),
        limits=limits.model_dump(),
        idempotency_key=idempotency_key,
        request_fingerprint=print_,
        on_finish=on_finish,
        on_finish_data=on_finish_data,
        last_seq=1,
        stored_bytes=size,
    )
    if idempotency_key is None:
        session.add(job)  # flushed with its first event below
    else:
        try:
            async with session.begin_nested():
                session.add(job)
                await session.flush()
        except IntegrityError:
            # a concurrent request with the same key won the race
            earlier = await _replay(session, owner.id, idempotency_key, print_)
            if earlier is None:
                raise
            return earlier, True
    repository.add_events(session, job, [event("status", {"status": JobStatus.queued.value})])
    await session.flush()
    await publish(session, QUEUE, job_topic(job.id))
    return job, False


async def submit_job(
    session: AsyncSession,
    settings: Settings,
    executor: ExecutorState,
    owner: User,
    data: JobCreate,
    *,
    on_finish: str | None = None,
    on_finish_data: dict[str, Any] | None = None,
) -> Job:
    """Queue a job for another part of Nimbus (e.g. a bug's reproduction script); when it ends,
    the hook registered as ``on_finish`` runs with ``job.on_finish_data`` at hand."""
    job, _ = await create_job(
        session, settings, executor, owner, data, on_finish=on_finish, on_finish_data=on_finish_data
    )
    return job


def _b64(content: bytes) -> str:
    return base64.b64encode(content).decode()


async def _replay(session: AsyncSession, owner_id: int, key: str, print_: str) -> Job | None:
    earlier = await repository.job_by_idempotency_key(session, owner_id, key)
    if earlier is not None and earlier.request_fingerprint != print_:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was first used with a different request body; "
            "use a new key for a new job",
            extra={"job_id": str(earlier.id)},
        )
    return earlier


async def _check_capacity(session: AsyncSession, settings: Settings, owner_id: int) -> None:
    now = utcnow()
    active, recent, oldest, queued = await repository.submission_load(
        session, owner_id, now - timedelta(seconds=RATE_WINDOW_S)
    )
    if recent >= settings.job_submit_rate_per_minute:
        wait = RATE_WINDOW_S - (now - oldest).total_seconds() if oldest else RATE_WINDOW_S
        raise SubmissionRateLimited(
            int(wait) + 1,
            f"at most {settings.job_submit_rate_per_minute} job submissions per minute",
        )
    if active >= settings.job_max_active_per_user:
        raise TooManyJobs(
            5,
            f"you have {active} jobs queued or running (limit "
            f"{settings.job_max_active_per_user}); wait for some to finish or cancel them",
        )
    metrics.QUEUE_DEPTH.set(queued)
    if queued >= settings.job_queue_max:
        raise QueueFull(
            f"{queued} jobs are waiting; try again shortly",
            headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER_S)},
        )


# -- reading ------------------------------------------------------------------------------------


def sees_all(user: User) -> bool:
    return has_permission(user.role, "jobs:see_all")


async def get_visible_job(session: AsyncSession, user: User, job_id: uuid.UUID) -> Job:
    """The job, if it is the user's own (admins: any) or its finish hook lets the user read it
    (a bug's reproduction: whoever sees the bug); 404 otherwise, never 403."""
    job = await repository.get_job(session, job_id)
    if job is None:
        raise JobNotFound()
    if may(user.role, "jobs:manage", own=job.owner_id == user.id):
        return job
    hook = hooks.registry.get(job.on_finish)
    check = None if hook is None else hook.also_readable_by
    if check is None or not await check(session, user, job):
        raise JobNotFound()
    return job


_COMPUTED = frozenset({"files", "origin", "hint"})


def _columns(job: Job, model: type[JobSummary]) -> dict[str, Any]:
    values = {name: getattr(job, name) for name in model.model_fields if name not in _COMPUTED}
    return {**values, "origin": _origin(job), "hint": job_hint(job)}


def _origin(job: Job) -> JobOrigin | None:
    if job.on_finish is None:
        return None
    bug_id = (job.on_finish_data or {}).get("bug_id")
    return JobOrigin(kind=job.on_finish, bug_id=bug_id if isinstance(bug_id, int) else None)


def to_read(job: Job, files: Sequence[JobFile]) -> JobRead:
    read = [JobFileRead.model_validate(f) for f in files]
    return JobRead.model_validate({**_columns(job, JobRead), "files": read})


def to_detail(job: Job, files: Sequence[JobFile]) -> JobDetail:
    """The job with what it ran, in the shape it was submitted in (see `JobDetail`)."""
    inputs = {path: base64.b64decode(content) for path, content in job.input_files.items()}
    source = _single_text_file(inputs, job.entrypoint)
    return JobDetail.model_validate(
        {
            **_columns(job, JobRead),
            "files": [JobFileRead.model_validate(f) for f in files],
            "source": source,
            "input_files": None if source is not None or not inputs else _input_files(inputs),
            "stdin": job.stdin.decode(errors="replace"),
        }
    )


def _single_text_file(inputs: dict[str, bytes], entrypoint: str) -> str | None:
    if list(inputs) != [entrypoint]:
        return None
    try:
        return inputs[entrypoint].decode()
    except UnicodeDecodeError:
        return None


def _input_files(inputs: dict[str, bytes]) -> list[JobInputFileRead]:
    files = []
    for path, content in sorted(inputs.items()):
        try:
            text, encoding = content.decode(), "utf8"
        except UnicodeDecodeError:
            text, encoding = _b64(content), "base64"
        files.append(
            JobInputFileRead(path=path, content=text, encoding=encoding, size=len(content))
        )
    return files


def to_summary(job: Job, files: Sequence[JobFileRead]) -> JobSummary:
    return JobSummary.model_validate({**_columns(job, JobSummary), "files": list(files)})


async def read_job(session: AsyncSession, job: Job) -> JobRead:
    files = await repository.files_of(session, [job.id])
    return to_read(job, files[job.id])


async def read_job_detail(session: AsyncSession, job: Job) -> JobDetail:
    files = await repository.files_of(session, [job.id])
    return to_detail(job, files[job.id])


async def storage(session: AsyncSession, settings: Settings) -> JobStorageRead:
    jobs, purged, events, stored, files = await repository.storage_totals(session)
    return JobStorageRead(
        jobs=jobs,
        purged_jobs=purged,
        events=events,
        stored_bytes=stored,
        file_bytes=files,
        retention_days=settings.job_retention_days,
        storage_per_user_bytes=settings.job_storage_per_user_mb * 1024 * 1024,
    )


async def list_jobs(
    session: AsyncSession,
    user: User,
    params: PageParams,
    *,
    status: JobStatus | None = None,
    owner_id: int | None = None,
) -> tuple[list[JobRead], str | None]:
    """A page of jobs with their output; it ends early (``next_cursor`` set) once the output
    it holds reaches `LIST_OUTPUT_BUDGET`: 200 jobs of 2 MB each would be 400 MB in one answer."""
    key = resolve_sort(params.sort, JOB_SORTS, tiebreak=Job.id, default="-created_at")
    stmt = repository.listed_jobs(None if sees_all(user) else user.id)
    if owner_id is not None:
        stmt = stmt.where(col(Job.owner_id) == owner_id)
    if status is not None:
        stmt = stmt.where(col(Job.status) == status)
    rows, cursor = await paginate_rows(session, stmt, key, params)
    kept = _within_output_budget(rows)
    if len(kept) < len(rows):
        cursor = cursor_after(kept[-1], key)
    # Read again, whole but for the input: each job as one snapshot shows it (status and output)
    jobs = await repository.with_output(session, [row[0].id for row in kept])
    files = await repository.files_of(session, [j.id for j in jobs])
    return [to_read(j, files[j.id]) for j in jobs], cursor


LIST_OUTPUT_BUDGET = 4_000_000
"""Bytes of stdout + stderr a page of `list_jobs` stops at (it holds one job at least)."""


def _within_output_budget(rows: Sequence[Any]) -> Sequence[Any]:
    total = 0
    for index, row in enumerate(rows):
        total += getattr(row, repository.OUTPUT_SIZE) or 0
        if total > LIST_OUTPUT_BUDGET and index > 0:
            return rows[:index]
    return rows


async def wait_for_job(
    sessionmaker: async_sessionmaker[AsyncSession],
    job_id: uuid.UUID,
    timeout_s: float,
    poll_s: float,
    closing: asyncio.Event | None = None,
    submit: Callable[[], Awaitable[object]] | None = None,
) -> JobRead | None:
    """The job once it has ended, else as it is after ``timeout_s`` (or as soon as ``closing``
    is set: the server is shutting down and answers now rather than later); None if it is gone.

    ``submit`` (the commit that queues a new job) runs once we listen for the job's end: no end
    can be missed then, so the first look waits for that signal instead of reading the job."""
    deadline = time.monotonic() + timeout_s
    with signals.watch(end_topic(job_id), SHUTDOWN) as wake:
        if submit is not None:
            await submit()
        look = submit is None
        while True:
            remaining = deadline - time.monotonic()
            out_of_time = remaining <= 0 or (closing is not None and closing.is_set())
            if look or out_of_time:
                wake.clear()
                async with sessionmaker() as session:
                    job = await repository.get_job(session, job_id)
                    if job is None:
                        return None
                    if out_of_time or JobStatus(job.status).is_final:
                        return await read_job(session, job)
            look = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), min(remaining, poll_s))


async def answer_submission(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    job: Job,
    *,
    replayed: bool,
    wait_s: float,
    poll_s: float,
    closing: asyncio.Event | None = None,
) -> tuple[JobRead, bool]:
    """What `POST /jobs` answers for ``job``, and whether it ended within ``wait_s`` (200 then).

    Waiting (``wait_s`` > 0) commits the request's session before the request ends, the one
    place a service commits: no worker can claim a new job before its commit, so the wait would
    only ever time out. The commit runs once we listen for the job's end, so none is missed;
    a replayed job is already committed and may end before we listen, so it is read first."""
    if wait_s > 0:
        if JobStatus(job.status).is_final:
            return await read_job(session, job), True
        if replayed:
            await session.commit()
        now = await wait_for_job(
            sessionmaker,
            job.id,
            wait_s,
            poll_s,
            closing,
            submit=None if replayed else session.commit,
        )
        if now is not None:  # as it is now: `running`, not the snapshot from before
            return now, JobStatus(now.status).is_final
    return (await read_job(session, job) if replayed else to_read(job, [])), False


# -- cancel -------------------------------------------------------------------------------------


async def cancel_job(session: AsyncSession, user: User, job_id: uuid.UUID) -> Job:
    """Queued: cancelled now. Running: the worker is told to kill it (it ends `cancelled`)."""
    job = await get_visible_job(session, user, job_id)
    if not may(user.role, "jobs:manage", own=job.owner_id == user.id):
        raise Forbidden("Only whoever started the job, or an admin, can cancel it")
    ended = await repository.transition(
        session,
        [col(Job.id) == job.id, col(Job.status) == JobStatus.queued],
        final_values(JobStatus.cancelled),
        events=2,
    )
    if ended is not None:
        await end_job(session, ended, [])
        return ended
    running = await repository.transition(
        session,
        [col(Job.id) == job.id, col(Job.status) == JobStatus.running],
        {"cancel_requested": True},
    )
    if running is not None:
        await publish(session, cancel_topic(job.id))
        return running
    raise JobAlreadyFinished(f"The job already ended with status {job.status}")


# -- the end of a job (the lease protocol is in `api.jobs.queue`) ---------------------------------


def final_values(
    status: JobStatus, result: RunResult | None = None, **extra: Any
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": status,
        "finished_at": utcnow(),
        "lease_expires_at": None,
        **extra,
    }
    if result is not None:
        values.update(
            exit_code=result.exit_code,
            signal=result.signal,
            stdout=result.stdout,
            stderr=result.stderr,
            stdout_truncated=result.stdout_truncated,
            stderr_truncated=result.stderr_truncated,
            files_truncated=result.files_truncated,
            duration_ms=result.duration_ms,
            cpu_time_ms=result.cpu_time_ms,
            peak_memory_bytes=result.peak_memory_bytes,
            error=result.error,
        )
    return values


async def end_job(
    session: AsyncSession,
    job: Job,
    files: Sequence[OutputFile],
    output: Sequence[tuple[str, str]] = (),
) -> None:
    """Append the last output, the final `status` and the `exit` events (reserved by the
    transition that ended ``job``), store output files, run the completion hook."""
    summary = to_summary(
        job, [JobFileRead(path=f.path, size=f.size, sha256=f.sha256) for f in files]
    )
    repository.add_events(
        session,
        job,
        [
            *(event(k, {"data": text}) for k, text in output),
            event("status", {"status": job.status}),
            event("exit", summary.model_dump(mode="json")),
        ],
    )
    for file in files:
        save_output_file(session, job.id, file)
    await session.flush()
    await repository.count_stored_bytes(session, job.id)
    await _run_finish_hook(session, job)
    await publish(session, job_topic(job.id), end_topic(job.id))
    metrics.JOBS_TOTAL.labels(status=str(job.status)).inc()
    if job.duration_ms is not None:
        metrics.JOB_DURATION.observe(job.duration_ms / 1000)
    if job.cpu_time_ms is not None:
        metrics.JOB_CPU.observe(job.cpu_time_ms / 1000)
    if job.peak_memory_bytes is not None:
        metrics.JOB_PEAK_MEMORY.observe(job.peak_memory_bytes)


async def notify_if_long(session: AsyncSession, job: Job, notify_after_s: float) -> None:
    """Jobs with a completion hook tell people themselves (a reproduction notifies the bug's
    watchers); only runs end here, so cancelled-while-queued and reaped jobs never notify."""
    if job.on_finish is None and (job.duration_ms or 0) >= notify_after_s * 1000:
        await notify(
            session,
            [job.owner_id],
            kind="job.finished",
            title=f"Your job finished: {job.status}",
            link=f"/jobs/{job.id}",
        )


async def _run_finish_hook(session: AsyncSession, job: Job) -> None:
    if job.on_finish is None:
        return
    hook = hooks.registry.get(job.on_finish)
    if hook is None:
        log.error("job %s: no completion hook named %r is registered", job.id, job.on_finish)
        return
    try:
        async with session.begin_nested():
            await hook.on_finish(session, job)
    except Exception:  # the job's end is recorded whatever the hook does
        log.exception("job %s: completion hook %r failed", job.id, job.on_finish)

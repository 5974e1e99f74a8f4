"""Running a bug's reproduction script in the sandbox, and recording whether it reproduces.

A script reproduces the bug when it exits non-zero. Each run is a `Reproduction` row (its verdict,
exit code, times, memory); the verdict is written by a job completion hook in the transaction
that records the job's end, so bug, run and job never disagree. Resolving a bug as `fixed`
re-runs its script ("verifying"): a fix the run contradicts sends the bug back to work.
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from api.bugs import activity, repository, service
from api.bugs.exceptions import NoReproScript
from api.bugs.schemas import TransitionRequest
from api.concurrency import lock_for_write
from api.config import Settings
from api.errors import AppError
from api.jobs.hooks import JobHook
from api.jobs.schemas import JobCreate
from api.jobs.service import ExecutorState, submit_job
from api.models import Bug, BugStatus, Job, JobStatus, Reproduction, Resolution, User, Verdict

log = logging.getLogger("nimbus.reproductions")

HOOK = "bug_reproduction"
# Statuses that say something about the script; the others (timeouts, limits, errors) do not.
VERDICTS = {JobStatus.succeeded: Verdict.does_not_reproduce, JobStatus.failed: Verdict.reproduces}
REPRODUCES = {Verdict.reproduces: True, Verdict.does_not_reproduce: False}
SAYS = {
    Verdict.reproduces: "reproduces",
    Verdict.does_not_reproduce: "does not reproduce",
    Verdict.error: "inconclusive",
}


async def _start(
    session: AsyncSession,
    settings: Settings,
    executor: ExecutorState,
    user: User,
    bug: Bug,
    *,
    verifies_fix: bool = False,
) -> Job:
    assert bug.id is not None
    if not bug.repro_script:
        raise NoReproScript()
    job = await submit_job(
        session,
        settings,
        executor,
        user,
        JobCreate(source=bug.repro_script),
        on_finish=HOOK,
        on_finish_data={"bug_id": bug.id, **({"verifies_fix": True} if verifies_fix else {})},
    )
    bug.repro_job_id = str(job.id)
    bug.verdict = Verdict.running
    session.add(Reproduction(bug_id=bug.id, job_id=job.id, verdict=Verdict.running))
    activity.record(session, bug.id, "reproduction", None, f"started job {job.id}")
    await session.flush()
    return job


async def reproduce(
    session: AsyncSession, settings: Settings, executor: ExecutorState, user: User, ref: str
) -> tuple[Bug, Job]:
    bug, _ = await service.get_visible_bug(session, user, ref)
    await lock_for_write(session, bug)
    return bug, await _start(session, settings, executor, user, bug)


async def transition(
    session: AsyncSession,
    settings: Settings,
    executor: ExecutorState,
    user: User,
    ref: str,
    req: TransitionRequest,
    if_match: str | None,
) -> Bug:
    """The workflow transition, then, for a bug resolved as fixed, a fresh reproduction run."""
    bug = await service.transition(session, user, ref, req, if_match)
    fixed = bug.status == BugStatus.resolved and bug.resolution == Resolution.fixed
    if fixed and bug.repro_script:
        try:
            async with session.begin_nested():
                await _start(session, settings, executor, user, bug, verifies_fix=True)
        except AppError as exc:  # no sandbox or a full queue must not block resolving
            assert bug.id is not None
            activity.record(session, bug.id, "reproduction", None, f"not re-run: {exc.detail}")
    return bug


async def _on_finished(session: AsyncSession, job: Job) -> None:
    data = job.on_finish_data or {}
    bug = await session.get(Bug, int(data["bug_id"]))
    if bug is None:
        return  # deleted, and its runs with it
    await lock_for_write(session, bug)  # an edit of the bug meanwhile must not lose the verdict
    assert bug.id is not None
    verdict = VERDICTS.get(JobStatus(job.status), Verdict.error)
    run = await repository.reproduction_of_job(session, job.id)
    if run is None:  # started before runs were recorded
        run = Reproduction(bug_id=bug.id, job_id=job.id, created_at=job.created_at)
        session.add(run)
    run.verdict = verdict
    run.exit_code = job.exit_code
    run.duration_ms = job.duration_ms
    run.cpu_time_ms = job.cpu_time_ms
    run.peak_memory_bytes = job.peak_memory_bytes
    run.finished_at = job.finished_at
    if bug.repro_job_id != str(job.id):
        await session.flush()
        return  # a newer run superseded this one: its verdict is history, not the bug's
    session.info[activity.ACTOR_KEY] = job.owner_id
    bug.verdict = verdict
    bug.reproduces = REPRODUCES.get(verdict)
    bug.repro_checked_at = job.finished_at
    activity.record(
        session, bug.id, "reproduction", None, f"job {job.id} {job.status}: {SAYS[verdict]}"
    )
    await session.flush()
    fix_contradicted = (
        verdict == Verdict.reproduces
        and data.get("verifies_fix") is True
        and bug.status == BugStatus.resolved
        and bug.resolution == Resolution.fixed
    )
    if fix_contradicted:
        session.info[activity.ACTOR_KEY] = None  # Nimbus moved it, not a person
        await service.fix_not_verified(session, bug, str(job.id))
    else:
        await service.notify_reproduction(session, bug, SAYS[verdict])


async def _readable_by_who_sees_the_bug(session: AsyncSession, user: User, job: Job) -> bool:
    """A reproduction's output explains the bug's verdict: whoever sees the bug may read it."""
    bug = await session.get(Bug, int((job.on_finish_data or {})["bug_id"]))
    return bug is not None and await service.sees_project(session, user, bug.project_id)


def _bug_not_closed() -> ColumnElement[bool]:
    """The latest reproduction explains a bug's verdict: retention keeps it until the bug is
    closed. Older runs of the same bug are history, purged like any job."""
    bug_id = col(Job.on_finish_data)["bug_id"].as_integer()
    newer = aliased(Job)
    superseded = exists().where(
        col(newer.on_finish) == HOOK,
        col(newer.on_finish_data)["bug_id"].as_integer() == bug_id,
        or_(
            col(newer.created_at) > col(Job.created_at),
            and_(col(newer.created_at) == col(Job.created_at), col(newer.id) > col(Job.id)),
        ),
    )
    open_bug = exists().where(col(Bug.id) == bug_id, col(Bug.status) != BugStatus.closed)
    return and_(open_bug, ~superseded)


REPRODUCTION_HOOK = JobHook(
    HOOK,
    _on_finished,
    also_readable_by=_readable_by_who_sees_the_bug,
    keep_while=_bug_not_closed,
)
"""Records a reproduction's verdict; wired at start-up by `api.wiring.wire_job_hooks`."""

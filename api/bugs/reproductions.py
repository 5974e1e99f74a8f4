"""Running a bug's reproduction script in the sandbox, and recording whether it reproduces.

A script reproduces the bug when it exits non-zero. The verdict is written by a job completion
hook in the transaction that records the job's end, so bug and job never disagree. Resolving a
bug as `fixed` re-runs its script, so a fix that does not fix shows up at once.
"""

from __future__ import annotations

import logging

from sqlalchemy import ColumnElement, exists
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.bugs import activity, service
from api.bugs.exceptions import NoReproScript
from api.bugs.schemas import TransitionRequest
from api.concurrency import lock_for_write
from api.config import Settings
from api.errors import AppError
from api.jobs.hooks import JobHook
from api.jobs.schemas import JobCreate
from api.jobs.service import ExecutorState, submit_job
from api.models import Bug, BugStatus, Job, JobStatus, Resolution, User

log = logging.getLogger("nimbus.reproductions")

HOOK = "bug_reproduction"
# Statuses that say something about the script; the others (timeouts, limits, errors) do not.
VERDICTS = {JobStatus.succeeded: False, JobStatus.failed: True}


async def _start(
    session: AsyncSession, settings: Settings, executor: ExecutorState, user: User, bug: Bug
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
        on_finish_data={"bug_id": bug.id},
    )
    bug.repro_job_id = str(job.id)
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
                await _start(session, settings, executor, user, bug)
        except AppError as exc:  # no sandbox or a full queue must not block resolving
            assert bug.id is not None
            activity.record(session, bug.id, "reproduction", None, f"not re-run: {exc.detail}")
    return bug


async def _on_finished(session: AsyncSession, job: Job) -> None:
    bug = await session.get(Bug, int((job.on_finish_data or {})["bug_id"]))
    if bug is None:
        return  # deleted
    await lock_for_write(session, bug)  # an edit of the bug meanwhile must not lose the verdict
    if bug.repro_job_id != str(job.id):
        return  # a newer run superseded this one
    session.info[activity.ACTOR_KEY] = job.owner_id
    bug.reproduces = VERDICTS.get(JobStatus(job.status))
    bug.repro_checked_at = job.finished_at
    assert bug.id is not None
    verdict = {True: "reproduces", False: "does not reproduce", None: "inconclusive"}[
        bug.reproduces
    ]
    activity.record(session, bug.id, "reproduction", None, f"job {job.id} {job.status}: {verdict}")
    await session.flush()
    await service.notify_reproduction(session, bug, verdict)


async def _readable_by_who_sees_the_bug(session: AsyncSession, user: User, job: Job) -> bool:
    """A reproduction's output explains the bug's verdict: whoever sees the bug may read it."""
    bug = await session.get(Bug, int((job.on_finish_data or {})["bug_id"]))
    return bug is not None and await service.sees_project(session, user, bug.project_id)


def _bug_not_closed() -> ColumnElement[bool]:
    """A reproduction explains a bug's verdict: retention keeps it until the bug is closed."""
    bug_id = col(Job.on_finish_data)["bug_id"].as_integer()
    return exists().where(col(Bug.id) == bug_id, col(Bug.status) != BugStatus.closed)


REPRODUCTION_HOOK = JobHook(
    HOOK,
    _on_finished,
    also_readable_by=_readable_by_who_sees_the_bug,
    keep_while=_bug_not_closed,
)
"""Records a reproduction's verdict; wired at start-up by `api.wiring.wire_job_hooks`."""

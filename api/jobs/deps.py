"""Request dependencies of the jobs domain: the executor's state and the event-stream slots.

Routers of other domains that start jobs (a bug's reproduction) take them from here, not from
the jobs router."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.applications import Starlette

from api.deps import SessionmakerDep, SettingsDep
from api.jobs.runtime import JobRuntime, executor_state_without_runtime
from api.jobs.service import ExecutorState
from api.jobs.sse import StreamSlots
from api.state import read


def job_runtime(app: Starlette) -> JobRuntime | None:
    """The in-process executor, once the app's lifespan has started it."""
    if getattr(app.state, "jobs", None) is None:
        return None
    return read(app, "jobs", JobRuntime)


async def executor_state(request: Request, settings: SettingsDep) -> ExecutorState:
    runtime = job_runtime(request.app)
    return runtime.state if runtime is not None else executor_state_without_runtime(settings)


async def stream_slots(
    request: Request, settings: SettingsDep, sessionmaker: SessionmakerDep
) -> StreamSlots:
    """This process's event streams (made at the first one): their caps and shared feeds."""
    state = request.app.state
    if getattr(state, "job_stream_slots", None) is None:
        state.job_stream_slots = StreamSlots(
            sessionmaker,
            total=settings.job_sse_max_streams,
            per_user=settings.job_sse_max_streams_per_user,
            per_job=settings.job_sse_max_streams_per_job,
            poll_s=settings.job_poll_interval_s,
        )
    return read(request.app, "job_stream_slots", StreamSlots)


ExecutorDep = Annotated[ExecutorState, Depends(executor_state)]
SlotsDep = Annotated[StreamSlots, Depends(stream_slots)]

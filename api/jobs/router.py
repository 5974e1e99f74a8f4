"""Code-execution jobs: submit, watch (SSE), cancel, download output files; the runtimes."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from api.auth.deps import require
from api.deps import ClosingDep, SessionDep, SessionmakerDep, SettingsDep
from api.errors import error_responses
from api.jobs import repository, runtimes, service
from api.jobs.deps import ExecutorDep, SlotsDep, job_runtime
from api.jobs.exceptions import JobFileNotFound, JobOutputPurged
from api.jobs.schemas import (
    MAX_INPUT_FILES,
    JobCreate,
    JobDetail,
    JobFileRead,
    JobRead,
    JobStorageRead,
    RuntimeRead,
)
from api.jobs.sse import EventStreamResponse, event_stream
from api.jobs.storage import read_output_file
from api.middleware import CheckedJsonRoute, body_limit
from api.models import Job, JobStatus, User
from api.pagination import (
    Page,
    PageParams,
    Pages,
    linked_page,
    page_params,
    set_link_header,
    whole_list,
)

router = APIRouter(route_class=CheckedJsonRoute, prefix="/jobs", tags=["jobs"])
runtimes_router = APIRouter(route_class=CheckedJsonRoute, tags=["runtimes"])

MAX_WAIT_S = 30.0
Runner = Annotated[User, Depends(require("jobs:run"))]
JobId = Annotated[uuid.UUID, Path(description="The job's UUID")]


def _location(job_id: uuid.UUID) -> str:
    return f"/api/v1/jobs/{job_id}"


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run code in the sandbox",
    description=(
        "Queues the job and answers 202 with it. With `?wait=N` (seconds, at most 30) the "
        "answer is 200 with the finished job if it ends in time, else still 202. Limits above "
        "the server's maxima are lowered to them. A retry with the same `Idempotency-Key` and "
        "body returns the same job (`Idempotent-Replayed: true`); the same key with another "
        "body is 409 `idempotency_key_reused`."
    ),
    responses={
        200: {"model": JobRead, "description": "The job finished within `wait` seconds"},
        **error_responses(401, 403, 409, 413, 422, 429, 503),
    },
)
@body_limit(lambda settings: 2 * settings.job_max_request_bytes)  # base64 files inside JSON
async def create_job(
    data: JobCreate,
    user: Runner,
    session: SessionDep,
    settings: SettingsDep,
    executor: ExecutorDep,
    maker: SessionmakerDep,
    closing: ClosingDep,
    request: Request,
    response: Response,
    wait: Annotated[
        float, Query(ge=0, le=MAX_WAIT_S, description="Seconds to wait for the job to end")
    ] = 0,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=200,
            pattern=r"^[\x21-\x7e]+$",
            description="Makes retries safe: the same key and body return the same job",
        ),
    ] = None,
) -> JobRead:
    jobs = job_runtime(request.app)
    await runtimes.require(jobs.backend if jobs is not None else None, data.runtime)
    job, replayed = await service.create_job(
        session, settings, executor, user, data, idempotency_key=idempotency_key
    )
    response.headers["Location"] = _location(job.id)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    read, ended = await service.answer_submission(
        session,
        maker,
        job,
        replayed=replayed,
        wait_s=wait,
        poll_s=settings.job_poll_interval_s,
        closing=closing,
    )
    if ended:
        response.status_code = status.HTTP_200_OK
    return read


@router.get(
    "",
    summary="List my jobs (admins: everyone's)",
    description=(
        "With each job's output. A page ends early, before `limit` jobs, once the output it"
        " holds reaches 4 MB: follow `next_cursor` to the end."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_jobs(
    user: Runner,
    session: SessionDep,
    request: Request,
    response: Response,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
    owner_id: Annotated[int | None, Query(description="Only this user's jobs")] = None,
) -> Page[JobRead]:
    items, next_cursor = await service.list_jobs(
        session, user, params, status=status, owner_id=owner_id
    )
    set_link_header(request, response, next_cursor)
    return Page(items=items, next_cursor=next_cursor)


@router.get(
    "/storage",
    summary="What the jobs store, and the retention that bounds it (admin)",
    responses=error_responses(401, 403),
)
async def storage(
    _: Annotated[User, Depends(require("jobs:see_all"))],
    session: SessionDep,
    settings: SettingsDep,
) -> JobStorageRead:
    return await service.storage(session, settings)


@router.get(
    "/{job_id}",
    summary="Read a job and its result",
    description=(
        "Your own jobs (admins: all), and the reproductions of bugs you can see. With what the"
        " job ran, as submitted (`source` or `input_files`, `stdin`, `args`): lists leave"
        " that out."
    ),
    responses=error_responses(401, 404),
)
async def read_job(job_id: JobId, user: Runner, session: SessionDep) -> JobDetail:
    job = await service.get_visible_job(session, user, job_id)
    return await service.read_job_detail(session, job)


@router.get(
    "/{job_id}/events",
    summary="Follow a job live (Server-Sent Events)",
    description=(
        'Events `status` (`{"status"}`), `stdout` and `stderr` (`{"data": text}`) and a '
        "final `exit` (the job without its output) with increasing integer ids. Send "
        "`Last-Event-ID` to resume after an event. The stream ends after `exit`; for a finished "
        "job it is the stored replay. Streams open at once are limited per user and per job "
        "(429 `too_many_streams` with `Retry-After`); a client that stops reading is dropped."
    ),
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
            "description": "The event stream",
        },
        **error_responses(401, 404, 422, 429),
    },
)
async def stream_events(
    job_id: JobId,
    user: Runner,
    session: SessionDep,
    settings: SettingsDep,
    slots: SlotsDep,
    closing: ClosingDep,
    last_event_id: Annotated[
        int | None, Header(ge=0, description="Resume after this event id")
    ] = None,
) -> StreamingResponse:
    await service.get_visible_job(session, user, job_id)
    assert user.id is not None
    slot = slots.acquire(job_id, user.id)
    stream = event_stream(
        slot,
        last_event_id or 0,
        keepalive_s=settings.job_sse_keepalive_s,
        closing=closing,
    )
    return EventStreamResponse(
        stream,
        slot,
        send_timeout_s=settings.job_sse_send_timeout_s,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post(
    "/{job_id}/cancel",
    summary="Cancel a job",
    description=(
        "A queued job is cancelled at once (200). A running one is killed by its worker and "
        "ends `cancelled` shortly (202; follow the events or read the job). Others who may "
        "read a job (members of the project of a bug it reproduces) cannot cancel it (403)."
    ),
    responses={
        202: {"model": JobRead, "description": "The worker was told to kill the job"},
        **error_responses(401, 403, 404, 409),
    },
)
async def cancel_job(
    job_id: JobId, user: Runner, session: SessionDep, response: Response
) -> JobRead:
    job = await service.cancel_job(session, user, job_id)
    if not JobStatus(job.status).is_final:
        response.status_code = status.HTTP_202_ACCEPTED
    return await service.read_job(session, job)


def _output_kept(job: Job) -> None:
    if job.purged_at is not None:
        raise JobOutputPurged(
            f"The job's output, files and events were removed on {job.purged_at:%Y-%m-%d} "
            + (
                "because its owner's job storage quota was full"
                if job.purge_reason == "quota"
                else "after the retention period"
            ),
            extra={"purged_at": job.purged_at.isoformat(), "purge_reason": job.purge_reason},
        )


@router.get(
    "/{job_id}/files",
    summary="List the files the job wrote",
    responses=error_responses(400, 401, 404, 410),
)
async def list_files(
    job_id: JobId,
    user: Runner,
    session: SessionDep,
    params: Pages,
    request: Request,
    response: Response,
) -> Page[JobFileRead]:
    job = await service.get_visible_job(session, user, job_id)
    _output_kept(job)
    rows, cursor = await repository.page_of_files(session, job.id, params)
    return linked_page(request, response, [JobFileRead.model_validate(f) for f in rows], cursor)


@router.get(
    "/{job_id}/files/{path:path}",
    summary="Download a file the job wrote",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "The file",
        },
        **error_responses(401, 404, 410),
    },
)
async def download_file(job_id: JobId, path: str, user: Runner, session: SessionDep) -> Response:
    job = await service.get_visible_job(session, user, job_id)
    _output_kept(job)
    row = await repository.file_of(session, job.id, path)
    if row is None:
        raise JobFileNotFound(f"The job wrote no file {path!r}")
    name = path.rsplit("/", 1)[-1]
    fallback = name.encode("ascii", "replace").decode().replace('"', "_").replace("\\", "_")
    return Response(
        await read_output_file(session, row),
        media_type="application/octet-stream",
        headers={
            "Content-Disposition": (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
            ),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "ETag": f'"{row.sha256}"',
        },
    )


@runtimes_router.get(
    "/runtimes",
    summary="Runtimes, their default and maximum limits, and whether jobs can run now",
    responses=error_responses(401),
)
async def list_runtimes(
    _: Runner, settings: SettingsDep, executor: ExecutorDep, request: Request
) -> Page[RuntimeRead]:
    jobs = job_runtime(request.app)
    listed = []
    for name in runtimes.NAMES:
        found = await runtimes.probe(jobs.backend if jobs is not None else None, name)
        listed.append(
            RuntimeRead(
                name=name,
                description=runtimes.DESCRIPTIONS[name],
                available=executor.available and found.available,
                backend=executor.backend,
                detail=executor.detail,
                notice=executor.notice,
                default_limits=service.default_limits(settings),
                max_limits=service.max_limits(settings),
                max_input_bytes=settings.job_max_request_bytes,
                max_input_files=MAX_INPUT_FILES,
                reason=found.reason if executor.available else executor.detail,
                packages=found.packages,
            )
        )
    return whole_list(listed)

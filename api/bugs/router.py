"""Bugs, their workflow, comments, activity and watchers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from api.auth.deps import CurrentUser, require
from api.bugs import reproductions, service
from api.bugs.repository import BugFilters
from api.bugs.schemas import (
    ActivityRead,
    BugCreate,
    BugPriority,
    BugRead,
    BugUpdate,
    CommentCreate,
    CommentRead,
    CommentUpdate,
    ReproductionRead,
    TransitionOption,
    TransitionRequest,
)
from api.concurrency import IfMatch, set_etag
from api.db import UtcInput
from api.deps import SessionDep, SettingsDep
from api.errors import BadRequest, error_responses
from api.jobs.deps import ExecutorDep
from api.jobs.schemas import JobRead
from api.jobs.service import read_job
from api.middleware import CheckedJsonRoute
from api.models import BugStatus, Priority, Severity, User
from api.pagination import Page, Pages, page_response, set_link_header, whole_list

router = APIRouter(route_class=CheckedJsonRoute, tags=["bugs"])
comments_router = APIRouter(route_class=CheckedJsonRoute, tags=["comments"])

BugRef = Annotated[str, Path(max_length=30, description="Bug id or key, e.g. 42 or WEB-7")]
ProjectRef = Annotated[str, Path(max_length=20, description="Project id or key")]


class InvalidFilter(BadRequest):
    code = "invalid_filter"
    title = "A filter value is not valid"


def _person(value: str | None, user: User, name: str) -> tuple[int | None, bool]:
    if value is None:
        return None, False
    if value == "me":
        return user.id, False
    if value == "none" and name == "assignee_id":
        return None, True
    if value.isdecimal():
        return int(value), False
    raise InvalidFilter(
        f"{name} must be a user id, 'me'" + (" or 'none'" if name == "assignee_id" else "")
    )


async def bug_filters(
    user: CurrentUser,
    status: Annotated[list[BugStatus] | None, Query(description="Repeat for several")] = None,
    assignee_id: Annotated[str | None, Query(description="User id, 'me' or 'none'")] = None,
    reporter_id: Annotated[str | None, Query(description="User id or 'me'")] = None,
    priority: Annotated[list[BugPriority] | None, Query()] = None,
    severity: Annotated[list[Severity] | None, Query()] = None,
    label: Annotated[list[str] | None, Query(description="Bugs with any of these labels")] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="Full text: title, description, comments")
    ] = None,
    created_after: UtcInput | None = None,
    updated_after: UtcInput | None = None,
) -> BugFilters:
    assignee, unassigned = _person(assignee_id, user, "assignee_id")
    reporter, _ = _person(reporter_id, user, "reporter_id")
    return BugFilters(
        status=status,
        assignee_id=assignee,
        unassigned=unassigned,
        reporter_id=reporter,
        priority=[Priority[p] for p in priority] if priority else None,
        severity=[s.value for s in severity] if severity else None,
        label=[lbl.strip().lower() for lbl in label] if label else None,
        q=q.strip() or None if q else None,
        created_after=created_after,
        updated_after=updated_after,
    )


Filters = Annotated[BugFilters, Depends(bug_filters)]
SORT_DOC = "Sort by created_at, updated_at or priority; '-' for descending (default -updated_at)"


@router.get(
    "/projects/{project_id}/bugs",
    response_model=Page[BugRead],
    summary="List a project's bugs with filters, search and sorting",
    description=SORT_DOC,
    responses=error_responses(400, 401, 404, 422),
)
async def list_project_bugs(
    project_id: ProjectRef,
    user: CurrentUser,
    session: SessionDep,
    filters: Filters,
    params: Pages,
    request: Request,
) -> Response:
    items, cursor = await service.list_bugs(session, user, params, filters, project_id)
    return page_response(request, items, cursor)


@router.post(
    "/projects/{project_id}/bugs",
    status_code=status.HTTP_201_CREATED,
    summary="File a bug",
    responses=error_responses(401, 403, 404, 422),
)
async def create_bug(
    project_id: ProjectRef,
    data: BugCreate,
    user: Annotated[User, Depends(require("bugs:create"))],
    session: SessionDep,
    response: Response,
) -> BugRead:
    bug = await service.create_bug(session, user, project_id, data)
    response.headers["Location"] = f"/api/v1/bugs/{bug.id}"
    set_etag(response, bug.version)
    return await service.read_one(session, user, bug)


@router.get(
    "/bugs",
    response_model=Page[BugRead],
    summary="List bugs across every project I can see",
    description=SORT_DOC,
    responses=error_responses(400, 401, 422),
)
async def list_bugs(
    user: CurrentUser,
    session: SessionDep,
    filters: Filters,
    params: Pages,
    request: Request,
) -> Response:
    items, cursor = await service.list_bugs(session, user, params, filters)
    return page_response(request, items, cursor)


@router.get("/bugs/{bug_id}", summary="Read a bug", responses=error_responses(401, 404))
async def read_bug(
    bug_id: BugRef, user: CurrentUser, session: SessionDep, response: Response
) -> BugRead:
    bug = await service.read_visible_bug(session, user, bug_id)
    set_etag(response, bug.version)
    return bug


@router.patch(
    "/bugs/{bug_id}",
    summary="Edit a bug (reporter, assignee, admin; developers may reassign)",
    responses=error_responses(401, 403, 404, 412, 422),
)
async def update_bug(
    bug_id: BugRef,
    data: BugUpdate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> BugRead:
    bug = await service.update_bug(session, user, bug_id, data, if_match)
    set_etag(response, bug.version)
    return await service.read_one(session, user, bug)


@router.delete(
    "/bugs/{bug_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a bug (admin)",
    responses=error_responses(401, 403, 404, 412),
)
async def delete_bug(
    bug_id: BugRef,
    user: Annotated[User, Depends(require("bugs:delete"))],
    session: SessionDep,
    if_match: IfMatch = None,
) -> None:
    await service.delete_bug(session, user, bug_id, if_match)


@router.get(
    "/bugs/{bug_id}/transitions",
    summary="The status changes I may make now",
    responses=error_responses(401, 404),
)
async def list_transitions(
    bug_id: BugRef, user: CurrentUser, session: SessionDep
) -> Page[TransitionOption]:
    return whole_list(await service.available_transitions(session, user, bug_id))


@router.post(
    "/bugs/{bug_id}/transitions",
    summary="Change a bug's status along the workflow",
    responses=error_responses(401, 404, 409, 412, 422),
)
async def transition_bug(
    bug_id: BugRef,
    data: TransitionRequest,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    executor: ExecutorDep,
    response: Response,
    if_match: IfMatch = None,
) -> BugRead:
    bug = await reproductions.transition(session, settings, executor, user, bug_id, data, if_match)
    set_etag(response, bug.version)
    return await service.read_one(session, user, bug)


@router.post(
    "/bugs/{bug_id}/reproductions",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run the bug's reproduction script in the sandbox (non-zero exit = reproduces)",
    responses=error_responses(401, 404, 409, 429, 503),
)
async def create_reproduction(
    bug_id: BugRef,
    user: Annotated[User, Depends(require("jobs:run"))],
    session: SessionDep,
    settings: SettingsDep,
    executor: ExecutorDep,
    response: Response,
) -> JobRead:
    _bug, job = await reproductions.reproduce(session, settings, executor, user, bug_id)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return await read_job(session, job)


@router.get(
    "/bugs/{bug_id}/reproductions",
    summary="A bug's verdict history: every reproduction run, newest first",
    responses=error_responses(401, 404),
)
async def list_reproductions(
    bug_id: BugRef,
    user: CurrentUser,
    session: SessionDep,
    params: Pages,
    request: Request,
    response: Response,
) -> Page[ReproductionRead]:
    runs, cursor = await service.list_reproductions(session, user, bug_id, params)
    items = [ReproductionRead.model_validate(run) for run in runs]
    set_link_header(request, response, cursor)
    return Page(items=items, next_cursor=cursor)


@router.get(
    "/bugs/{bug_id}/comments", summary="List a bug's comments", responses=error_responses(401, 404)
)
async def list_comments(
    bug_id: BugRef,
    user: CurrentUser,
    session: SessionDep,
    params: Pages,
    request: Request,
    response: Response,
) -> Page[CommentRead]:
    items, cursor = await service.list_comments(session, user, bug_id, params)
    set_link_header(request, response, cursor)
    return Page(items=items, next_cursor=cursor)


@router.post(
    "/bugs/{bug_id}/comments",
    status_code=status.HTTP_201_CREATED,
    summary="Comment on a bug (Markdown)",
    responses=error_responses(401, 403, 404, 422),
)
async def create_comment(
    bug_id: BugRef, data: CommentCreate, user: CurrentUser, session: SessionDep
) -> CommentRead:
    return await service.add_comment(session, user, bug_id, data)


@comments_router.patch(
    "/comments/{comment_id}",
    summary="Edit a comment (author or admin)",
    responses=error_responses(401, 403, 404, 412, 422),
)
async def update_comment(
    comment_id: int,
    data: CommentUpdate,
    user: CurrentUser,
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> CommentRead:
    comment = await service.update_comment(session, user, comment_id, data, if_match)
    set_etag(response, comment.version)
    return comment


@comments_router.delete(
    "/comments/{comment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a comment (author or admin)",
    responses=error_responses(401, 403, 404, 412),
)
async def delete_comment(
    comment_id: int, user: CurrentUser, session: SessionDep, if_match: IfMatch = None
) -> None:
    await service.delete_comment(session, user, comment_id, if_match)


@router.get(
    "/bugs/{bug_id}/activity",
    summary="A bug's history: every change, oldest first",
    responses=error_responses(401, 404),
)
async def list_activity(
    bug_id: BugRef,
    user: CurrentUser,
    session: SessionDep,
    params: Pages,
    request: Request,
    response: Response,
) -> Page[ActivityRead]:
    items, cursor = await service.list_activity(session, user, bug_id, params)
    set_link_header(request, response, cursor)
    return Page(items=items, next_cursor=cursor)


@router.put(
    "/bugs/{bug_id}/watchers/me",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Watch a bug",
    responses=error_responses(401, 404),
)
async def watch_bug(bug_id: BugRef, user: CurrentUser, session: SessionDep) -> None:
    await service.set_watching(session, user, bug_id, True)


@router.delete(
    "/bugs/{bug_id}/watchers/me",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Stop watching a bug",
    responses=error_responses(401, 404),
)
async def unwatch_bug(bug_id: BugRef, user: CurrentUser, session: SessionDep) -> None:
    await service.set_watching(session, user, bug_id, False)

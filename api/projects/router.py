"""Projects and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from api.auth.deps import require
from api.concurrency import IfMatch, set_etag
from api.deps import SessionDep
from api.errors import error_responses
from api.middleware import CheckedJsonRoute
from api.models import User
from api.pagination import Page, PageParams, Pages, linked_page, page_params, set_link_header
from api.projects import service
from api.projects.schemas import ProjectCreate, ProjectMemberRead, ProjectRead, ProjectUpdate

router = APIRouter(route_class=CheckedJsonRoute, prefix="/projects", tags=["projects"])

ProjectRef = Annotated[str, Path(max_length=20, description="Project id or key (e.g. 3 or WEB)")]
Reader = Annotated[User, Depends(require("projects:read"))]


@router.get("", summary="List the projects I can see", responses=error_responses(400, 401, 422))
async def list_projects(
    user: Reader,
    session: SessionDep,
    request: Request,
    response: Response,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[ProjectRead]:
    rows, next_cursor = await service.list_projects(session, user, params)
    set_link_header(request, response, next_cursor)
    return Page(items=[service.read(p, user) for p in rows], next_cursor=next_cursor)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Create a project (admin)",
    responses=error_responses(401, 403, 409, 422),
)
async def create_project(
    data: ProjectCreate,
    user: Annotated[User, Depends(require("projects:create"))],
    session: SessionDep,
    response: Response,
) -> ProjectRead:
    project = await service.create_project(session, data)
    set_etag(response, project.version)
    response.headers["Location"] = f"/api/v1/projects/{project.id}"
    return service.read(project, user)


@router.get("/{project_id}", summary="Read a project", responses=error_responses(401, 404))
async def read_project(
    project_id: ProjectRef, user: Reader, session: SessionDep, response: Response
) -> ProjectRead:
    project = await service.get_visible_project(session, user, project_id)
    set_etag(response, project.version)
    return service.read(project, user)


@router.patch(
    "/{project_id}",
    summary="Rename or describe a project (admin)",
    responses=error_responses(401, 403, 404, 412, 422),
)
async def update_project(
    project_id: ProjectRef,
    data: ProjectUpdate,
    user: Annotated[User, Depends(require("projects:update"))],
    session: SessionDep,
    response: Response,
    if_match: IfMatch = None,
) -> ProjectRead:
    project = await service.update_project(session, user, project_id, data, if_match)
    set_etag(response, project.version)
    return service.read(project, user)


@router.delete(
    "/{project_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a project and everything in it (admin)",
    responses=error_responses(401, 403, 404, 412),
)
async def delete_project(
    project_id: ProjectRef,
    user: Annotated[User, Depends(require("projects:delete"))],
    session: SessionDep,
    if_match: IfMatch = None,
) -> None:
    await service.delete_project(session, user, project_id, if_match)


@router.get(
    "/{project_id}/members",
    summary="List project members by name",
    responses=error_responses(400, 401, 404),
)
async def list_members(
    project_id: ProjectRef,
    user: Reader,
    session: SessionDep,
    params: Pages,
    request: Request,
    response: Response,
) -> Page[ProjectMemberRead]:
    members, cursor = await service.list_members(session, user, project_id, params)
    return linked_page(request, response, members, cursor)


@router.put(
    "/{project_id}/members/{user_id}",
    summary="Add a member (admin); idempotent",
    responses={
        **error_responses(401, 403, 404),
        201: {"model": ProjectMemberRead, "description": "Added"},
    },
)
async def add_member(
    project_id: ProjectRef,
    user_id: int,
    admin: Annotated[User, Depends(require("projects:manage_members"))],
    session: SessionDep,
    response: Response,
) -> ProjectMemberRead:
    member, created = await service.add_member(session, admin, project_id, user_id)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return member


@router.delete(
    "/{project_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member (admin)",
    responses=error_responses(401, 403, 404),
)
async def remove_member(
    project_id: ProjectRef,
    user_id: int,
    admin: Annotated[User, Depends(require("projects:manage_members"))],
    session: SessionDep,
) -> None:
    await service.remove_member(session, admin, project_id, user_id)

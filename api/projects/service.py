"""Project rules: who sees which project, membership, unique keys."""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.attachments.repository import blob_keys_for_bugs, forget_blobs
from api.bugs import repository as bugs_repository
from api.concurrency import flush_new, lock_for_write
from api.models import Bug, Project, ProjectMember, Role, User
from api.pagination import PageParams, paginate, resolve_sort
from api.permissions import has_permission, may
from api.projects import repository
from api.projects.exceptions import MemberNotFound, ProjectKeyTaken, ProjectNotFound
from api.projects.schemas import (
    ProjectCan,
    ProjectCreate,
    ProjectMemberRead,
    ProjectRead,
    ProjectUpdate,
)
from api.users.schemas import UserRead
from api.users.service import get_user

PROJECT_SORTS = {"key": Project.key, "name": Project.name, "created_at": Project.created_at}


def read(project: Project, user: User) -> ProjectRead:
    """The project as ``user`` sees it: with what they may do to it."""
    return ProjectRead.model_validate({**project.model_dump(), "can": _project_can(user.role)})


@functools.cache
def _project_can(role: Role) -> ProjectCan:
    return ProjectCan(
        update=may(role, "projects:update"),
        delete=may(role, "projects:delete"),
        manage_members=may(role, "projects:manage_members"),
        file_bugs=may(role, "bugs:create"),
        manage_webhooks=may(role, "webhooks:manage"),
        manage_budget=may(role, "budgets:manage"),
    )


def _member_read(user: User, joined_at: datetime) -> ProjectMemberRead:
    assignable = user.is_active and may(user.role, "bugs:be_assigned")
    return ProjectMemberRead(
        user=UserRead.model_validate(user), joined_at=joined_at, assignable=assignable
    )


def _sees_all(user: User) -> bool:
    return has_permission(user.role, "projects:see_all")


async def get_visible_project(session: AsyncSession, user: User, ref: str) -> Project:
    """The project by id or key; 404 (never 403) when it is missing or the user is not a member."""
    project = await repository.project_by_ref(session, ref, None if _sees_all(user) else user.id)
    if project is None or project.id is None:
        raise ProjectNotFound()
    return project


async def list_projects(
    session: AsyncSession, user: User, params: PageParams
) -> tuple[list[Project], str | None]:
    key = resolve_sort(params.sort, PROJECT_SORTS, tiebreak=Project.id, default="key")
    stmt = repository.visible_projects(None if _sees_all(user) else user.id)
    return await paginate(session, stmt, key, params)


async def create_project(session: AsyncSession, data: ProjectCreate) -> Project:
    if await repository.key_exists(session, data.key):
        raise ProjectKeyTaken()
    project = Project.model_validate(data)
    if not await flush_new(session, project):  # the same key created at the same moment
        raise ProjectKeyTaken()
    return project


async def update_project(
    session: AsyncSession, user: User, ref: str, data: ProjectUpdate, if_match: str | None
) -> Project:
    project = await get_visible_project(session, user, ref)
    await lock_for_write(session, project, if_match)
    for field, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(project, field, value)
    await session.flush()
    return project


async def delete_project(session: AsyncSession, user: User, ref: str, if_match: str | None) -> None:
    project = await get_visible_project(session, user, ref)
    await lock_for_write(session, project, if_match)
    bugs_of_project = select(col(Bug.id)).where(col(Bug.project_id) == project.id)
    forget_blobs(session, await blob_keys_for_bugs(session, bugs_of_project))
    await session.delete(project)
    await session.flush()


async def list_members(
    session: AsyncSession, user: User, ref: str, params: PageParams
) -> tuple[list[ProjectMemberRead], str | None]:
    project = await get_visible_project(session, user, ref)
    assert project.id is not None
    rows, cursor = await repository.members(session, project.id, params)
    members = [_member_read(u, m.created_at) for u, m in rows]
    return members, cursor


async def add_member(
    session: AsyncSession, admin: User, ref: str, user_id: int
) -> tuple[ProjectMemberRead, bool]:
    """Idempotent PUT: returns the membership and whether it was created now."""
    project = await get_visible_project(session, admin, ref)
    member = await get_user(session, user_id)
    assert project.id is not None and member.id is not None
    key = (project.id, member.id)
    existing = await session.get(ProjectMember, key)
    created = False
    if existing is None:
        added = ProjectMember(project_id=project.id, user_id=member.id)
        created = await flush_new(session, added)  # False: added by a PUT at the same moment
        existing = added if created else await session.get(ProjectMember, key)
        assert existing is not None
    return _member_read(member, existing.created_at), created


async def remove_member(session: AsyncSession, admin: User, ref: str, user_id: int) -> None:
    project = await get_visible_project(session, admin, ref)
    assert project.id is not None
    if not await repository.remove_member(session, project.id, user_id):
        raise MemberNotFound()
    # no longer told about, nor responsible for, bugs they cannot see any more
    await bugs_repository.release_person(session, user_id, project.id)

"""Queries for projects and their members."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.models import Project, ProjectMember, User
from api.pagination import PageParams, paginate_rows, resolve_sort


def visible_projects(user_id: int | None) -> Select[Any]:
    """Every project, or (for a user id) only those the user is a member of."""
    stmt = select(Project)
    if user_id is not None:
        stmt = stmt.where(
            exists().where(
                col(ProjectMember.project_id) == Project.id, col(ProjectMember.user_id) == user_id
            )
        )
    return stmt


@functools.cache
def _project_by_ref_query(by_id: bool, for_member: bool) -> Select[Project]:
    """Built once per shape, values bound at execution: building the expressions anew cost
    ~0.2 ms of a ~4 ms bug-list request."""
    column = col(Project.id) if by_id else col(Project.key)
    stmt = select(Project).where(column == bindparam("ref"))
    if for_member:
        stmt = stmt.where(
            exists().where(
                col(ProjectMember.project_id) == Project.id,
                col(ProjectMember.user_id) == bindparam("member_id"),
            )
        )
    return stmt


async def project_by_ref(
    session: AsyncSession, ref: str, member_id: int | None = None
) -> Project | None:
    """A project by numeric id or by key; with ``member_id``, only if that user is a member
    (one query for what every project-scoped request checks first)."""
    by_id = ref.isdecimal()
    stmt = _project_by_ref_query(by_id, member_id is not None)
    params: dict[str, int | str] = {"ref": int(ref) if by_id else ref.upper()}
    if member_id is not None:
        params["member_id"] = member_id
    project: Project | None = await session.scalar(stmt, params)
    return project


async def key_exists(session: AsyncSession, key: str) -> bool:
    return bool(await session.scalar(select(exists().where(col(Project.key) == key))))


async def is_member(session: AsyncSession, project_id: int, user_id: int) -> bool:
    return await session.get(ProjectMember, (project_id, user_id)) is not None


async def members(
    session: AsyncSession, project_id: int, params: PageParams
) -> tuple[list[tuple[User, ProjectMember]], str | None]:
    """Members by name (the key is on `User`, the row's first entity)."""
    key = resolve_sort(
        params.sort, {"full_name": col(User.full_name)}, tiebreak=col(User.id), default="full_name"
    )
    stmt = (
        select(User, ProjectMember)
        .join(ProjectMember, col(ProjectMember.user_id) == User.id)
        .where(col(ProjectMember.project_id) == project_id)
    )
    rows, cursor = await paginate_rows(session, stmt, key, params)
    return [(u, m) for u, m in rows], cursor


async def remove_member(session: AsyncSession, project_id: int, user_id: int) -> bool:
    result = await session.execute(
        delete(ProjectMember).where(
            col(ProjectMember.project_id) == project_id, col(ProjectMember.user_id) == user_id
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]

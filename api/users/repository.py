"""Queries for user accounts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.models import Role, User
from api.permissions import roles_with


def list_query(*, role: Role | None, is_active: bool | None, q: str | None) -> Select[Any]:
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(col(User.role) == role)
    if is_active is not None:
        stmt = stmt.where(col(User.is_active) == is_active)
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(col(User.email).like(pattern), func.lower(User.full_name).like(pattern))
        )
    return stmt


async def count_active_admins(session: AsyncSession) -> int:
    """Active accounts that may manage users: the last of them cannot lose that right."""
    managers = sorted(roles_with("users:manage"))
    stmt = select(func.count()).where(col(User.role).in_(managers), col(User.is_active).is_(True))
    return await session.scalar(stmt) or 0

"""Queries for in-app notifications and who receives them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.models import Notification, User
from api.pagination import PageParams, creation_order, paginate


async def active_recipients(
    session: AsyncSession, user_ids: Sequence[int]
) -> list[tuple[int, str, bool]]:
    """`(id, email, wants email)` of each of these users who is still active."""
    rows = await session.execute(
        select(col(User.id), col(User.email), col(User.email_notifications)).where(
            col(User.id).in_(user_ids), col(User.is_active).is_(True)
        )
    )
    found = []
    for user_id, email, wants_email in rows:
        assert user_id is not None
        found.append((user_id, email, wants_email))
    return found


async def page_of_notifications(
    session: AsyncSession, user_id: int, params: PageParams, unread_only: bool
) -> tuple[list[Notification], str | None]:
    stmt = select(Notification).where(col(Notification.user_id) == user_id)
    if unread_only:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    key = creation_order(params.sort, Notification.id, default="-created_at")
    return await paginate(session, stmt, key, params)


async def unread_count(session: AsyncSession, user_id: int) -> int:
    stmt = select(func.count()).where(
        col(Notification.user_id) == user_id, col(Notification.read_at).is_(None)
    )
    return await session.scalar(stmt) or 0


async def notification_by_id(session: AsyncSession, notification_id: int) -> Notification | None:
    return await session.get(Notification, notification_id)


async def mark_all_read(session: AsyncSession, user_id: int, at: datetime) -> None:
    await session.execute(
        update(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        .values(read_at=at)
    )

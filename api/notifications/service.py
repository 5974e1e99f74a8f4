"""One way to tell users something: `notify` writes in-app notifications in the caller's
transaction (email and webhooks join through the outbox when they land)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.db import utcnow
from api.errors import NotFound
from api.models import Notification, User
from api.outbox import enqueue
from api.pagination import PageParams, creation_order, paginate


class NotificationNotFound(NotFound):
    code = "notification_not_found"
    title = "No such notification"


async def notify(
    session: AsyncSession,
    recipients: Iterable[int],
    *,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    exclude: int | None = None,
) -> None:
    """Notify each recipient once (never the person who caused the event), in-app and, for
    those who have not turned it off, by email through the outbox."""
    wanted = sorted(set(recipients) - {exclude})
    if not wanted:
        return
    people = await session.execute(
        select(col(User.id), col(User.email), col(User.email_notifications)).where(
            col(User.id).in_(wanted), col(User.is_active).is_(True)
        )
    )
    for user_id, email, wants_email in people:
        assert user_id is not None
        session.add(
            Notification(user_id=user_id, kind=kind, title=title[:300], body=body, link=link)
        )
        if wants_email:
            payload = {"to": email, "subject": title[:300], "body": body, "link": link}
            enqueue(session, "email", payload)


async def list_notifications(
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


async def mark_read(session: AsyncSession, user_id: int, notification_id: int) -> Notification:
    note = await session.get(Notification, notification_id)
    if note is None or note.user_id != user_id:
        raise NotificationNotFound()
    if note.read_at is None:
        note.read_at = utcnow()
        await session.flush()
    return note


async def mark_all_read(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(Notification)
        .where(col(Notification.user_id) == user_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )

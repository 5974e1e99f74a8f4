"""One way to tell users something: `notify` writes in-app notifications in the caller's
transaction (email and webhooks join through the outbox when they land)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession

from api.db import utcnow
from api.errors import NotFound
from api.models import Notification
from api.notifications import repository
from api.outbox import enqueue
from api.pagination import PageParams


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
    for user_id, email, wants_email in await repository.active_recipients(session, wanted):
        session.add(
            Notification(user_id=user_id, kind=kind, title=title[:300], body=body, link=link)
        )
        if wants_email:
            payload = {"to": email, "subject": title[:300], "body": body, "link": link}
            enqueue(session, "email", payload)


async def list_notifications(
    session: AsyncSession, user_id: int, params: PageParams, unread_only: bool
) -> tuple[list[Notification], str | None]:
    return await repository.page_of_notifications(session, user_id, params, unread_only)


async def unread_count(session: AsyncSession, user_id: int) -> int:
    return await repository.unread_count(session, user_id)


async def mark_read(session: AsyncSession, user_id: int, notification_id: int) -> Notification:
    note = await repository.notification_by_id(session, notification_id)
    if note is None or note.user_id != user_id:
        raise NotificationNotFound()
    if note.read_at is None:
        note.read_at = utcnow()
        await session.flush()
    return note


async def mark_all_read(session: AsyncSession, user_id: int) -> None:
    await repository.mark_all_read(session, user_id, utcnow())

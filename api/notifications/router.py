"""In-app notifications of the signed-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from api.auth.deps import CurrentUser
from api.deps import SessionDep
from api.errors import error_responses
from api.middleware import CheckedJsonRoute
from api.notifications import service
from api.notifications.schemas import NotificationRead, UnreadCount
from api.pagination import Page, PageParams, page_params, set_link_header

router = APIRouter(route_class=CheckedJsonRoute, prefix="/notifications", tags=["notifications"])


@router.get("", summary="My notifications, newest first", responses=error_responses(400, 401))
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    request: Request,
    response: Response,
    unread: bool = False,
) -> Page[NotificationRead]:
    assert user.id is not None
    rows, cursor = await service.list_notifications(session, user.id, params, unread)
    set_link_header(request, response, cursor)
    return Page(items=[NotificationRead.model_validate(n) for n in rows], next_cursor=cursor)


@router.get(
    "/unread-count", summary="How many notifications are unread", responses=error_responses(401)
)
async def unread_count(user: CurrentUser, session: SessionDep) -> UnreadCount:
    assert user.id is not None
    return UnreadCount(unread=await service.unread_count(session, user.id))


@router.post(
    "/{notification_id}/read",
    summary="Mark one notification read",
    responses=error_responses(401, 404),
)
async def mark_read(
    notification_id: int, user: CurrentUser, session: SessionDep
) -> NotificationRead:
    assert user.id is not None
    return NotificationRead.model_validate(
        await service.mark_read(session, user.id, notification_id)
    )


@router.post(
    "/read-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Mark all my notifications read",
    responses=error_responses(401),
)
async def mark_all_read(user: CurrentUser, session: SessionDep) -> None:
    assert user.id is not None
    await service.mark_all_read(session, user.id)

"""Outgoing webhooks per project (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status

from api.auth.deps import require
from api.deps import SessionDep, SettingsDep
from api.errors import error_responses
from api.middleware import CheckedJsonRoute
from api.models import User
from api.pagination import Page, Pages, linked_page
from api.webhooks import service
from api.webhooks.schemas import WebhookCreate, WebhookCreated, WebhookRead

router = APIRouter(route_class=CheckedJsonRoute, tags=["webhooks"])

Manager = Annotated[User, Depends(require("webhooks:manage"))]
ProjectRef = Annotated[str, Path(max_length=20, description="Project id or key")]


@router.get(
    "/projects/{project_id}/webhooks",
    summary="List a project's webhooks (admin)",
    responses=error_responses(400, 401, 403, 404),
)
async def list_webhooks(
    project_id: ProjectRef,
    user: Manager,
    session: SessionDep,
    params: Pages,
    request: Request,
    response: Response,
) -> Page[WebhookRead]:
    rows, cursor = await service.list_for_project(session, user, project_id, params)
    return linked_page(request, response, [WebhookRead.model_validate(h) for h in rows], cursor)


@router.post(
    "/projects/{project_id}/webhooks",
    status_code=status.HTTP_201_CREATED,
    summary="Add a webhook; the signing secret is returned once (admin)",
    responses=error_responses(401, 403, 404, 422),
)
async def create_webhook(
    project_id: ProjectRef,
    data: WebhookCreate,
    user: Manager,
    session: SessionDep,
    settings: SettingsDep,
) -> WebhookCreated:
    return await service.create(session, settings, user, project_id, data)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a webhook (admin)",
    responses=error_responses(401, 403, 404),
)
async def delete_webhook(webhook_id: int, user: Manager, session: SessionDep) -> None:
    await service.delete(session, user, webhook_id)

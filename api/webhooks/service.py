"""Managing project webhooks."""

from __future__ import annotations

import secrets

from sqlalchemy.ext.asyncio import AsyncSession

from api.config import Settings
from api.errors import NotFound
from api.models import User, Webhook
from api.pagination import PageParams
from api.projects.service import get_visible_project
from api.security import encrypt_at_rest
from api.webhooks import repository
from api.webhooks.delivery import check_target
from api.webhooks.schemas import WebhookCreate, WebhookCreated, WebhookRead


class WebhookNotFound(NotFound):
    code = "webhook_not_found"
    title = "No such webhook"


async def create(
    session: AsyncSession, settings: Settings, user: User, project_ref: str, data: WebhookCreate
) -> WebhookCreated:
    project = await get_visible_project(session, user, project_ref)
    assert project.id is not None
    await check_target(data.url, settings.webhook_allow_private_targets)
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(
        project_id=project.id,
        url=data.url,
        events=sorted(set(data.events)),
        secret_encrypted=encrypt_at_rest(secret, settings.effective_secret_key),
        created_by=user.id,
    )
    session.add(hook)
    await session.flush()
    return WebhookCreated(**WebhookRead.model_validate(hook).model_dump(), secret=secret)


async def list_for_project(
    session: AsyncSession, user: User, project_ref: str, params: PageParams
) -> tuple[list[Webhook], str | None]:
    project = await get_visible_project(session, user, project_ref)
    assert project.id is not None
    return await repository.page_for_project(session, project.id, params)


async def delete(session: AsyncSession, user: User, webhook_id: int) -> None:
    hook = await repository.webhook_by_id(session, webhook_id)
    if hook is None:
        raise WebhookNotFound()
    await get_visible_project(session, user, str(hook.project_id))
    await session.delete(hook)

"""Queries for project webhooks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.models import Webhook
from api.pagination import PageParams, creation_order, paginate


async def page_for_project(
    session: AsyncSession, project_id: int, params: PageParams
) -> tuple[list[Webhook], str | None]:
    key = creation_order(params.sort, col(Webhook.id))
    return await paginate(
        session, select(Webhook).where(col(Webhook.project_id) == project_id), key, params
    )


async def webhook_by_id(session: AsyncSession, webhook_id: int) -> Webhook | None:
    return await session.get(Webhook, webhook_id)


async def active_webhooks(session: AsyncSession, project_id: int) -> Sequence[Webhook]:
    """The project's webhooks that still deliver (not disabled after repeated failures)."""
    hooks = await session.scalars(
        select(Webhook).where(
            col(Webhook.project_id) == project_id, col(Webhook.is_active).is_(True)
        )
    )
    return hooks.all()

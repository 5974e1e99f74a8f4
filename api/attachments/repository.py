"""Attachment queries other domains need when they delete what attachments hang off."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from api.models import Attachment
from api.outbox import enqueue


async def blob_keys_for_bugs(session: AsyncSession, bug_ids: Select[Any] | list[int]) -> list[str]:
    rows = await session.scalars(
        select(col(Attachment.storage_key)).where(col(Attachment.bug_id).in_(bug_ids))
    )
    return list(rows)


async def blob_keys_for_expense(session: AsyncSession, expense_id: int) -> list[str]:
    rows = await session.scalars(
        select(col(Attachment.storage_key)).where(col(Attachment.expense_id) == expense_id)
    )
    return list(rows)


def forget_blobs(session: AsyncSession, keys: list[str]) -> None:
    """Blobs go only after the rows that point at them are gone (the outbox runs post-commit)."""
    for key in keys:
        enqueue(session, "blob.delete", {"key": key})

"""Outgoing webhooks of a project; the signing secret is stored encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, String
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field


class Webhook(SQLModel, table=True):
    __tablename__ = "webhook"

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE", index=True)
    url: str = Field(sa_type=String(2000))
    events: list[str] = Field(sa_type=JSON)
    secret_encrypted: str = Field(sa_type=String(500))
    is_active: bool = True
    consecutive_failures: int = 0
    created_by: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", nullable=True
    )
    created_at: datetime = created_at_field()

"""In-app notifications, one row per recipient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field, timestamp_field


class Notification(SQLModel, table=True):
    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_user_id_id", "user_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    # bug.assigned, bug.transitioned, comment.created, bug.mentioned, budget.alert, job.finished
    kind: str = Field(sa_type=String(40))
    title: str = Field(sa_type=String(300))
    body: str = Field(default="", sa_type=Text)
    link: str = Field(default="", sa_type=String(500), description="Path in the web app")
    read_at: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()

"""Markdown comments on bugs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field

from api.models.base import Versioned, created_at_field, timestamp_field, updated_at_field


class Comment(Versioned, table=True):
    __tablename__ = "comment"
    __table_args__ = (Index("ix_comment_bug_id_id", "bug_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    bug_id: int = Field(foreign_key="bug.id", ondelete="CASCADE")
    author_id: int = Field(foreign_key="user_account.id", index=True)
    body: str = Field(sa_type=Text)
    edited_at: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

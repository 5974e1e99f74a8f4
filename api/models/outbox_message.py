"""The transactional outbox: side effects (email, webhooks, blob deletion) written in the same
transaction as the change that causes them, and carried out by a background drainer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow
from api.models.base import created_at_field, timestamp_field


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "done_at", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(sa_type=String(40))  # email | webhook | blob.delete
    payload: dict[str, object] = Field(sa_type=JSON)
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text, nullable=True)
    done_at: datetime | None = timestamp_field()  # delivered, or failed for good (failed_at)
    # Set when the target is gone for good (a deleted or disabled webhook): the message stays,
    # visibly undelivered with its reason in last_error, instead of looking delivered.
    failed_at: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()

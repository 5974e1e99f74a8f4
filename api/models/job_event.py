"""A job's numbered event stream (status, stdout, stderr, exit), replayed over SSE."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, String, Text
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field


class JobEvent(SQLModel, table=True):
    __tablename__ = "job_event"
    __table_args__ = (
        CheckConstraint("kind IN ('status', 'stdout', 'stderr', 'exit')", name="kind"),
    )

    job_id: uuid.UUID = Field(foreign_key="job.id", ondelete="CASCADE", primary_key=True)
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    kind: str = Field(sa_type=String(10))
    data: str = Field(sa_type=Text)
    """JSON text, sent as the SSE `data` line as-is"""
    created_at: datetime = created_at_field()

"""Files a job's program wrote in its working directory (regular files only)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, String
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field


class JobFile(SQLModel, table=True):
    __tablename__ = "job_file"

    job_id: uuid.UUID = Field(foreign_key="job.id", ondelete="CASCADE", primary_key=True)
    path: str = Field(sa_type=String(255), primary_key=True)
    size: int
    sha256: str = Field(sa_type=String(64))
    content: bytes | None = Field(default=None, sa_type=LargeBinary)
    """Kept in the database for now; only `api.jobs.storage` reads or writes it."""
    created_at: datetime = created_at_field()

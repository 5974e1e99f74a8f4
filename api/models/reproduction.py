"""One run of a bug's reproduction script and its verdict: the evidence behind a bug's verdict."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Index, String
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field, timestamp_field


class Verdict(StrEnum):
    running = "running"
    reproduces = "reproduces"  # the script exited non-zero
    does_not_reproduce = "does_not_reproduce"
    error = "error"  # the sandbox or a limit failed: says nothing about the bug


_VERDICTS = ", ".join(f"'{v.value}'" for v in Verdict)


class Reproduction(SQLModel, table=True):
    __tablename__ = "reproduction"
    __table_args__ = (
        CheckConstraint(f"verdict IN ({_VERDICTS})", name="verdict"),
        Index("ix_reproduction_bug_id_id", "bug_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bug_id: int = Field(foreign_key="bug.id", ondelete="CASCADE")
    job_id: uuid.UUID | None = Field(
        default=None, foreign_key="job.id", ondelete="SET NULL", nullable=True, unique=True
    )
    verdict: Verdict = Field(default=Verdict.running, sa_type=String(20))
    exit_code: int | None = None
    duration_ms: int | None = None
    cpu_time_ms: int | None = None
    peak_memory_bytes: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    created_at: datetime = created_at_field()
    finished_at: datetime | None = timestamp_field()

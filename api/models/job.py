"""Code-execution jobs: the request, the queue state (lease, attempts) and the result."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field, timestamp_field


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    timed_out = "timed_out"
    memory_exceeded = "memory_exceeded"
    output_exceeded = "output_exceeded"
    cancelled = "cancelled"
    error = "error"

    @property
    def is_final(self) -> bool:
        return self not in (JobStatus.queued, JobStatus.running)


_STATUSES = ", ".join(f"'{s.value}'" for s in JobStatus)


class Job(SQLModel, table=True):
    __tablename__ = "job"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
        UniqueConstraint("owner_id", "idempotency_key", name="uq_job_owner_id_idempotency_key"),
        Index("ix_job_status_queued_at", "status", "queued_at"),
        Index("ix_job_owner_id_created_at", "owner_id", "created_at"),
        Index("ix_job_owner_id_started_at", "owner_id", "started_at"),
        # retention: the ended jobs whose output is still kept, oldest first
        Index(
            "ix_job_kept_finished_at",
            "finished_at",
            postgresql_where=text("purged_at IS NULL"),
            sqlite_where=text("purged_at IS NULL"),
        ),
        Index("ix_job_created_at", "created_at"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    owner_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    status: JobStatus = Field(default=JobStatus.queued, sa_type=String(20))

    # the request, as the sandbox will get it
    runtime: str = Field(default="python", sa_type=String(20))
    entrypoint: str = Field(default="main.py", sa_type=String(255))
    input_files: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    """path -> base64 content"""
    stdin: bytes = Field(default=b"", sa_type=LargeBinary)
    args: list[str] = Field(default_factory=list, sa_type=JSON)
    limits: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)

    # the result
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = Field(default="", sa_type=Text)
    stderr: str = Field(default="", sa_type=Text)
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    files_truncated: bool = False
    duration_ms: int | None = None
    cpu_time_ms: int | None = None
    """CPU time (user + system) of the script and its children, as the sandbox measured it."""
    peak_memory_bytes: int | None = Field(default=None, sa_type=BigInteger, nullable=True)
    """Peak memory of the script and its children, as the sandbox measured it."""
    error: str | None = Field(default=None, sa_type=Text)

    # the queue
    attempts: int = 0
    cancel_requested: bool = False
    worker_id: str | None = Field(default=None, sa_type=String(200))
    lease_expires_at: datetime | None = timestamp_field()
    heartbeat_at: datetime | None = timestamp_field()
    last_seq: int = 0
    """Number of the newest event; whoever holds the row appends after it."""

    # retries of POST /jobs with an Idempotency-Key, and who to tell when the job ends
    idempotency_key: str | None = Field(default=None, sa_type=String(200))
    request_fingerprint: str | None = Field(default=None, sa_type=String(64))
    on_finish: str | None = Field(default=None, sa_type=String(100))
    on_finish_data: dict[str, Any] | None = Field(default=None, sa_type=JSON)

    # retention (api.jobs.retention): what the job keeps, and when and why it was removed
    stored_bytes: int = Field(default=0, sa_type=BigInteger)
    """Input, output text, files and events of the job, in bytes (known once it ended)."""
    purged_at: datetime | None = timestamp_field()
    purge_reason: str | None = Field(default=None, sa_type=String(20))
    """`retention` (older than the retention period) or `quota` (its owner's storage quota)."""

    created_at: datetime = created_at_field()
    queued_at: datetime = created_at_field()
    started_at: datetime | None = timestamp_field()
    finished_at: datetime | None = timestamp_field()

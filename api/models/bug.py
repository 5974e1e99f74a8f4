"""Bugs: per-project numbered, with a workflow status, priority, severity and a repro script."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum

from sqlalchemy import CheckConstraint, Index, SmallInteger, String, Text, UniqueConstraint
from sqlmodel import Field

from api.models.base import Versioned, created_at_field, timestamp_field, updated_at_field


class BugStatus(StrEnum):
    open = "open"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"


class Resolution(StrEnum):
    fixed = "fixed"
    duplicate = "duplicate"
    wont_fix = "wont_fix"
    cannot_reproduce = "cannot_reproduce"
    invalid = "invalid"


class Priority(IntEnum):
    """Stored as a small integer so that sorting by priority is an index scan."""

    lowest = 1
    low = 2
    medium = 3
    high = 4
    highest = 5


class Severity(StrEnum):
    trivial = "trivial"
    minor = "minor"
    normal = "normal"
    major = "major"
    critical = "critical"
    blocker = "blocker"


class Bug(Versioned, table=True):
    __tablename__ = "bug"
    __table_args__ = (
        UniqueConstraint("project_id", "number", name="uq_bug_project_id_number"),
        CheckConstraint("status IN ('open', 'in_progress', 'resolved', 'closed')", name="status"),
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority"),
        # One index per list order within a project, and one per filter column.
        Index("ix_bug_project_id_created_at", "project_id", "created_at", "id"),
        Index("ix_bug_project_id_updated_at", "project_id", "updated_at", "id"),
        Index("ix_bug_project_id_priority", "project_id", "priority", "id"),
        Index("ix_bug_project_id_status", "project_id", "status"),
        Index("ix_bug_created_at", "created_at", "id"),
        Index("ix_bug_updated_at", "updated_at", "id"),
        Index("ix_bug_priority", "priority", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE")
    number: int
    title: str = Field(sa_type=String(300))
    description: str = Field(default="", sa_type=Text)
    status: BugStatus = Field(default=BugStatus.open, sa_type=String(16))
    resolution: Resolution | None = Field(default=None, sa_type=String(20), nullable=True)
    duplicate_of_id: int | None = Field(
        default=None, foreign_key="bug.id", ondelete="SET NULL", nullable=True
    )
    priority: int = Field(default=Priority.medium, sa_type=SmallInteger)
    severity: Severity = Field(default=Severity.normal, sa_type=String(16), index=True)
    reporter_id: int = Field(foreign_key="user_account.id", index=True)
    assignee_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", nullable=True, index=True
    )
    repro_script: str | None = Field(default=None, sa_type=Text, nullable=True)
    reproduces: bool | None = Field(default=None, nullable=True)
    verdict: str | None = Field(default=None, sa_type=String(20), nullable=True)
    """The latest run's `Verdict` (`running` while it goes); None before the first run."""
    repro_job_id: str | None = Field(default=None, sa_type=String(36), nullable=True)
    repro_checked_at: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

"""Labels of a bug, one row each, so label filters use an index on every database."""

from __future__ import annotations

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel


class BugLabel(SQLModel, table=True):
    __tablename__ = "bug_label"
    __table_args__ = (Index("ix_bug_label_label_bug_id", "label", "bug_id"),)

    bug_id: int = Field(foreign_key="bug.id", ondelete="CASCADE", primary_key=True)
    label: str = Field(sa_type=String(50), primary_key=True)

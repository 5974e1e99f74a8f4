"""Projects group bugs, budgets and members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlmodel import Field

from api.models.base import Versioned, created_at_field, updated_at_field


class Project(Versioned, table=True):
    __tablename__ = "project"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(sa_type=String(10), unique=True, index=True)
    name: str = Field(sa_type=String(200))
    description: str = Field(default="", sa_type=Text)
    # Last bug number handed out; bumped atomically so keys (WEB-42) never repeat.
    bug_counter: int = Field(default=0)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

"""Project membership: non-admins see only the projects they belong to."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from api.models.base import created_at_field


class ProjectMember(SQLModel, table=True):
    __tablename__ = "project_member"

    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE", primary_key=True)
    user_id: int = Field(
        foreign_key="user_account.id", ondelete="CASCADE", primary_key=True, index=True
    )
    created_at: datetime = created_at_field()

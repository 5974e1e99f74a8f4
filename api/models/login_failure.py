"""Failed logins and accepted self-registrations, kept in the database so the limits on them
hold across API replicas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field


class LoginFailure(SQLModel, table=True):
    __tablename__ = "login_failure"
    __table_args__ = (Index("ix_login_failure_subject_created_at", "subject", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    # "account:<email>", "client:<address>", "pair:<address> <email>" (failed logins) or
    # "registration:<address>" (accounts created); a hash past the column's length
    subject: str = Field(sa_type=String(400))
    created_at: datetime = created_at_field()

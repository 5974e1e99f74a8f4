"""User accounts and their global role."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, String, text
from sqlmodel import Field

from api.models.base import Versioned, created_at_field, updated_at_field


class Role(StrEnum):
    admin = "admin"
    developer = "developer"
    tester = "tester"


class User(Versioned, table=True):
    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint("role IN ('admin', 'developer', 'tester')", name="role"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(sa_type=String(320), unique=True, index=True)
    full_name: str = Field(sa_type=String(200))
    password_hash: str = Field(sa_type=String(255))
    role: Role = Field(sa_type=String(16), default=Role.tester)
    is_active: bool = True
    email_notifications: bool = True
    # Moves on when the password changes or the account is deactivated: every access token,
    # refresh token and personal access token carries the epoch it was minted in, and one from
    # an earlier epoch is refused (checked on the user row each request loads anyway).
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

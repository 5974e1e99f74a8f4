"""Refresh tokens: rotated on every use; a family shares one login so reuse can revoke it all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, text
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime
from api.models.base import created_at_field, timestamp_field


class RefreshToken(SQLModel, table=True):
    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    family_id: str = Field(sa_type=String(32), index=True)
    token_hash: str = Field(sa_type=String(64), unique=True)
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    expires_at: datetime = Field(sa_type=UTCDateTime)
    spent_at: datetime | None = timestamp_field()
    revoked_at: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()

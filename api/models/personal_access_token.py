"""Personal access tokens (`nmb_...`): only a hash is stored; the token is shown once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, text
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field, timestamp_field


class PersonalAccessToken(SQLModel, table=True):
    __tablename__ = "personal_access_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    name: str = Field(sa_type=String(100))
    token_hash: str = Field(sa_type=String(64), unique=True)
    token_prefix: str = Field(sa_type=String(16))
    # The owner's session epoch when minted; kept across a password change only when asked
    session_epoch: int = Field(default=0, sa_column_kwargs={"server_default": text("0")})
    expires_at: datetime | None = timestamp_field()
    last_used_at: datetime | None = timestamp_field()
    revoked_at: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()

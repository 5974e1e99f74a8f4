"""Files attached to bugs (and receipts on expenses); the bytes live in blob storage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, String
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field


class Attachment(SQLModel, table=True):
    __tablename__ = "attachment"
    __table_args__ = (
        # every file hangs off exactly one bug or one expense (a receipt)
        CheckConstraint("(bug_id IS NULL) <> (expense_id IS NULL)", name="one_owner"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bug_id: int | None = Field(
        default=None, foreign_key="bug.id", ondelete="CASCADE", nullable=True, index=True
    )
    expense_id: int | None = Field(
        default=None, foreign_key="expense.id", ondelete="CASCADE", nullable=True, index=True
    )
    uploader_id: int = Field(foreign_key="user_account.id", index=True)
    filename: str = Field(sa_type=String(200), description="Display name only, never a path")
    content_type: str = Field(sa_type=String(200))
    size: int = Field(sa_type=BigInteger)
    sha256: str = Field(sa_type=String(64))
    storage_key: str = Field(sa_type=String(200), unique=True)
    created_at: datetime = created_at_field()

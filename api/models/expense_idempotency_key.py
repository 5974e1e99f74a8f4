"""Responses to POST /expenses and /expenses/import kept for replay under an Idempotency-Key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field


class ExpenseIdempotencyKey(SQLModel, table=True):
    __tablename__ = "expense_idempotency_key"

    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", primary_key=True)
    key: str = Field(sa_type=String(200), primary_key=True)
    operation: str = Field(sa_type=String(40))
    request_fingerprint: str = Field(sa_type=String(64))
    status_code: int
    response: str = Field(sa_type=Text)
    created_at: datetime = created_at_field()

"""The audit trail of an expense: one row per created, edited field, deleted or restored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field


class ExpenseActivity(SQLModel, table=True):
    __tablename__ = "expense_activity"
    __table_args__ = (Index("ix_expense_activity_expense_id_id", "expense_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    expense_id: int = Field(foreign_key="expense.id", ondelete="CASCADE")
    actor_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", nullable=True
    )
    field: str = Field(sa_type=String(40))
    old: str | None = Field(default=None, sa_type=Text, nullable=True)
    new: str | None = Field(default=None, sa_type=Text, nullable=True)
    at: datetime = created_at_field()

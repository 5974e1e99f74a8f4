"""Expenses: exact amounts in one currency, a plain calendar date, soft-deletable."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, String, Text, UniqueConstraint
from sqlmodel import Field

from api.models.base import Versioned, created_at_field, timestamp_field, updated_at_field
from api.money import Money


class Expense(Versioned, table=True):
    __tablename__ = "expense"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # Re-importing a CSV row that was imported before is recognised by this fingerprint.
        UniqueConstraint(
            "user_id", "import_fingerprint", name="uq_expense_user_id_import_fingerprint"
        ),
        Index("ix_expense_user_id_spent_on", "user_id", "spent_on", "id"),
        Index("ix_expense_spent_on", "spent_on", "id"),
        Index("ix_expense_project_id_spent_on", "project_id", "spent_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE")
    # An expense outlives its project: the link is dropped, the money record stays.
    project_id: int | None = Field(
        default=None, foreign_key="project.id", ondelete="SET NULL", nullable=True
    )
    category_id: int = Field(foreign_key="expense_category.id", ondelete="RESTRICT", index=True)
    amount: Decimal = Field(sa_type=Money)
    currency: str = Field(sa_type=String(3))
    description: str = Field(default="", sa_type=Text)
    spent_on: date
    import_fingerprint: str | None = Field(default=None, sa_type=String(64), nullable=True)
    deleted_at: datetime | None = timestamp_field()
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

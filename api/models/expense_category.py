"""Expense categories: admin-managed, at most two levels (a parent and its children)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlmodel import Field

from api.models.base import Versioned, created_at_field, updated_at_field


class ExpenseCategory(Versioned, table=True):
    __tablename__ = "expense_category"
    # Unique among siblings; top-level names (parent NULL) are kept unique by the service.
    __table_args__ = (
        UniqueConstraint("parent_id", "name", name="uq_expense_category_parent_id_name"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100))
    # NO ACTION: a parent with children cannot disappear underneath them, yet one statement
    # may delete a whole tree (a restore replacing the defaults, a downgrade).
    parent_id: int | None = Field(default=None, foreign_key="expense_category.id", nullable=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

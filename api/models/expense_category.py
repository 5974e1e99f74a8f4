"""Expense categories: admin-managed, at most two levels (a parent and its children)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlmodel import Field

from api.models.base import Versioned, created_at_field, updated_at_field


class ExpenseCategory(Versioned, table=True):
    __tablename__ = "expense_category"
    # Unique among siblings whatever the case, top level (parent NULL) included.
    __table_args__ = (
        UniqueConstraint("parent_id", "name", name="uq_expense_category_parent_id_name"),
        Index(
            "uq_expense_category_level_name",
            text("coalesce(parent_id, 0)"),
            text("lower(name)"),
            unique=True,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_type=String(100))
    # NO ACTION: a parent with children cannot disappear underneath them, yet one statement
    # may delete a whole tree (a restore replacing the defaults, a downgrade).
    parent_id: int | None = Field(default=None, foreign_key="expense_category.id", nullable=True)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

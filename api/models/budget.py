"""A project's budget: an amount in one currency, for the whole project or per calendar month."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, SmallInteger, String
from sqlmodel import Field

from api.models.base import Versioned, created_at_field, updated_at_field
from api.money import Money


class BudgetPeriod(StrEnum):
    total = "total"
    monthly = "monthly"


class Budget(Versioned, table=True):
    __tablename__ = "budget"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("period IN ('total', 'monthly')", name="period"),
        CheckConstraint("alert_at_percent BETWEEN 1 AND 1000", name="alert_at_percent"),
    )

    id: int | None = Field(default=None, primary_key=True)
    project_id: int = Field(foreign_key="project.id", ondelete="CASCADE", unique=True)
    amount: Decimal = Field(sa_type=Money)
    currency: str = Field(sa_type=String(3))
    period: BudgetPeriod = Field(sa_type=String(16))
    alert_at_percent: int = Field(default=80, sa_type=SmallInteger)
    # Who set it last: they hear about alerts even when they are not a project member.
    set_by_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="SET NULL", nullable=True
    )
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()

"""Budget alerts already sent: at most one per budget and period ("total" or "YYYY-MM")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlmodel import Field, SQLModel

from api.models.base import created_at_field


class BudgetAlert(SQLModel, table=True):
    __tablename__ = "budget_alert"

    budget_id: int = Field(foreign_key="budget.id", ondelete="CASCADE", primary_key=True)
    period: str = Field(sa_type=String(7), primary_key=True)
    created_at: datetime = created_at_field()

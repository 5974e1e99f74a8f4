"""Column helpers shared by every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import declared_attr
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow


def created_at_field() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


def updated_at_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=UTCDateTime,
        nullable=False,
        sa_column_kwargs={"onupdate": utcnow},
    )


def timestamp_field(*, index: bool = False) -> Any:
    return Field(default=None, sa_type=UTCDateTime, nullable=True, index=index)


__all__ = ["Versioned", "created_at_field", "datetime", "timestamp_field", "updated_at_field"]


class Versioned(SQLModel):
    """Optimistic concurrency: SQLAlchemy bumps `version` on every UPDATE and refuses to write
    over a row whose version changed since it was read (StaleDataError -> 412)."""

    version: int = Field(default=1, nullable=False)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]

"""Category names are unique per level in the database, whatever their case

The service refused a name taken among its siblings (case-insensitively), but the database only
had UNIQUE (parent_id, name): case-sensitive, and never violated for top-level categories,
whose parent_id is NULL. Two admins adding "Travel" at the same moment both got one. Now one
index on (coalesce(parent_id, 0), lower(name)) holds on PostgreSQL and SQLite alike. Names that
already collide are kept, each later one renamed "<name> (2)", "<name> (3)", ... (cut to fit, its
version moved on so that stale ETags fail): no category and no expense filed under it is lost.
The downgrade drops the index and keeps the new names.

Revision ID: c4d8e2f1a9b3
Revises: a7e3c9d41f20
Create Date: 2026-12-05 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "c4d8e2f1a9b3"
down_revision: str | Sequence[str] | None = "a7e3c9d41f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_expense_category_level_name"


NAME_LENGTH = 100


def _rename_collisions() -> None:
    """Each later name of a level that ``lower()`` makes equal is renamed: the database's own
    ``lower()``, which the index uses (SQLite's folds ASCII letters only, Python's every one)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, coalesce(parent_id, 0), name, lower(name) FROM expense_category ORDER BY id"
        )
    ).all()
    taken = {(level, lowered) for _, level, _, lowered in rows}
    seen: set[tuple[int, str]] = set()
    for category_id, level, name, lowered in rows:
        if (level, lowered) not in seen:
            seen.add((level, lowered))
            continue
        bind.execute(
            sa.text(
                "UPDATE expense_category SET name = :name, version = version + 1 WHERE id = :id"
            ),
            {"name": _free_name(bind, level, name, taken), "id": category_id},
        )


def _free_name(bind: sa.Connection, level: int, name: str, taken: set[tuple[int, str]]) -> str:
    """``name (n)`` for the smallest n >= 2 free at ``level``, cut to fit the column."""
    n = 2
    while True:
        suffix = f" ({n})"
        candidate = name[: NAME_LENGTH - len(suffix)] + suffix
        lowered = bind.scalar(sa.text("SELECT lower(:name)"), {"name": candidate})
        if (level, lowered) not in taken:
            taken.add((level, lowered))
            return candidate
        n += 1


def upgrade() -> None:
    _rename_collisions()
    op.create_index(
        INDEX,
        "expense_category",
        [sa.text("coalesce(parent_id, 0)"), sa.text("lower(name)")],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="expense_category")

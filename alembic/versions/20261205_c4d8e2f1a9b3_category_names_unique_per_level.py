"""Category names are unique per level in the database, whatever their case

The service refused a name taken among its siblings (case-insensitively), but the database only
had UNIQUE (parent_id, name): case-sensitive, and never violated for top-level categories,
whose parent_id is NULL. Two admins adding "Travel" at the same moment both got one. Now one
index on (coalesce(parent_id, 0), lower(name)) holds on PostgreSQL and SQLite alike. Names that
already collide are kept, each later one renamed "<name> (2)", "<name> (3)", ...: no category and
no expense filed under it is lost.

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


def _rename_collisions() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT id, parent_id, name FROM expense_category ORDER BY id")
    ).all()
    taken = {(parent or 0, name.lower()) for _, parent, name in rows}
    seen: set[tuple[int, str]] = set()
    for category_id, parent, name in rows:
        key = (parent or 0, name.lower())
        if key not in seen:
            seen.add(key)
            continue
        n = 2
        while (parent or 0, f"{name} ({n})".lower()) in taken:
            n += 1
        renamed = f"{name} ({n})"
        taken.add((parent or 0, renamed.lower()))
        bind.execute(
            sa.text("UPDATE expense_category SET name = :name WHERE id = :id"),
            {"name": renamed, "id": category_id},
        )


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

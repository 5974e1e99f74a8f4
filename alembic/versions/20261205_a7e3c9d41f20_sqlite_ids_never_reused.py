"""SQLite never reuses ids

Without AUTOINCREMENT SQLite gives a new row max(id) + 1, so deleting the newest bug and filing
another handed the old id, and every link, bookmark and notification naming it, to a different
bug. Each table with a surrogate id is rebuilt with AUTOINCREMENT (SQLite cannot add it in
place); the rows, constraints and indexes are copied unchanged. PostgreSQL sequences never go
back, so nothing changes there.

Revision ID: a7e3c9d41f20
Revises: 5d2f0c8a7b41
Create Date: 2026-12-05 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a7e3c9d41f20"
down_revision: str | Sequence[str] | None = "5d2f0c8a7b41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "user_account",
    "personal_access_token",
    "refresh_token",
    "login_failure",
    "project",
    "bug",
    "bug_activity",
    "comment",
    "attachment",
    "notification",
    "outbox_message",
    "webhook",
    "expense_category",
    "budget",
    "expense",
    "expense_activity",
)


def _rebuild(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    # A rebuild drops the old table; with foreign keys on, SQLite would first cascade that drop
    # into every child table. alembic/env.py turns them off (outside the transaction).
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError("SQLite foreign keys must be off while tables are rebuilt")
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)

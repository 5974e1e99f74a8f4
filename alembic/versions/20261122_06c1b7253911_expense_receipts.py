"""expense receipts: attachments hang off a bug or an expense

Downgrading drops the receipts' rows (their blobs stay in storage).

Revision ID: 06c1b7253911
Revises: 15bfbc1ac374
Create Date: 2026-11-22 03:23:29.010639
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "06c1b7253911"
down_revision: str | Sequence[str] | None = "15bfbc1ac374"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expense_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_attachment_expense_id"), ["expense_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_attachment_expense_id_expense"),
            "expense",
            ["expense_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_check_constraint("one_owner", "(bug_id IS NULL) <> (expense_id IS NULL)")


def downgrade() -> None:
    op.execute("DELETE FROM attachment WHERE expense_id IS NOT NULL")
    with op.batch_alter_table("attachment", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_attachment_one_owner"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_attachment_expense_id_expense"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_attachment_expense_id"))
        batch_op.drop_column("expense_id")

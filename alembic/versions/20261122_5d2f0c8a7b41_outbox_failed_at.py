"""outbox failed_at

Revision ID: 5d2f0c8a7b41
Revises: 06c1b7253911
Create Date: 2026-11-22 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

import api.db
from alembic import op

revision: str = "5d2f0c8a7b41"
down_revision: str | Sequence[str] | None = "06c1b7253911"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("failed_at", api.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_column("failed_at")

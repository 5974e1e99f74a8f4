"""Job resource figures: CPU time and peak memory of each run

The sandbox measured them (cgroup or the in-sandbox launcher's getrusage) but only the wall
time was kept (issue 24). Jobs that ended before this have none (NULL).

Revision ID: b5e2d9c71a04
Revises: e4a7c19b3f52
Create Date: 2026-12-08 01:15:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "b5e2d9c71a04"
down_revision: str | Sequence[str] | None = "e4a7c19b3f52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.add_column(sa.Column("cpu_time_ms", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("job") as batch_op:
        batch_op.drop_column("peak_memory_bytes")
        batch_op.drop_column("cpu_time_ms")

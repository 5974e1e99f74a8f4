"""An index on (owner_id, started_at) for the fair job claim

The queue is claimed round robin by owner (issue 18, finding 14): among owners holding as many
slots, the one served least recently goes first. That is each queued job's owner's latest
start, max(started_at); with this index it is one step down the index per owner instead of a
read of every job the owner ever ran.

Revision ID: b3f1e7a2c905
Revises: c4d8e2f1a9b3
Create Date: 2026-12-07 15:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b3f1e7a2c905"
down_revision: str | Sequence[str] | None = "c4d8e2f1a9b3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_job_owner_id_started_at", "job", ["owner_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_job_owner_id_started_at", table_name="job")

"""Reproduction verdicts: one row per run, and the bug's current verdict

A bug kept only its latest yes/no (issue 19): the runs behind it, their exit codes and times,
and whether a run was still going were lost. Each run is now a reproduction row; bug.verdict is
the latest one (`running` while it goes). Existing bugs get theirs from bug.reproduces.

Revision ID: e4a7c19b3f52
Revises: d81c4a6e2b70
Create Date: 2026-12-08 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from api.db import UTCDateTime

revision: str = "e4a7c19b3f52"
down_revision: str | Sequence[str] | None = "d81c4a6e2b70"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reproduction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bug_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("cpu_time_ms", sa.Integer(), nullable=True),
        sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "verdict IN ('running', 'reproduces', 'does_not_reproduce', 'error')",
            name=op.f("ck_reproduction_verdict"),
        ),
        sa.ForeignKeyConstraint(
            ["bug_id"], ["bug.id"], name=op.f("fk_reproduction_bug_id_bug"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_reproduction_job_id_job"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reproduction")),
        sa.UniqueConstraint("job_id", name=op.f("uq_reproduction_job_id")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_reproduction_bug_id_id", "reproduction", ["bug_id", "id"])
    with op.batch_alter_table("bug") as batch:
        batch.add_column(sa.Column("verdict", sa.String(length=20), nullable=True))
    op.execute(
        "UPDATE bug SET verdict = CASE WHEN reproduces THEN 'reproduces'"
        " ELSE 'does_not_reproduce' END WHERE reproduces IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("bug") as batch:
        batch.drop_column("verdict")
    op.drop_index("ix_reproduction_bug_id_id", table_name="reproduction")
    op.drop_table("reproduction")

"""Job retention: what each job stores, and a marker for jobs whose output was removed

Nothing was ever cleaned up (issue 18, finding 19). The maintenance loop now removes the input,
output, files and events of jobs older than the retention period, and of a user's oldest jobs
beyond their storage quota; the job row stays, marked with purged_at and purge_reason.
stored_bytes is what a job keeps (counted when it ends); existing jobs get theirs here. A
partial index on finished_at of the jobs still kept finds the expired ones without reading
those purged long ago.

Revision ID: d81c4a6e2b70
Revises: b5e1f0c2d7a9
Create Date: 2026-12-07 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "d81c4a6e2b70"
down_revision: str | Sequence[str] | None = "b5e1f0c2d7a9"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("job") as batch:
        batch.add_column(
            sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("purge_reason", sa.String(length=20), nullable=True))
    with op.batch_alter_table("job") as batch:
        batch.alter_column("stored_bytes", server_default=None)
    op.create_index(
        "ix_job_kept_finished_at",
        "job",
        ["finished_at"],
        postgresql_where=sa.text("purged_at IS NULL"),
        sqlite_where=sa.text("purged_at IS NULL"),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"

    def size(column: str) -> str:
        if sqlite:
            return f"coalesce(length(CAST({column} AS BLOB)), 0)"
        return f"coalesce(octet_length({column}), 0)"

    inputs = size("input_files") if sqlite else size("input_files::text")
    op.execute(
        f"UPDATE job SET stored_bytes = {inputs} + {size('stdin')}"  # noqa: S608 - no input
        f" + {size('stdout')} + {size('stderr')}"
        " + (SELECT coalesce(sum(size), 0) FROM job_file WHERE job_file.job_id = job.id)"
        f" + (SELECT coalesce(sum({size('data')}), 0) FROM job_event"
        " WHERE job_event.job_id = job.id)"
    )


def downgrade() -> None:
    op.drop_index("ix_job_kept_finished_at", table_name="job")
    with op.batch_alter_table("job") as batch:
        batch.drop_column("purge_reason")
        batch.drop_column("purged_at")
        batch.drop_column("stored_bytes")

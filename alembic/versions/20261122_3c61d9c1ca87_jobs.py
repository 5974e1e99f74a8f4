"""jobs: the queue, numbered job events and output files

Revision ID: 3c61d9c1ca87
Revises: 104d7d688ab0
Create Date: 2026-11-22 00:37:57.647690
"""

from collections.abc import Sequence

import sqlalchemy as sa

import api.db
from alembic import op

revision: str = "3c61d9c1ca87"
down_revision: str | Sequence[str] | None = "104d7d688ab0"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "job",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("runtime", sa.String(length=20), nullable=False),
        sa.Column("entrypoint", sa.String(length=255), nullable=False),
        sa.Column("input_files", sa.JSON(), nullable=False),
        sa.Column("stdin", sa.LargeBinary(), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("exit_code", sa.Integer(), nullable=True),
        sa.Column("signal", sa.Integer(), nullable=True),
        sa.Column("stdout", sa.Text(), nullable=False),
        sa.Column("stderr", sa.Text(), nullable=False),
        sa.Column("stdout_truncated", sa.Boolean(), nullable=False),
        sa.Column("stderr_truncated", sa.Boolean(), nullable=False),
        sa.Column("files_truncated", sa.Boolean(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("worker_id", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("heartbeat_at", api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("on_finish", sa.String(length=100), nullable=True),
        sa.Column("on_finish_data", sa.JSON(), nullable=True),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("queued_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", api.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", api.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'memory_exceeded', 'output_exceeded', 'cancelled', 'error')",
            name=op.f("ck_job_status"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["user_account.id"],
            name=op.f("fk_job_owner_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        sa.UniqueConstraint("owner_id", "idempotency_key", name="uq_job_owner_id_idempotency_key"),
    )
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.create_index("ix_job_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_job_owner_id_created_at", ["owner_id", "created_at"], unique=False
        )
        batch_op.create_index("ix_job_status_queued_at", ["status", "queued_at"], unique=False)

    op.create_table(
        "job_event",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('status', 'stdout', 'stderr', 'exit')", name=op.f("ck_job_event_kind")
        ),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_event_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "seq", name=op.f("pk_job_event")),
    )
    op.create_table(
        "job_file",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("path", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", api.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["job.id"], name=op.f("fk_job_file_job_id_job"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "path", name=op.f("pk_job_file")),
    )


def downgrade() -> None:
    op.drop_table("job_file")
    op.drop_table("job_event")
    with op.batch_alter_table("job", schema=None) as batch_op:
        batch_op.drop_index("ix_job_status_queued_at")
        batch_op.drop_index("ix_job_owner_id_created_at")
        batch_op.drop_index("ix_job_created_at")

    op.drop_table("job")

"""Session epochs: a password change or deactivation ends every token minted before it

user_account.session_epoch moves on when the password changes or the account is deactivated;
refresh tokens, personal access tokens and (in a claim) access tokens carry the epoch they were
minted in, and one from an earlier epoch is refused. Existing rows start at 0, like the tokens
already handed out (an access token without the claim counts as epoch 0), so nobody is signed
out by the upgrade.

Revision ID: b5e1f0c2d7a9
Revises: b3f1e7a2c905
Create Date: 2026-12-07 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "b5e1f0c2d7a9"
down_revision: str | Sequence[str] | None = "b3f1e7a2c905"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("user_account", "refresh_token", "personal_access_token")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
            )


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("session_epoch")

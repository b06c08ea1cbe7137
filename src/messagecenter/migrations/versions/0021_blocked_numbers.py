"""blocked numbers: a conversation staff blocked

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from messagecenter.models.base import UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocked_at", UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("muted_by_block", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("muted_by_block")
        batch_op.drop_column("blocked_at")

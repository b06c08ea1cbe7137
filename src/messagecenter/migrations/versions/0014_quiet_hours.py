"""quiet hours: the message's hold, the client's time zone, the business's state windows

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from messagecenter.models.base import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("quiet_hours", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch_op.add_column(sa.Column("quiet_until", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("quiet_zone", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("quiet_open_until", UTCDateTime(), nullable=True))
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("timezone", sa.String(length=64), nullable=True))
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("strict_state_hours", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.drop_column("strict_state_hours")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_column("timezone")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("quiet_open_until")
        batch_op.drop_column("quiet_zone")
        batch_op.drop_column("quiet_until")
        batch_op.drop_column("quiet_hours")

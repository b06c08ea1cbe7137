"""per-message dispatch attempts

A message is marked "sending" just before its carrier call (claimed_at then says when), so a
claim that never reached the carrier can go back to the queue, and only a message handed over
is settled by asking the carrier.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_sending",
            ["claimed_at"],
            unique=False,
            sqlite_where=sa.text("dispatch_state = 'sending'"),
            postgresql_where=sa.text("dispatch_state = 'sending'"),
        )
    # Before this revision a claim meant "the carrier may have been called": every claim left
    # by the old dispatcher is ambiguous, so it is settled by lookup, never released.
    op.execute("UPDATE messages SET dispatch_state = 'sending' WHERE dispatch_state = 'claimed'")


def downgrade() -> None:
    op.execute("UPDATE messages SET dispatch_state = 'claimed' WHERE dispatch_state = 'sending'")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_messages_sending",
            sqlite_where=sa.text("dispatch_state = 'sending'"),
            postgresql_where=sa.text("dispatch_state = 'sending'"),
        )

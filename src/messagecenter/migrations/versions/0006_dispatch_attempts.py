"""per-message dispatch attempts

A claimed message is "held" until its carrier call and marked "sending" (committed) just
before it, so a hold that never reached the carrier can go back to the queue, and only a
message handed over is settled by asking the carrier. "claimed" keeps its old meaning (the
carrier may have been called): dispatchers from before this revision, still running during a
rolling upgrade, go on writing it, so it is settled by lookup like "sending", never released.
A carrier sid matched by lookup is marked as such: it may be an identical twin's, and the
carrier's answer to our create or a callback naming our id takes it over.

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

UNSETTLED = "dispatch_state IN ('sending', 'claimed')"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "carrier_sid_from_lookup", sa.Boolean(), server_default=sa.false(), nullable=False
            )
        )
        batch_op.drop_index(
            "ix_messages_claimed",
            sqlite_where=sa.text("dispatch_state = 'claimed'"),
            postgresql_where=sa.text("dispatch_state = 'claimed'"),
        )
        batch_op.create_index(
            "ix_messages_held",
            ["claimed_at"],
            unique=False,
            sqlite_where=sa.text("dispatch_state = 'held'"),
            postgresql_where=sa.text("dispatch_state = 'held'"),
        )
        batch_op.create_index(
            "ix_messages_unsettled",
            ["next_attempt_at"],
            unique=False,
            sqlite_where=sa.text(UNSETTLED),
            postgresql_where=sa.text(UNSETTLED),
        )
    # Every claim the old dispatcher left is ambiguous: settled by lookup (first at once: its
    # next_attempt_at is when it was due), never released.
    op.execute("UPDATE messages SET dispatch_state = 'sending' WHERE dispatch_state = 'claimed'")


def downgrade() -> None:
    # The old dispatcher settles "claimed" by lookup and never sees "held": give holds back.
    op.execute(
        "UPDATE messages SET dispatch_state = 'pending', claimed_at = NULL "
        "WHERE dispatch_state = 'held'"
    )
    op.execute("UPDATE messages SET dispatch_state = 'claimed' WHERE dispatch_state = 'sending'")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_messages_unsettled",
            sqlite_where=sa.text(UNSETTLED),
            postgresql_where=sa.text(UNSETTLED),
        )
        batch_op.drop_index(
            "ix_messages_held",
            sqlite_where=sa.text("dispatch_state = 'held'"),
            postgresql_where=sa.text("dispatch_state = 'held'"),
        )
        batch_op.create_index(
            "ix_messages_claimed",
            ["claimed_at"],
            unique=False,
            sqlite_where=sa.text("dispatch_state = 'claimed'"),
            postgresql_where=sa.text("dispatch_state = 'claimed'"),
        )
        batch_op.drop_column("carrier_sid_from_lookup")

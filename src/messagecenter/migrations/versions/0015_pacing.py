"""pacing: each number's send rate, its next free send slot, and the outbox in priority order

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 07:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from messagecenter.models.base import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# Bulk traffic (a bulk send's texts, marketing) after everything else: the claim's order.
BULK_LAST = "(CASE WHEN bulk_send_id IS NOT NULL OR category = 'marketing' THEN 1 ELSE 0 END)"


def upgrade() -> None:
    with op.batch_alter_table("sms_numbers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("send_rate", sa.Integer(), nullable=True))
    op.create_table(
        "send_pacing",
        sa.Column("from_phone", sa.String(length=64), nullable=False),
        sa.Column("next_slot_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("from_phone", name=op.f("pk_send_pacing")),
    )
    op.create_index(
        "ix_messages_outbox_priority",
        "messages",
        [sa.text(BULK_LAST), "next_attempt_at", "id"],
        sqlite_where=sa.text("dispatch_state = 'pending'"),
        postgresql_where=sa.text("dispatch_state = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_messages_outbox_priority",
        table_name="messages",
        sqlite_where=sa.text("dispatch_state = 'pending'"),
        postgresql_where=sa.text("dispatch_state = 'pending'"),
    )
    op.drop_table("send_pacing")
    with op.batch_alter_table("sms_numbers", schema=None) as batch_op:
        batch_op.drop_column("send_rate")

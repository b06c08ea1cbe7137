"""columns wide enough for anything Twilio sends

A queued text whose From did not fit (varchar 40) failed its insert after the webhook had
answered 200: the text was lost. The queue and the unrouted texts now keep the carrier's
phone fields as text of any length, and a client's text that held NUL characters (which
PostgreSQL cannot store) is kept with them replaced and this flagged.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 21:45:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_WIDENED = {"inbound_queue": 40, "unrouted_messages": 20}


def upgrade() -> None:
    for table, old_length in _WIDENED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in ("from_phone", "to_phone"):
                batch_op.alter_column(
                    column,
                    existing_type=sa.String(length=old_length),
                    type_=sa.Text(),
                    existing_nullable=False,
                )
    for table in ("inbound_queue", "unrouted_messages", "messages"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("body_had_nul", sa.Boolean(), server_default=sa.false(), nullable=False)
            )


def downgrade() -> None:
    for table in ("messages", "unrouted_messages", "inbound_queue"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("body_had_nul")
    # Narrowing fails on PostgreSQL if a longer value was stored since: keep them, or delete
    # those rows first.
    for table, old_length in _WIDENED.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in ("from_phone", "to_phone"):
                batch_op.alter_column(
                    column,
                    existing_type=sa.Text(),
                    type_=sa.String(length=old_length),
                    existing_nullable=False,
                )

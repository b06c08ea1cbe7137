"""columns wide enough for anything Twilio sends

A queued text whose From did not fit (varchar 40) failed its insert after the webhook had
answered 200: the text was lost. The queue and the unrouted texts now keep the carrier's
phone fields as text of any length, and a client's text that held NUL characters (which
PostgreSQL cannot store) is kept with them replaced and this flagged.

A client's phone as the carrier sends it is not always E.164: `whatsapp:+447700900123` has 22
characters. The columns that hold one (conversations, messages, consent) take 64, so such a
sender is a conversation like any other instead of an unrouted text nobody sees.

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
# Columns holding a client's phone (or the business number opposite it) as the carrier sent it.
_PHONE_COLUMNS = {
    "conversations": ("phone",),
    "messages": ("from_phone", "to_phone"),
    "phone_consents": ("phone",),
    "consent_records": ("phone", "sms_number"),
}
_NULLABLE = {"sms_number"}


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
    _resize_phones(sa.String(length=20), sa.String(length=64))


def downgrade() -> None:
    # Fails on PostgreSQL if a longer phone was stored since (see below).
    _resize_phones(sa.String(length=64), sa.String(length=20))
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


def _resize_phones(old: sa.String, new: sa.String) -> None:
    for table, columns in _PHONE_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column,
                    existing_type=old,
                    type_=new,
                    existing_nullable=column in _NULLABLE,
                )

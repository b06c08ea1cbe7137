"""note mentions: a staff member named in a note, until they open its conversation

Revision ID: 0026
Revises: 0022
Create Date: 2026-11-30 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from messagecenter.models.base import UTCDateTime

revision = "0026"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "note_mentions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("note_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("staff_member_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_note_mentions_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["note_id"],
            ["notes.id"],
            name=op.f("fk_note_mentions_note_id_notes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_note_mentions_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_note_mentions_staff_member_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_note_mentions")),
    )
    op.create_index(
        "ix_note_mentions_staff_unseen", "note_mentions", ["staff_member_id", "seen_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_note_mentions_staff_unseen", table_name="note_mentions")
    op.drop_table("note_mentions")

"""assignment, conversation events, per-staff read markers, badge preferences

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from messagecenter.models.base import UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assignee_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_conversations_assignee_id_staff_members"),
            "staff_members",
            ["assignee_id"],
            ["id"],
        )
        batch_op.create_index("ix_conversations_assignee", ["business_id", "assignee_id"])
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("badge_counts", sa.String(length=10), server_default="all", nullable=False)
        )
        batch_op.add_column(
            sa.Column("badge_shown", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.create_check_constraint("badge_counts", "badge_counts IN ('all', 'mine')")
    op.create_table(
        "conversation_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("staff_member_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('assigned')", name=op.f("ck_conversation_events_kind")),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_conversation_events_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["staff_members.id"],
            name=op.f("fk_conversation_events_assignee_id_staff_members"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_conversation_events_business_id_businesses"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_events_conversation_id_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_conversation_events_staff_member_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_events")),
    )
    op.create_index(
        "ix_conversation_events_conversation", "conversation_events", ["conversation_id", "id"]
    )
    op.create_table(
        "staff_read_markers",
        sa.Column("staff_member_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("last_read_message_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_staff_read_markers_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_read_markers_staff_member_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "staff_member_id", "conversation_id", name=op.f("pk_staff_read_markers")
        ),
    )


def downgrade() -> None:
    op.drop_table("staff_read_markers")
    op.drop_index("ix_conversation_events_conversation", table_name="conversation_events")
    op.drop_table("conversation_events")
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_constraint("ck_staff_members_badge_counts", type_="check")
        batch_op.drop_column("badge_shown")
        batch_op.drop_column("badge_counts")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_index("ix_conversations_assignee")
        batch_op.drop_constraint("fk_conversations_assignee_id_staff_members", type_="foreignkey")
        batch_op.drop_column("assignee_id")

"""bulk sends; messages carry their category and bulk send; the marketing frequency cap

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 08:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from messagecenter.models.base import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bulk_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("request_key", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("send_at", UTCDateTime(), nullable=True),
        sa.Column("staff_member_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("cancelled_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('scheduled', 'sent', 'cancelled')", name=op.f("ck_bulk_sends_status")
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"], ["api_keys.id"], name=op.f("fk_bulk_sends_api_key_id_api_keys")
        ),
        sa.ForeignKeyConstraint(
            ["business_id"], ["businesses.id"], name=op.f("fk_bulk_sends_business_id_businesses")
        ),
        sa.ForeignKeyConstraint(
            ["staff_member_id"],
            ["staff_members.id"],
            name=op.f("fk_bulk_sends_staff_member_id_staff_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_sends")),
        sa.UniqueConstraint(
            "business_id", "request_key", name=op.f("uq_bulk_sends_business_id_request_key")
        ),
    )
    with op.batch_alter_table("bulk_sends", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulk_sends_business_id"), ["business_id"])
        batch_op.create_index("ix_bulk_sends_due", ["status", "send_at"])
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("category", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("bulk_send_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_messages_bulk_send_id_bulk_sends"),
            "bulk_sends",
            ["bulk_send_id"],
            ["id"],
        )
        batch_op.create_index("ix_messages_bulk_send", ["bulk_send_id", "status"])
        batch_op.create_index(
            "ix_messages_business_category", ["business_id", "category", "created_at"]
        )
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        # At most this many marketing texts to one client in marketing_cap_days (None: no cap).
        batch_op.add_column(sa.Column("marketing_cap", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("marketing_cap_days", sa.Integer(), nullable=False, server_default="30")
        )


def downgrade() -> None:
    with op.batch_alter_table("businesses", schema=None) as batch_op:
        batch_op.drop_column("marketing_cap_days")
        batch_op.drop_column("marketing_cap")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_business_category")
        batch_op.drop_index("ix_messages_bulk_send")
        batch_op.drop_constraint(
            batch_op.f("fk_messages_bulk_send_id_bulk_sends"), type_="foreignkey"
        )
        batch_op.drop_column("bulk_send_id")
        batch_op.drop_column("category")
    with op.batch_alter_table("bulk_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_bulk_sends_due")
        batch_op.drop_index(batch_op.f("ix_bulk_sends_business_id"))
    op.drop_table("bulk_sends")

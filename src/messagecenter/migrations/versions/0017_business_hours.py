"""business hours and the after-hours answer

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 11:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from messagecenter.models.base import UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "business_hours",
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens_minute", sa.Integer(), nullable=False),
        sa.Column("closes_minute", sa.Integer(), nullable=False),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_business_hours_weekday")),
        sa.CheckConstraint(
            "opens_minute >= 0 AND opens_minute < closes_minute AND closes_minute <= 1440",
            name=op.f("ck_business_hours_opens_before_closing"),
        ),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_business_hours_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("business_id", "weekday", name=op.f("pk_business_hours")),
    )
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("after_hours_answered_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("after_hours_answered_at")
    op.drop_table("business_hours")

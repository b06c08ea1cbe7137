"""plans that change: a currency and a spending cap on each plan, and the record of changes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from messagecenter.models.base import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The currency each served country's existing plans were priced in, as of this revision
# (businesses/money.py keeps the live table; a migration keeps its own copy).
_CURRENCY_OF_COUNTRY = {
    "US": "USD",
    "CA": "CAD",
    "GB": "GBP",
    "IM": "GBP",
    "JE": "GBP",
    "GG": "GBP",
    "AU": "AUD",
    "IE": "EUR",
}


def upgrade() -> None:
    # Plain ADD COLUMNs: SQLite adds them in place, where a rebuild of `plans` would have to
    # drop a table that businesses' foreign keys point at. The server default fills the rows
    # already there; each is then priced in its business's country's currency.
    op.add_column(
        "plans",
        sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False),
    )
    op.add_column(
        "plans", sa.Column("monthly_spending_cap", sa.Numeric(precision=14, scale=4), nullable=True)
    )
    plans = sa.table("plans", sa.column("id", sa.Integer()), sa.column("currency", sa.String()))
    businesses = sa.table(
        "businesses", sa.column("plan_id", sa.Integer()), sa.column("country", sa.String())
    )
    for country, currency in _CURRENCY_OF_COUNTRY.items():
        op.execute(
            plans.update()
            .where(
                plans.c.id.in_(
                    sa.select(businesses.c.plan_id).where(businesses.c.country == country)
                )
            )
            .values(currency=currency)
        )

    op.create_table(
        "plan_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("business_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", UTCDateTime(), nullable=False),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column("changed_via", sa.String(length=10), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_plan_changes_business_id_businesses"),
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_plan_changes_plan_id_plans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_changes")),
    )
    with op.batch_alter_table("plan_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_plan_changes_business_id"), ["business_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("plan_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_changes_business_id"))
    op.drop_table("plan_changes")
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("monthly_spending_cap")
        batch_op.drop_column("currency")

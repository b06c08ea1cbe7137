"""Plans and businesses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, Numeric, String, false
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

# What happens when the allowance is used up.
OVERAGE_HARD_STOP = "hard_stop"  # further outbound sends are refused
OVERAGE_ALLOW = "allow_overage"  # sends go on and are billed at the plan's price per unit
OVERAGE_POLICIES = (OVERAGE_HARD_STOP, OVERAGE_ALLOW)


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (
        CheckConstraint("monthly_allowance >= 0", name="allowance_not_negative"),
        CheckConstraint(
            f"overage_policy IN ('{OVERAGE_HARD_STOP}', '{OVERAGE_ALLOW}')", name="overage_policy"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    monthly_allowance: Mapped[int] = mapped_column(Integer)
    overage_policy: Mapped[str] = mapped_column(String(20))
    overage_price_per_unit: Mapped[Decimal] = mapped_column(Numeric(10, 4), default=Decimal(0))
    # ISO 4217; every price and the spending cap are in it (businesses/money.py).
    currency: Mapped[str] = mapped_column(String(3))
    # At most this much overage a month (allow_overage plans); None: no cap.
    monthly_spending_cap: Mapped[Decimal | None] = mapped_column(Numeric(14, 4), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Business(Base):
    __tablename__ = "businesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2))  # ISO 3166-1 alpha-2
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name; billing months follow it
    business_phone: Mapped[str] = mapped_column(String(20))  # E.164
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    # Client messages not yet seen, over conversations that are not muted: kept as a counter
    # so the navigation badge costs one row read.
    unread_messages: Mapped[int] = mapped_column(Integer, default=0)
    # The marketing frequency cap: at most this many marketing texts to one client in
    # marketing_cap_days (bulk sends skip the clients it blocks). None: no cap.
    marketing_cap: Mapped[int | None] = mapped_column(Integer)
    marketing_cap_days: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # Quiet hours follow the stricter windows of some US states (sending/quiet_hours.toml).
    strict_state_hours: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# Through which door an operator changed a plan.
CHANGED_VIA_CLI = "cli"  # `messagecenter business plan`
CHANGED_VIA_API = "api"  # the operator API (/api/operator/v1)


class PlanChange(Base):
    """One operator change to a business's plan: who, when, how, and the plan's terms before
    and after (businesses/plans.py writes them; nothing edits or deletes them)."""

    __tablename__ = "plan_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(100))
    changed_via: Mapped[str] = mapped_column(String(10))
    note: Mapped[str] = mapped_column(String(500), default="")
    # The plan's terms as JSON: amounts as strings, exactly as the plan holds them.
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)

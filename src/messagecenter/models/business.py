"""Plans and businesses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, Numeric, String, false
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
    # Quiet hours follow the stricter windows of some US states (sending/quiet_hours.toml).
    strict_state_hours: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

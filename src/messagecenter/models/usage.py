"""Allowance units used per business and billing period."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base


class UsagePeriod(Base):
    __tablename__ = "usage_periods"
    __table_args__ = (
        UniqueConstraint("business_id", "period_start"),
        CheckConstraint("units_used >= 0", name="units_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    period_start: Mapped[date] = mapped_column(Date)  # first day of the month, business's zone
    units_used: Mapped[int] = mapped_column(Integer, default=0)
    inbound_units: Mapped[int] = mapped_column(Integer, default=0)
    outbound_units: Mapped[int] = mapped_column(Integer, default=0)

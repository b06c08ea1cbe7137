"""A business's opening hours: one row per weekday it opens (a day with no row is closed).
A business with no rows has not said its hours: no text is out of hours for it."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base

MINUTES_A_DAY = 24 * 60


class BusinessHours(Base):
    __tablename__ = "business_hours"
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),  # 0 is Monday
        # Minutes after midnight in the business's time zone; a day opens before it closes.
        CheckConstraint(
            f"opens_minute >= 0 AND opens_minute < closes_minute "
            f"AND closes_minute <= {MINUTES_A_DAY}",
            name="opens_before_closing",
        ),
    )

    business_id: Mapped[int] = mapped_column(
        ForeignKey("businesses.id", ondelete="CASCADE"), primary_key=True
    )
    weekday: Mapped[int] = mapped_column(Integer, primary_key=True)
    opens_minute: Mapped[int] = mapped_column(Integer)
    closes_minute: Mapped[int] = mapped_column(Integer)

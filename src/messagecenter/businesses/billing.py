"""Billing periods and the counting rule for allowance units: kept in one place."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

# Units per message. A plan could later count segments; only this function would change.
SMS_UNITS = 1
MMS_UNITS = 3

WARNING_THRESHOLDS = (80, 100)  # percent of the allowance at which the business is warned


def units_for(*, has_media: bool) -> int:
    return MMS_UNITS if has_media else SMS_UNITS


def period_start(at: datetime, timezone: str) -> date:
    """The first day of the calendar month containing `at`, in the business's time zone."""
    local = at.astimezone(ZoneInfo(timezone))
    return date(local.year, local.month, 1)


def next_period_start(start: date) -> date:
    return date(start.year + 1, 1, 1) if start.month == 12 else date(start.year, start.month + 1, 1)


def overage_units(used: int, allowance: int) -> int:
    return max(0, used - allowance)


def overage_cost(used: int, allowance: int, price_per_unit: Decimal) -> Decimal:
    return overage_units(used, allowance) * price_per_unit


def warning_level(used: int, allowance: int) -> int | None:
    """The highest warning threshold (80 or 100 %) reached, or None."""
    if allowance <= 0:
        return 100
    reached = [t for t in WARNING_THRESHOLDS if used * 100 >= allowance * t]
    return reached[-1] if reached else None

"""Billing periods and the counting rule for allowance units: kept in one place."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from messagecenter.models.business import OVERAGE_HARD_STOP

# Units per message. A plan could later count segments; only this function would change.
SMS_UNITS = 1
MMS_UNITS = 3

WARNING_THRESHOLDS = (80, 100)  # percent of the limit at which the business is warned
MAX_PERIOD_UNITS = 2**31 - 1  # usage_periods.units_used is a 32-bit INTEGER


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


def capped_units(allowance: int, policy: str, price: Decimal, cap: Decimal | None) -> int | None:
    """The units a period may use when a spending cap bounds an overage plan: the allowance
    and the whole overage units the cap pays for (the unit whose cost would pass the cap is
    the first refused). None when no cap applies: a hard stop has no overage to cap, and free
    overage never costs more than the cap."""
    if policy == OVERAGE_HARD_STOP or cap is None or price <= 0:
        return None
    return min(MAX_PERIOD_UNITS, allowance + int(cap // price))


def send_ceiling(allowance: int, policy: str, price: Decimal, cap: Decimal | None) -> int | None:
    """The units past which outbound sends are refused: the allowance under a hard stop, the
    cap's units on a capped overage plan; None: never refused."""
    if policy == OVERAGE_HARD_STOP:
        return allowance
    return capped_units(allowance, policy, price, cap)


def warning_limit(allowance: int, policy: str, price: Decimal, cap: Decimal | None) -> int:
    """What the 80 % / 100 % warnings measure usage against: the cap's units when a spending
    cap applies (100 % is where sends stop), else the allowance."""
    capped = capped_units(allowance, policy, price, cap)
    return allowance if capped is None else capped

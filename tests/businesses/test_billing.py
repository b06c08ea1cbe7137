"""The counting rule and billing periods (DESIGN.md §2, Allowance): pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from messagecenter.businesses import billing


def test_an_sms_counts_one_unit_and_an_mms_three() -> None:
    assert billing.units_for(has_media=False) == 1
    assert billing.units_for(has_media=True) == 3


def test_period_is_the_calendar_month_in_the_business_time_zone() -> None:
    at = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
    assert billing.period_start(at, "America/New_York") == date(2026, 11, 1)


def test_los_angeles_is_still_in_november_when_utc_is_in_december() -> None:
    at = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # 2026-11-30 23:30 PST
    assert billing.period_start(at, "America/Los_Angeles") == date(2026, 11, 1)
    assert billing.period_start(at, "UTC") == date(2026, 12, 1)


def test_los_angeles_moves_to_december_at_local_midnight() -> None:
    at = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 2026-12-01 00:00 PST
    assert billing.period_start(at, "America/Los_Angeles") == date(2026, 12, 1)


def test_sydney_is_already_in_december_when_utc_is_still_in_november() -> None:
    at = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)  # 2026-12-01 01:00 AEDT
    assert billing.period_start(at, "Australia/Sydney") == date(2026, 12, 1)
    assert billing.period_start(at, "UTC") == date(2026, 11, 1)


def test_sydney_reaches_the_new_year_before_utc() -> None:
    at = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)  # 2027-01-01 07:00 AEDT
    assert billing.period_start(at, "Australia/Sydney") == date(2027, 1, 1)


def test_a_non_utc_offset_instant_is_converted_before_taking_the_month() -> None:
    at = datetime(2026, 11, 30, 23, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert billing.period_start(at, "Europe/London") == date(2026, 12, 1)
    assert billing.period_start(at, "America/Los_Angeles") == date(2026, 11, 1)


@pytest.mark.parametrize(
    ("start", "following"),
    [
        (date(2026, 1, 1), date(2026, 2, 1)),
        (date(2026, 2, 1), date(2026, 3, 1)),
        (date(2026, 11, 1), date(2026, 12, 1)),
        (date(2026, 12, 1), date(2027, 1, 1)),
    ],
)
def test_next_period_start(start: date, following: date) -> None:
    assert billing.next_period_start(start) == following


@pytest.mark.parametrize(
    ("used", "allowance", "over"),
    [(0, 100, 0), (99, 100, 0), (100, 100, 0), (101, 100, 1), (130, 100, 30), (4, 0, 4)],
)
def test_overage_units_are_the_units_past_the_allowance(
    used: int, allowance: int, over: int
) -> None:
    assert billing.overage_units(used, allowance) == over


def test_overage_cost_is_overage_units_times_the_price() -> None:
    cost = billing.overage_cost(103, 100, Decimal("0.05"))
    assert isinstance(cost, Decimal)
    assert cost == Decimal("0.15")


def test_no_overage_cost_within_the_allowance() -> None:
    assert billing.overage_cost(100, 100, Decimal("0.05")) == Decimal(0)
    assert billing.overage_cost(20, 100, Decimal("0.05")) == Decimal(0)


@pytest.mark.parametrize(
    ("used", "level"),
    [(0, None), (79, None), (80, 80), (99, 80), (100, 100), (101, 100), (250, 100)],
)
def test_warning_level_at_80_and_100_percent(used: int, level: int | None) -> None:
    assert billing.warning_level(used, 100) == level


def test_warning_level_uses_exact_percentages_for_uneven_allowances() -> None:
    # 80 % of 7 is 5.6 units: 5 is below it, 6 is past it.
    assert billing.warning_level(5, 7) is None
    assert billing.warning_level(6, 7) == 80
    assert billing.warning_level(7, 7) == 100


def test_an_allowance_of_zero_is_always_used_up() -> None:
    assert billing.warning_level(0, 0) == 100
    assert billing.warning_level(3, 0) == 100


# ---------------------------------------------------------------------------- spending cap


def test_a_cap_allows_the_whole_overage_units_it_pays_for() -> None:
    assert billing.capped_units(10, "allow_overage", Decimal("0.10"), Decimal("0.50")) == 15
    assert billing.capped_units(10, "allow_overage", Decimal("0.10"), Decimal("0.59")) == 15
    assert billing.capped_units(10, "allow_overage", Decimal("0.10"), Decimal("0.09")) == 10
    assert billing.capped_units(0, "allow_overage", Decimal("0.03"), Decimal("1")) == 33


def test_no_cap_applies_under_a_hard_stop_without_one_or_to_free_overage() -> None:
    assert billing.capped_units(10, "hard_stop", Decimal("0.10"), Decimal("0.50")) is None
    assert billing.capped_units(10, "allow_overage", Decimal("0.10"), None) is None
    assert billing.capped_units(10, "allow_overage", Decimal("0"), Decimal("5")) is None


def test_a_cap_beyond_what_a_period_can_count_is_held_to_that() -> None:
    huge = billing.capped_units(10, "allow_overage", Decimal("0.0001"), Decimal("9999999999"))
    assert huge == billing.MAX_PERIOD_UNITS


def test_sends_stop_at_the_allowance_the_cap_or_never() -> None:
    assert billing.send_ceiling(10, "hard_stop", Decimal("0.10"), Decimal("0.50")) == 10
    assert billing.send_ceiling(10, "allow_overage", Decimal("0.10"), Decimal("0.50")) == 15
    assert billing.send_ceiling(10, "allow_overage", Decimal("0.10"), None) is None


def test_warnings_measure_against_the_cap_when_one_applies_else_the_allowance() -> None:
    assert billing.warning_limit(10, "allow_overage", Decimal("0.10"), Decimal("0.50")) == 15
    assert billing.warning_limit(10, "allow_overage", Decimal("0.10"), None) == 10
    assert billing.warning_limit(10, "hard_stop", Decimal("0.10"), Decimal("0.50")) == 10

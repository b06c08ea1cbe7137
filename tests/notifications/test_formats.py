"""Dates and times in the business's zone and its country's way of writing them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from messagecenter.notifications.formats import booking_date, booking_time, phone

AT = datetime(2026, 11, 17, 20, 30, tzinfo=UTC)  # Tue 17 Nov, 20:30 UTC


@pytest.mark.parametrize(
    ("country", "zone", "date", "time"),
    [
        ("US", "America/New_York", "Tue, Nov 17", "3:30 PM"),
        ("CA", "America/Toronto", "Tue, Nov 17", "3:30 p.m."),
        ("GB", "Europe/London", "Tue 17 Nov", "20:30"),
        ("AU", "Australia/Sydney", "Wed 18 Nov", "7:30 am"),  # already the next day there
        ("FR", "Europe/Paris", "2026-11-17", "21:30"),
    ],
)
def test_each_country_s_format_in_the_business_s_zone(
    country: str, zone: str, date: str, time: str
) -> None:
    assert booking_date(AT, zone, country) == date
    assert booking_time(AT, zone, country) == time


def test_summer_time_is_the_zone_s_on_that_day_not_today_s() -> None:
    summer = datetime(2026, 7, 1, 16, 0, tzinfo=UTC)
    assert booking_time(summer, "America/New_York", "US") == "12:00 PM"
    assert booking_time(summer, "Europe/London", "GB") == "17:00"


def test_midnight_and_noon_read_as_twelve() -> None:
    assert booking_time(datetime(2026, 11, 17, 5, 5, tzinfo=UTC), "America/New_York", "US") == (
        "12:05 AM"
    )


def test_numbers_read_nationally_at_home_and_internationally_abroad() -> None:
    assert phone("+12125550100", "US") == "(212) 555-0100"
    assert phone("+442079460000", "GB") == "020 7946 0000"
    assert phone("+442079460000", "US") == "+44 20 7946 0000"

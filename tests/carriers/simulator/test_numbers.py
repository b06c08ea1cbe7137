"""Fictional numbers the simulator offers per country (DESIGN.md §1 "The SMS number")."""

from __future__ import annotations

import phonenumbers
import pytest
from phonenumbers import PhoneNumberType

from messagecenter.carriers.simulator.numbers import fictional_numbers

MOBILE_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
LOCAL = {PhoneNumberType.FIXED_LINE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def parsed(e164: str) -> phonenumbers.PhoneNumber:
    return phonenumbers.parse(e164, None)


def assert_valid_in(numbers: list[str], country: str) -> None:
    assert numbers
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        parsed_number = parsed(number)
        assert phonenumbers.is_valid_number(parsed_number), number
        assert phonenumbers.region_code_for_number(parsed_number) == country, number
        formatted = phonenumbers.format_number(parsed_number, phonenumbers.PhoneNumberFormat.E164)
        assert formatted == number


@pytest.mark.parametrize(
    ("country", "near", "area"),
    [
        ("US", "+12125550100", "212"),
        ("US", "+13125551234", "312"),
        ("US", "+14155550199", "415"),
        ("US", "(312) 555-1234", "312"),
        ("CA", "+16045550100", "604"),
        ("CA", "+14165551234", "416"),
        ("CA", "613 555 1234", "613"),
    ],
)
def test_north_america_in_the_business_phones_area_code(country: str, near: str, area: str) -> None:
    numbers = fictional_numbers(country, near, 100)
    assert numbers == [f"+1{area}55501{n:02d}" for n in range(100)]
    assert_valid_in(numbers, country)
    for number in numbers:
        assert phonenumbers.number_type(parsed(number)) in LOCAL


@pytest.mark.parametrize("country", ["US", "CA"])
@pytest.mark.parametrize("near", [None, "", "garbage", "+447400123456"])
def test_north_america_without_a_usable_phone_still_offers_valid_numbers(
    country: str, near: str | None
) -> None:
    numbers = fictional_numbers(country, near, 10)
    assert len(numbers) == 10
    assert_valid_in(numbers, country)
    assert all(n[5:10] == "55501" for n in numbers)


def test_a_phone_from_the_other_nanp_country_is_not_used() -> None:
    us = fictional_numbers("US", "+16045550100", 5)  # a Vancouver phone for a US number
    assert_valid_in(us, "US")
    assert not any(n.startswith("+1604") for n in us)
    ca = fictional_numbers("CA", "+12125550100", 5)
    assert_valid_in(ca, "CA")


@pytest.mark.parametrize("near", ["+18005550100", "+18885550142", "+19005550100"])
def test_a_toll_free_or_premium_business_phone_still_gets_local_numbers(near: str) -> None:
    """US and Canadian SMS numbers are local numbers; an 800/888/900 business phone has no
    area to be near, so it must not turn the suggestions into toll-free/premium numbers."""
    numbers = fictional_numbers("US", near, 5)
    assert_valid_in(numbers, "US")
    kinds = {phonenumbers.number_type(parsed(n)) for n in numbers}
    assert kinds <= LOCAL, kinds


def test_uk_numbers_are_mobile_07400_123xxx() -> None:
    numbers = fictional_numbers("GB", "+442071234567", 1000)
    assert len(numbers) == 1000
    assert_valid_in(numbers, "GB")
    for number in numbers:
        assert phonenumbers.number_type(parsed(number)) in MOBILE_CAPABLE
        national = phonenumbers.format_number(
            parsed(number), phonenumbers.PhoneNumberFormat.NATIONAL
        )
        assert national.startswith("07400 123"), national


def test_australian_numbers_are_mobile_0491_57x_xxx() -> None:
    numbers = fictional_numbers("AU", "+61291234567", 10000)
    assert len(numbers) == len(set(numbers)) == 10000
    sample = [*numbers[::97], numbers[-1]]  # the whole range is slow to check one by one
    assert_valid_in(sample, "AU")
    for number in sample:
        assert phonenumbers.number_type(parsed(number)) in MOBILE_CAPABLE
        national = phonenumbers.format_number(
            parsed(number), phonenumbers.PhoneNumberFormat.NATIONAL
        )
        assert national.replace(" ", "").startswith("049157"), national


@pytest.mark.parametrize("country", ["gb", "au", "us", "ca"])
def test_country_is_case_insensitive(country: str) -> None:
    assert fictional_numbers(country, None, 3) == fictional_numbers(country.upper(), None, 3)
    assert len(fictional_numbers(country, None, 3)) == 3


@pytest.mark.parametrize("country", ["FR", "DE", "IE", "NZ", "IM", "JE", "XX", ""])
def test_no_numbers_for_other_countries(country: str) -> None:
    assert fictional_numbers(country, None, 5) == []


@pytest.mark.parametrize("limit", [0, 1, 5, 20])
def test_limit_is_respected(limit: int) -> None:
    for country in ("US", "CA", "GB", "AU"):
        assert len(fictional_numbers(country, None, limit)) == limit

"""CELL PHONE validation (DESIGN.md §2, Cell phones and segments)."""

from __future__ import annotations

import pytest

from messagecenter.clients.phone import parse_cell_phone, parse_phone, region_of
from messagecenter.errors import InvalidInput


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("(212) 555-0142", "US", "+12125550142"),
        ("212.555.0142", "US", "+12125550142"),
        ("1 212 555 0142", "US", "+12125550142"),
        ("+1 212 555 0142", "US", "+12125550142"),
        ("  212-555-0142  ", "US", "+12125550142"),
        ("(416) 555-0142", "CA", "+14165550142"),
        ("613 555 0142", "CA", "+16135550142"),
    ],
)
def test_valid_us_and_canadian_numbers_are_accepted(raw: str, country: str, e164: str) -> None:
    """phonenumbers cannot tell North American mobiles from landlines
    (FIXED_LINE_OR_MOBILE), so a valid number is accepted."""
    assert parse_cell_phone(raw, country) == e164


@pytest.mark.parametrize(
    ("raw", "country", "e164"),
    [
        ("07400 123456", "GB", "+447400123456"),
        ("+44 7400 123456", "GB", "+447400123456"),
        ("0412 345 678", "AU", "+61412345678"),
    ],
)
def test_uk_and_australian_mobiles_are_accepted(raw: str, country: str, e164: str) -> None:
    assert parse_cell_phone(raw, country) == e164


def test_the_country_code_wins_over_the_business_country() -> None:
    e164 = parse_cell_phone("+44 7400 123456", "US")
    assert e164 == "+447400123456"
    assert region_of(e164) == "GB"


def test_the_business_country_is_the_default_region() -> None:
    # The same digits mean different numbers in different countries.
    assert parse_cell_phone("0412 345 678", "AU") == "+61412345678"
    with pytest.raises(InvalidInput):
        parse_cell_phone("0412 345 678", "US")


@pytest.mark.parametrize(
    ("raw", "country"),
    [
        ("020 7946 0000", "GB"),
        ("+44 20 7946 0000", "US"),
        ("02 5550 1234", "AU"),
        ("+61 2 5550 1234", "GB"),
    ],
)
def test_uk_and_australian_landlines_are_refused_saying_why(raw: str, country: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cell_phone(raw, country)
    assert refused.value.field == "cell_phone"
    assert "landline" in refused.value.message
    assert raw in refused.value.message


@pytest.mark.parametrize("raw", ["1-800-555-0199", "(888) 555-0199", "+1 877 555 0199"])
def test_toll_free_numbers_are_refused_saying_why(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cell_phone(raw, "US")
    assert refused.value.field == "cell_phone"
    assert "toll-free" in refused.value.message


@pytest.mark.parametrize("raw", ["abc", "call me", "++", "555"])
def test_something_that_is_not_a_phone_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cell_phone(raw, "US")
    assert refused.value.field == "cell_phone"
    assert "not a" in refused.value.message


@pytest.mark.parametrize("raw", ["", "   "])
def test_an_empty_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cell_phone(raw, "US")
    assert refused.value.field == "cell_phone"
    assert "Enter a phone number" in refused.value.message


@pytest.mark.parametrize(
    ("raw", "country"),
    [("212 555 014", "US"), ("(212) 555-01423", "US"), ("+1 011 555 0142", "US"), ("07400", "GB")],
)
def test_invalid_digits_are_refused_as_not_valid(raw: str, country: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cell_phone(raw, country)
    assert refused.value.field == "cell_phone"
    assert "not" in refused.value.message
    assert "landline" not in refused.value.message


def test_the_field_name_can_be_chosen() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_cell_phone("020 7946 0000", "GB", field="to")
    assert refused.value.field == "to"


def test_parse_phone_accepts_any_valid_number_as_e164() -> None:
    # The business phone may be a landline; only cell phones must be mobile-capable.
    assert parse_phone("020 7946 0000", "GB") == "+442079460000"
    assert parse_phone("1-800-555-0199", "US") == "+18005550199"
    with pytest.raises(InvalidInput):
        parse_phone("abc", "US")


def test_region_of_an_e164_number() -> None:
    assert region_of("+14165550142") == "CA"
    assert region_of("+61412345678") == "AU"
    assert region_of("not a number") is None

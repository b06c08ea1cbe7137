"""Plan currencies and amounts as a business's locale writes them."""

from __future__ import annotations

from decimal import Decimal

import pytest

from messagecenter.businesses import money
from messagecenter.errors import InvalidInput


@pytest.mark.parametrize(
    ("country", "currency"),
    [("US", "USD"), ("CA", "CAD"), ("GB", "GBP"), ("IM", "GBP"), ("AU", "AUD"), ("IE", "EUR")],
)
def test_each_served_country_has_its_currency(country: str, currency: str) -> None:
    assert money.default_currency(country) == currency
    assert money.default_currency(country.lower()) == currency


def test_a_currency_code_is_kept_upper_case() -> None:
    assert money.check_currency(" eur ") == "EUR"


@pytest.mark.parametrize("code", ["XYZ", "US", "dollars", "", "€"])
def test_a_code_that_is_not_iso_4217_is_refused_naming_the_field(code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        money.check_currency(code)
    assert refused.value.field == "currency"
    assert "ISO 4217" in refused.value.message


@pytest.mark.parametrize(
    ("amount", "currency", "country", "text"),
    [
        ("0.0500", "USD", "US", "$0.05"),
        ("0.0125", "USD", "US", "$0.0125"),  # every digit of a price kept
        ("1234.5", "GBP", "GB", "£1,234.50"),
        ("12", "CAD", "CA", "$12.00"),
        ("12", "USD", "CA", "US$12.00"),  # another country's dollars say whose
        ("3", "EUR", "IE", "€3.00"),
        ("3", "AUD", "AU", "$3.00"),
    ],
)
def test_amounts_read_as_the_business_locale_writes_them(
    amount: str, currency: str, country: str, text: str
) -> None:
    assert money.format_money(Decimal(amount), currency, country) == text


def test_a_country_without_an_english_locale_falls_back_to_plain_english() -> None:
    assert money.format_money(Decimal("1"), "USD", "ZZ") == "$1.00"


def test_the_currency_is_named_in_words() -> None:
    assert money.currency_name("CAD", "CA") == "Canadian dollars"

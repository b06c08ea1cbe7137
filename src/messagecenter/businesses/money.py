"""Money on plans: which currency a plan is priced in, and how an amount reads for a business.

Formatting is Babel's (CLDR data) in the business's locale: English as written in its
country ("$0.05" in the US, "US$0.05" for a USD price in Canada, "£0.05" in the UK). Amounts
keep the digits they have (a price of 0.0125 a unit is not rounded to 0.01)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, get_currency_name, is_currency

from messagecenter.errors import InvalidInput

# The currency a new plan is priced in unless the operator names another: the one each
# served country pays in (the Isle of Man and the Channel Islands pay in pounds sterling).
CURRENCY_OF_COUNTRY = {
    "US": "USD",
    "CA": "CAD",
    "GB": "GBP",
    "IM": "GBP",
    "JE": "GBP",
    "GG": "GBP",
    "AU": "AUD",
    "IE": "EUR",
}
FALLBACK_CURRENCY = "USD"  # for a country the table does not know (none is served)
FALLBACK_LOCALE = "en"

# The plans' columns: NUMERIC(10, 4) for the price, NUMERIC(14, 4) for the cap.
MAX_PRICE = Decimal("999999.9999")
MAX_SPENDING_CAP = Decimal("9999999999.9999")
_FOUR_PLACES = Decimal("0.0001")


def default_currency(country: str) -> str:
    return CURRENCY_OF_COUNTRY.get(country.upper(), FALLBACK_CURRENCY)


def check_currency(code: str, *, field: str = "currency") -> str:
    """The ISO 4217 code, upper case; a code that is not one is refused naming the field."""
    normalised = code.strip().upper()
    if len(normalised) != 3 or not is_currency(normalised):
        raise InvalidInput(
            f"{code[:20]!r} is not an ISO 4217 currency code: give one such as USD, CAD, GBP, "
            "AUD or EUR.",
            field=field,
        )
    return normalised


def check_amount(amount: Decimal, *, field: str, what: str, maximum: Decimal) -> None:
    """An amount the plans table holds exactly: finite, 0 to `maximum`, at most 4 decimals
    (NaN would otherwise fail every comparison, and 1e30 the column)."""
    if not amount.is_finite():
        raise InvalidInput(f"Give the {what} as a number such as 0.05.", field=field)
    if amount < 0:
        raise InvalidInput(f"The {what} cannot be negative.", field=field)
    if amount > maximum or amount != amount.quantize(_FOUR_PLACES):
        raise InvalidInput(
            f"The {what} must be at most {maximum}, with at most 4 decimal places.", field=field
        )


@lru_cache(maxsize=32)
def business_locale(country: str) -> Locale:
    """English as written in the business's country; plain English where CLDR has no such
    locale."""
    try:
        return Locale.parse(f"en_{country.upper()}")
    except (UnknownLocaleError, ValueError):
        return Locale.parse(FALLBACK_LOCALE)


def format_money(amount: Decimal, currency: str, country: str) -> str:
    """'$0.05', '£1,234.50', 'CA$12.00' in a US business: the locale's way, every digit kept."""
    return format_currency(
        amount, currency, locale=business_locale(country), decimal_quantization=False
    )


def currency_name(currency: str, country: str) -> str:
    """'US dollars', 'Canadian dollars', 'British pounds', in the business's locale."""
    return str(get_currency_name(currency, count=2, locale=business_locale(country)))

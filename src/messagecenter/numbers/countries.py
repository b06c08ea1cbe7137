"""Which businesses Message Center serves, and what kind of number each country texts from."""

from __future__ import annotations

from messagecenter.errors import InvalidInput

SERVED = ("US", "CA", "AU", "GB")
# Elsewhere in the British Isles, businesses register with a mainland UK number.
REGISTERS_AS = {"IE": "GB", "IM": "GB", "JE": "GB", "GG": "GB"}
# Local numbers in North America; mobile numbers where landlines cannot text.
NUMBER_TYPE = {"US": "local", "CA": "local", "GB": "mobile", "AU": "mobile"}


def number_country(business_country: str) -> str:
    """The country of the SMS number a business in `business_country` gets."""
    country = business_country.upper()
    if country in SERVED:
        return country
    if country in REGISTERS_AS:
        return REGISTERS_AS[country]
    raise InvalidInput(
        "Message Center is offered to businesses in the United States, Canada, Australia and "
        "the United Kingdom (and Ireland, the Isle of Man, Jersey and Guernsey with a UK "
        f"number); {country} is not served.",
        field="country",
    )

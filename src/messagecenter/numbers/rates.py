"""How many texts a second a number may send: its own setting, else the default for its type
and country (the carriers' throughput for such numbers)."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

from messagecenter.errors import InvalidInput

LONG_CODE_RATE = 1  # a US or Canadian local number (10DLC): 1 message a second
TOLL_FREE_RATE = 3  # a verified US or Canadian toll-free number
MOBILE_RATE = 10  # a UK or Australian mobile number
MAX_SEND_RATE = 1000  # beyond any single number's throughput (a short code has 100)
_BY_COUNTRY = {"US": LONG_CODE_RATE, "CA": LONG_CODE_RATE, "GB": MOBILE_RATE, "AU": MOBILE_RATE}


def default_send_rate(phone_number: str, country: str | None) -> int:
    """The rate carriers give a number of this kind: toll-free or local in North America,
    mobile in the UK and Australia (1 a second for anything unknown). Without a country (a
    number no business holds any more) the number's own says."""
    parsed = _parsed(phone_number)
    if country is None and parsed is not None:
        country = phonenumbers.region_code_for_number(parsed)
    toll_free = parsed is not None and phonenumbers.number_type(parsed) == PhoneNumberType.TOLL_FREE
    if country in ("US", "CA") and toll_free:
        return TOLL_FREE_RATE
    return _BY_COUNTRY.get(country or "", LONG_CODE_RATE)


def send_rate(setting: int | None, phone_number: str, country: str | None) -> int:
    """The number's own rate when set, else its default."""
    return setting if setting is not None else default_send_rate(phone_number, country)


def checked_send_rate(value: int) -> int:
    """A rate a number may be given: whole messages a second, 1 to MAX_SEND_RATE."""
    if not 1 <= value <= MAX_SEND_RATE:
        raise InvalidInput(
            f"send_rate is messages a second, a whole number from 1 to {MAX_SEND_RATE} "
            f"(not {value}); leave it empty for the default of the number's type.",
            field="send_rate",
        )
    return value


def _parsed(phone_number: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(phone_number, None)
    except phonenumbers.NumberParseException:  # a channel address (whatsapp:+...), say
        return None

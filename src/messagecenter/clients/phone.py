"""CELL PHONE validation: only a mobile-capable number, parsed in the business's country."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

from messagecenter.errors import InvalidInput

_MOBILE_CAPABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}

_REFUSALS = {
    PhoneNumberType.FIXED_LINE: "is a landline, which cannot receive text messages",
    PhoneNumberType.TOLL_FREE: "is a toll-free number, which cannot receive text messages",
    PhoneNumberType.PREMIUM_RATE: "is a premium-rate number, which cannot receive texts",
    PhoneNumberType.SHARED_COST: "is a shared-cost number, which cannot receive texts",
    PhoneNumberType.VOIP: "is an internet (VoIP) number, which may not receive texts",
    PhoneNumberType.PERSONAL_NUMBER: "is a personal forwarding number, not a cell phone",
    PhoneNumberType.PAGER: "is a pager number, not a cell phone",
    PhoneNumberType.UAN: "is a company access number, not a cell phone",
    PhoneNumberType.VOICEMAIL: "is a voicemail access number, not a cell phone",
}


def parse_phone(raw: str, country: str, *, field: str = "phone") -> str:
    """Any valid number as E.164 (used for numbers we do not require to be mobile)."""
    number = _parse(raw, country, field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def parse_cell_phone(raw: str, country: str, *, field: str = "cell_phone") -> str:
    """A cell phone as E.164, or InvalidInput saying why it cannot take texts.

    US and Canadian numbers cannot be told apart from landlines offline (phonenumbers says
    FIXED_LINE_OR_MOBILE), so they are accepted when valid.
    """
    number = _parse(raw, country, field)
    kind = phonenumbers.number_type(number)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if kind in _MOBILE_CAPABLE:
        return e164
    reason = _REFUSALS.get(kind, "is not a number that can receive text messages")
    raise InvalidInput(f"{raw.strip()} {reason}: enter the client's mobile number.", field=field)


def _parse(raw: str, country: str, field: str) -> phonenumbers.PhoneNumber:
    text = (raw or "").strip()
    if not text:
        raise InvalidInput("Enter a phone number.", field=field)
    try:
        number = phonenumbers.parse(text, country.upper())
    except NumberParseException:
        raise InvalidInput(
            f"{text!r} is not a phone number: use digits, with the country code (like +44) "
            "for numbers outside the business's country.",
            field=field,
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidInput(
            f"{text} is not a valid phone number: check the digits and the country code.",
            field=field,
        )
    return number


@lru_cache(maxsize=4096)  # every inbox row asks it of its phone
def region_of(e164: str) -> str | None:
    """The ISO country of an E.164 number (None when phonenumbers cannot say)."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except NumberParseException:
        return None

"""Fictional numbers the simulator offers, per country.

US and Canada: 555-0100 to 555-0199 in the business phone's area code (reserved for fiction).
Australia: ACMA's fictional mobile range 0491 57x xxx. UK: Ofcom's drama range (07700 900xxx)
is not a valid number to the phonenumbers library, so the simulator uses 07400 123xxx instead.
No real phone is ever reached: the simulator sends nothing anywhere.
"""

from __future__ import annotations

import phonenumbers

_DEFAULT_AREA = {"US": "212", "CA": "416"}
_GEOGRAPHIC = {
    phonenumbers.PhoneNumberType.FIXED_LINE,
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
}


def fictional_numbers(country: str, near: str | None, limit: int) -> list[str]:
    country = country.upper()
    if country in _DEFAULT_AREA:
        area = _area_code(near, country) or _DEFAULT_AREA[country]
        candidates = [f"+1{area}55501{n:02d}" for n in range(100)]
    elif country == "GB":
        candidates = [f"+447400123{n:03d}" for n in range(1000)]
    elif country == "AU":
        candidates = [f"+6149157{n:04d}" for n in range(10000)]
    else:
        return []
    return candidates[:limit]


def _area_code(near: str | None, country: str) -> str | None:
    if not near:
        return None
    try:
        number = phonenumbers.parse(near, country)
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 1 or phonenumbers.region_code_for_number(number) != country:
        return None
    if phonenumbers.number_type(number) not in _GEOGRAPHIC:
        return None  # a toll-free or premium business phone has no area to be near
    return str(number.national_number)[:3]

"""How times and phone numbers read on the staff pages: in the business's time zone and the
way its country writes them (Babel's CLDR data for dates, `phonenumbers` for numbers). The
machine forms stay beside them: E.164 in a phone's tooltip, ISO in `<time datetime>`."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from babel import Locale
from babel.dates import format_date, format_skeleton, format_time, get_datetime_format
from markupsafe import Markup, escape

from messagecenter.businesses.money import business_locale
from messagecenter.notifications.formats import local
from messagecenter.notifications.formats import phone as national_phone

# The form a highlighted phone search needs at least, so "1" does not mark every number.
MIN_HIGHLIGHT_DIGITS = 3


def _local(value: datetime, timezone: str) -> datetime:
    """A stored time in the business's zone; stored times are UTC, and one read back
    without its zone is taken as such."""
    return local(value if value.tzinfo is not None else value.replace(tzinfo=UTC), timezone)


def _join(day: str, clock: str, locale: Locale) -> str:
    """A day and a time the locale's way ("{1}, {0}": "Nov 30, 2026, 2:05 PM")."""
    return (
        str(get_datetime_format("medium", locale=locale)).replace("{1}", day).replace("{0}", clock)
    )


def when(value: datetime, timezone: str, country: str, *, seconds: bool = False) -> str:
    """A moment with its date: "Nov 30, 2026, 2:05 PM" (en_US), "30 Nov 2026, 14:05" (en_GB);
    with `seconds`, "2:05:09 PM", for logs."""
    locale, moment = business_locale(country), _local(value, timezone)
    clock = format_time(moment, "medium" if seconds else "short", locale=locale)
    return _join(format_date(moment, "medium", locale=locale), clock, locale)


def when_short(value: datetime, timezone: str, country: str) -> str:
    """A recent moment, its year left out: "Nov 30, 2:05 PM" (en_US), "30 Nov, 14:05" (en_GB)."""
    locale, moment = business_locale(country), _local(value, timezone)
    day = format_skeleton("MMMd", moment, locale=locale)
    return _join(day, format_time(moment, "short", locale=locale), locale)


def day(value: date | datetime, timezone: str, country: str, *, year: bool = True) -> str:
    """A date: "Nov 30, 2026" (en_US), "30 Nov 2026" (en_GB); without its year "Nov 30" and
    "30 Nov". A moment is taken in the business's zone; a date is already a day there."""
    locale = business_locale(country)
    if isinstance(value, datetime):
        value = _local(value, timezone).date()
    if year:
        return str(format_date(value, "medium", locale=locale))
    return str(format_skeleton("MMMd", value, locale=locale))


def time_of_day(value: datetime, timezone: str, country: str) -> str:
    """The time alone: "2:05 PM" (en_US), "14:05" (en_GB)."""
    return str(format_time(_local(value, timezone), "short", locale=business_locale(country)))


def phone_text(e164: str, country: str) -> str:
    """A number as the business's country writes it: "(212) 555-0142" in the US,
    "07400 123456" in the UK, a foreign one in international form; as stored when it does
    not parse."""
    return national_phone(e164, country) if e164 else e164


def phone_markup(e164: str, country: str, found: str = "") -> Markup:
    """The number as people read it, its E.164 form in the tooltip; a search's digits (any
    usual form: "555 0142", "07400123456", "+44 7400…") in <mark>."""
    shown = phone_text(e164, country)
    return Markup('<span class="phone" title="%s">%s</span>') % (
        e164,
        _marked(shown, e164, found) if found else shown,
    )


def _marked(shown: str, e164: str, found: str) -> Markup:
    """`shown` with the part `found` names in <mark>: the characters whose digits it gives
    (or its text as typed); the whole number when it matches only the E.164 form."""
    digits = re.sub(r"\D", "", found)
    if len(digits) >= MIN_HIGHLIGHT_DIGITS:
        positions = [i for i, character in enumerate(shown) if character.isdigit()]
        start = "".join(shown[i] for i in positions).find(digits)
        if start >= 0:
            first, last = positions[start], positions[start + len(digits) - 1] + 1
            return Markup("%s<mark>%s</mark>%s") % (shown[:first], shown[first:last], shown[last:])
        if digits in re.sub(r"\D", "", e164):
            return Markup("<mark>%s</mark>") % shown
    at = shown.casefold().find(found.casefold())
    if at >= 0 and found.strip():
        end = at + len(found)
        return Markup("%s<mark>%s</mark>%s") % (shown[:at], shown[at:end], shown[end:])
    return escape(shown)

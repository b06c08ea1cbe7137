"""How a booking's date and time and the business's numbers read in a text: in the business's
time zone, the way its country writes them. A small table rather than a locale library: the
product serves four countries (and the British Isles that register as the UK)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class _Style:
    day_first: bool  # "Tue 17 Nov" rather than "Tue, Nov 17"
    twelve_hour: bool
    am_pm: tuple[str, str] = ("", "")


_US = _Style(day_first=False, twelve_hour=True, am_pm=("AM", "PM"))
_UK = _Style(day_first=True, twelve_hour=False)
STYLES: dict[str, _Style] = {
    "US": _US,
    "CA": _Style(day_first=False, twelve_hour=True, am_pm=("a.m.", "p.m.")),
    "GB": _UK,
    "IE": _UK,
    "IM": _UK,
    "JE": _UK,
    "GG": _UK,
    "AU": _Style(day_first=True, twelve_hour=True, am_pm=("am", "pm")),
}


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local(at: datetime, timezone: str) -> datetime:
    return at.astimezone(_zone(timezone))


@lru_cache(maxsize=4096)  # a day's bookings share their slots
def booking_date(at: datetime, timezone: str, country: str) -> str:
    """The day, in the business's zone: "Tue, Nov 17" (US, CA), "Tue 17 Nov" (UK, AU), else
    ISO ("2026-11-17")."""
    day = local(at, timezone)
    style = STYLES.get(country.upper())
    if style is None:
        return day.date().isoformat()
    weekday, month = _WEEKDAYS[day.weekday()], _MONTHS[day.month - 1]
    if style.day_first:
        return f"{weekday} {day.day} {month}"
    return f"{weekday}, {month} {day.day}"


@lru_cache(maxsize=4096)  # a day's bookings share their slots
def booking_time(at: datetime, timezone: str, country: str) -> str:
    """The time, in the business's zone: "3:00 PM" (US), "3:00 p.m." (CA), "3:00 pm" (AU),
    "15:00" (UK and elsewhere)."""
    moment = local(at, timezone)
    style = STYLES.get(country.upper())
    if style is None or not style.twelve_hour:
        return f"{moment.hour:02d}:{moment.minute:02d}"
    hour = moment.hour % 12 or 12
    suffix = style.am_pm[moment.hour >= 12]
    return f"{hour}:{moment.minute:02d} {suffix}"


def short_when(at: datetime, timezone: str, country: str) -> str:
    """A booking as a reply to it is labelled: "Tue 3:00 PM" (US), "Tue 15:00" (UK)."""
    return f"{_WEEKDAYS[local(at, timezone).weekday()]} {booking_time(at, timezone, country)}"


@lru_cache(maxsize=1024)
def phone(e164: str, country: str) -> str:
    """A number as the business's country dials it ("(212) 555-0100"); a foreign one in
    international form; as stored when it does not parse."""
    try:
        number = phonenumbers.parse(e164, country.upper())
    except phonenumbers.NumberParseException:
        return e164
    region = phonenumbers.region_code_for_number(number)
    national = region == country.upper()
    kind = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if national
        else (phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    )
    return phonenumbers.format_number(number, kind)

"""Quiet hours (DESIGN.md §2): when an automated, bulk or scheduled text may reach a client.

Pure: from the client's phone, the time zone on their profile (or None), the business's time
zone, whether the business keeps the stricter state windows, and a moment, `verdict` says
whether the text must wait, until when, and how long it may then go. The client is where
their profile says; else wherever their number may be (the `phonenumbers` package's time
zones for it), and a number that spans several zones waits until the window is open in every
one of them; a number with no known zone is taken to be in the business's zone. Windows are
wall-clock times in each zone (zoneinfo), so they follow every DST change as the wall clock
does.

The windows are data: quiet_hours.toml beside this module.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_timezones
from phonenumbers.tzdata import TIMEZONE_LONGEST_PREFIX
from pydantic import BaseModel, ConfigDict, Field, field_validator

WINDOWS_FILE = Path(__file__).with_name("quiet_hours.toml")
UNKNOWN_ZONE = "Etc/Unknown"  # what phonenumbers says for a number it cannot place
# Zones whose windows never overlap (a number spanning the whole Pacific) would search for
# ever: past this, the business's zone alone decides.
SEARCH_DAYS = 8
_WINDOW = r"^(closed|([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d)$"


@dataclass(frozen=True)
class Span:
    """Open from `opens` until just before `closes`, wall-clock times of one day."""

    opens: time
    closes: time


@dataclass(frozen=True)
class Hours:
    """When texts may go, by weekday (Monday first): a span, or None (not that day)."""

    name: str  # "quiet hours", or the state whose law sets them
    days: tuple[Span | None, ...]


@dataclass(frozen=True)
class Verdict:
    """When a text may go: from `goes_at` (UTC; the moment asked about when it may go at
    once, `held` False), when the window is open in every zone of the client's, until
    `open_until` (UTC), when the first of them closes. `zone` is the last zone to open: its
    wall clock says when a held text goes."""

    goes_at: datetime
    held: bool
    zone: str
    open_until: datetime

    def local_goes_at(self) -> datetime:
        return self.goes_at.astimezone(ZoneInfo(self.zone))


class _WindowSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    window: str = Field(pattern=_WINDOW)
    sunday: str | None = Field(default=None, pattern=_WINDOW)
    source: str = Field(pattern=r"^https?://\S+$")

    @field_validator("window", "sunday")
    @classmethod
    def _opens_before_it_closes(cls, value: str | None) -> str | None:
        span = _span(value)
        if span is not None and span.opens >= span.closes:
            raise ValueError(f"{value}: a window opens before it closes")
        return value


class _StateSpec(_WindowSpec):
    name: str
    certainty: Literal["sure", "unsure"]
    note: str
    area_codes: list[int] = Field(min_length=1)


class _WindowsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: _WindowSpec
    states: dict[str, _StateSpec]


@dataclass(frozen=True)
class Windows:
    """The windows as loaded: the default, and the stricter ones by US area code."""

    default: Hours
    by_area_code: dict[int, Hours]


def _span(text: str | None) -> Span | None:
    if text is None or text == "closed":
        return None
    opens, closes = text.split("-")
    return Span(time.fromisoformat(opens), _closing_time(closes))


def _closing_time(text: str) -> time:
    # "24:00" closes at midnight: the last moment of the day.
    return time.max if text == "24:00" else time.fromisoformat(text)


def _hours(name: str, spec: _WindowSpec) -> Hours:
    every_day = _span(spec.window)
    sunday = every_day if spec.sunday is None else _span(spec.sunday)
    return Hours(name, (every_day,) * 6 + (sunday,))


@lru_cache(maxsize=1)
def windows() -> Windows:
    loaded = _WindowsFile.model_validate(tomllib.loads(WINDOWS_FILE.read_text("utf-8")))
    by_area_code: dict[int, Hours] = {}
    for code, state in loaded.states.items():
        hours = _hours(f"{state.name}'s hours ({code})", state)
        for area_code in state.area_codes:
            if area_code in by_area_code:
                raise ValueError(f"quiet_hours.toml: area code {area_code} is in two states")
            by_area_code[area_code] = hours
    return Windows(_hours("quiet hours", loaded.default), by_area_code)


def verdict(
    phone: str,
    client_zone: str | None,
    business_zone: str,
    strict_states: bool,
    at: datetime,
) -> Verdict:
    """When a text to `phone` queued (or due) at `at` may go, and until when it may."""
    hours = hours_for(phone, strict_states)
    zones = (client_zone,) if client_zone else number_zones(phone)
    found = first_open(at, zones or (business_zone,), hours)
    if found is None:  # the number's zones never share an open moment
        found = first_open(at, (business_zone,), hours)
    assert found is not None  # one zone's window opens within the week
    return found


def hours_for(phone: str, strict_states: bool) -> Hours:
    """The window for `phone`: its state's when the business keeps the stricter ones and the
    number's area code is a listed state's, else the default."""
    loaded = windows()
    if strict_states and phone.startswith("+1") and len(phone) == 12 and phone[1:].isdigit():
        return loaded.by_area_code.get(int(phone[2:5]), loaded.default)
    return loaded.default


# The zone data is keyed on at most this many leading digits of a number (country code
# included), so valid numbers that share them share their zones: a bulk send's ten thousand
# numbers cost one lookup per prefix (a lookup, with its parse, costs about 100 µs).
_PREFIX_LENGTH = 1 + TIMEZONE_LONGEST_PREFIX  # with the "+"
_MAX_PREFIXES = 65536
_zones_by_prefix: dict[str, tuple[str, ...]] = {}


def number_zones(phone: str) -> tuple[str, ...]:
    """The time zones `phone` may be in, as phonenumbers knows them; () when unknown."""
    prefix = phone[:_PREFIX_LENGTH]
    known = _zones_by_prefix.get(prefix)
    if known is not None:
        return known
    try:
        parsed = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return ()
    names = number_timezones.time_zones_for_number(parsed)
    zones = tuple(name for name in names if name != UNKNOWN_ZONE and _known_zone(name))
    # Only a valid number speaks for its prefix (an invalid one is answered on its own).
    if phonenumbers.is_valid_number(parsed) and len(_zones_by_prefix) < _MAX_PREFIXES:
        _zones_by_prefix[prefix] = zones
    return zones


@lru_cache(maxsize=1024)
def _known_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=1024)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=4096)
def first_open(at: datetime, zones: tuple[str, ...], hours: Hours) -> Verdict | None:
    """The first moment from `at` when the window is open in every zone, and when it closes
    again; None when there is none within SEARCH_DAYS. Cached: the texts of one batch share
    their moment and mostly their zones.

    Any moment open everywhere is no earlier than each closed zone's next opening, so jumping
    to the latest of those skips nothing; from there every zone is checked again."""
    moment, last_zone = at.astimezone(UTC), zones[0]
    give_up = moment + timedelta(days=SEARCH_DAYS)
    while moment <= give_up:
        spans = {zone: span_from(moment, _zone(zone), hours) for zone in zones}
        opening, zone = max((opens, zone) for zone, (opens, _) in spans.items())
        if opening <= moment:
            closes = min(closes for _, closes in spans.values())
            return Verdict(moment, moment > at, last_zone, closes)
        moment, last_zone = opening, zone
    return None


def span_from(moment: datetime, zone: ZoneInfo, hours: Hours) -> tuple[datetime, datetime]:
    """The window in `zone` that is open at `moment` (UTC), else the next one: when it opens
    and closes (UTC). A wall-clock time that a spring-forward skips is read with the offset
    before the change (PEP 495's fold=0); no window in the file opens or closes in such a
    gap."""
    today = moment.astimezone(zone).date()
    for day in (today + timedelta(days=n) for n in range(8)):
        span = hours.days[day.weekday()]
        if span is None:
            continue
        closes = _at(day, span.closes, zone)
        if moment < closes:
            return _at(day, span.opens, zone), closes
    raise ValueError(f"{hours.name}: no day of the week is open")


def _at(day: date, wall: time, zone: ZoneInfo) -> datetime:
    if wall == time.max:  # "24:00": the next midnight
        return datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
    return datetime.combine(day, wall, zone).astimezone(UTC)

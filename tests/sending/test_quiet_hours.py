"""Quiet hours, the pure rule: when a text may reach a client, by their wall clock, across
zones and DST changes (fixed moments, no clock)."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import geocoder

from messagecenter.sending.quiet_hours import (
    WINDOWS_FILE,
    Hours,
    Span,
    first_open,
    hours_for,
    number_zones,
    verdict,
    windows,
)

NEW_YORK_CELL = "+12125550142"  # Manhattan: America/New_York
MIAMI_CELL = "+13055550142"  # Florida
DALLAS_CELL = "+12145550142"  # Texas
UNPLACED = "+15555550142"  # 555 numbers are fictional: phonenumbers knows no zone
BUSINESS_ZONE = "America/Chicago"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def wall(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone)).astimezone(UTC)  # type: ignore[misc]


def test_a_text_in_the_evening_waits_for_eight_the_next_morning_client_time() -> None:
    at = wall("America/New_York", 2026, 11, 16, 21, 30)
    found = verdict(NEW_YORK_CELL, None, BUSINESS_ZONE, False, at)
    assert found.held and found.zone == "America/New_York"
    assert found.goes_at == wall("America/New_York", 2026, 11, 17, 8, 0)
    assert found.local_goes_at().strftime("%H:%M") == "08:00"
    assert found.open_until == wall("America/New_York", 2026, 11, 17, 21, 0)


@pytest.mark.parametrize(
    ("hour", "minute", "held"),
    [(7, 59, True), (8, 0, False), (20, 59, False), (21, 0, True), (0, 0, True)],
)
def test_the_window_is_open_from_08_00_until_just_before_21_00(
    hour: int, minute: int, held: bool
) -> None:
    at = wall("America/New_York", 2026, 11, 16, hour, minute)
    assert verdict(NEW_YORK_CELL, None, BUSINESS_ZONE, False, at).held is held


def test_a_text_that_may_go_now_goes_at_once_and_keeps_when_its_window_closes() -> None:
    at = wall("America/New_York", 2026, 11, 16, 20, 59)
    found = verdict(NEW_YORK_CELL, None, BUSINESS_ZONE, False, at)
    assert not found.held and found.goes_at == at
    assert found.open_until == wall("America/New_York", 2026, 11, 16, 21, 0)


def test_the_profile_zone_wins_over_the_number() -> None:
    # 22:00 in New York is 19:00 in Los Angeles: a client who lives there may be texted.
    at = wall("America/New_York", 2026, 11, 16, 22, 0)
    assert verdict(NEW_YORK_CELL, None, BUSINESS_ZONE, False, at).held
    assert not verdict(NEW_YORK_CELL, "America/Los_Angeles", BUSINESS_ZONE, False, at).held


def test_a_number_with_no_known_zone_follows_the_business_zone() -> None:
    assert number_zones(UNPLACED) == ()
    at = wall(BUSINESS_ZONE, 2026, 11, 16, 7, 0)  # 08:00 in New York, 07:00 in Chicago
    found = verdict(UNPLACED, None, BUSINESS_ZONE, False, at)
    assert found.held and found.zone == BUSINESS_ZONE
    assert found.goes_at == wall(BUSINESS_ZONE, 2026, 11, 16, 8, 0)


def test_zones_come_from_the_number() -> None:
    assert number_zones(NEW_YORK_CELL) == ("America/New_York",)
    assert number_zones("+447700900000") == ()  # Ofcom's drama range: no real number


def test_several_zones_wait_until_the_window_is_open_in_all_of_them() -> None:
    # 07:00 in Los Angeles is 10:00 in New York: the text waits for 08:00 in Los Angeles,
    # and may go until 21:00 in New York, where the window closes first.
    at = wall("America/Los_Angeles", 2026, 11, 16, 7, 0)
    found = first_open(at, ("America/New_York", "America/Los_Angeles"), windows().default)
    assert found is not None and found.held and found.zone == "America/Los_Angeles"
    assert found.goes_at == wall("America/Los_Angeles", 2026, 11, 16, 8, 0)
    assert found.open_until == wall("America/New_York", 2026, 11, 16, 21, 0)


def test_an_australian_mobile_waits_for_every_australian_zone() -> None:
    zones = number_zones("+61412345678")
    assert {"Australia/Sydney", "Australia/Perth"} <= set(zones)
    # 08:30 in Sydney is 05:30 in Perth (both in November): held for Perth and the rest.
    at = wall("Australia/Sydney", 2026, 11, 16, 8, 30)
    found = verdict("+61412345678", None, BUSINESS_ZONE, False, at)
    assert found.held
    for zone in zones:
        local = found.goes_at.astimezone(ZoneInfo(zone)).time()
        assert time(8) <= local < time(21), zone


def test_zones_that_never_share_an_open_moment_fall_back_to_the_business_zone() -> None:
    twelve_hours = Hours("test", (Span(time(8), time(20)),) * 7)
    at = utc(2026, 11, 16, 12, 0)
    assert first_open(at, ("Etc/GMT+6", "Etc/GMT-6"), twelve_hours) is None


# --- DST: the window follows the wall clock -----------------------------------------------


def test_us_spring_forward_night_opens_at_eight_daylight_time() -> None:
    # 8 March 2026, 02:00 EST becomes 03:00 EDT: 08:00 that morning is 12:00 UTC, not 13:00.
    at = wall("America/New_York", 2026, 3, 8, 1, 30)
    found = verdict(NEW_YORK_CELL, None, BUSINESS_ZONE, False, at)
    assert found.goes_at == utc(2026, 3, 8, 12, 0)
    assert found.local_goes_at().strftime("%H:%M %Z") == "08:00 EDT"
    assert found.open_until == utc(2026, 3, 9, 1, 0)  # 21:00 EDT


def test_us_fall_back_night_opens_at_eight_standard_time() -> None:
    # 1 November 2026, 02:00 EDT becomes 01:00 EST: a text during the repeated hour waits
    # until 08:00 EST, 13:00 UTC.
    at = utc(2026, 11, 1, 6, 30)  # 01:30 EST, the second 01:30 of the night
    found = verdict(NEW_YORK_CELL, None, BUSINESS_ZONE, False, at)
    assert found.goes_at == utc(2026, 11, 1, 13, 0)
    assert found.local_goes_at().strftime("%H:%M %Z") == "08:00 EST"


def test_the_evening_before_spring_forward_closes_at_21_00_standard_time() -> None:
    found = verdict(NEW_YORK_CELL, None, BUSINESS_ZONE, False, utc(2026, 3, 7, 20, 0))
    assert not found.held and found.open_until == utc(2026, 3, 8, 2, 0)  # 21:00 EST


def test_london_after_the_clocks_go_back() -> None:
    # 25 October 2026: BST ends at 02:00. 07:30 GMT is before the window; it opens 08:00 GMT.
    at = utc(2026, 10, 25, 7, 30)
    found = verdict("+447911123456", None, BUSINESS_ZONE, False, at)
    assert found.zone == "Europe/London" and found.goes_at == utc(2026, 10, 25, 8, 0)
    # The day before, 08:00 BST was 07:00 UTC.
    before = verdict("+447911123456", None, BUSINESS_ZONE, False, utc(2026, 10, 24, 6, 30))
    assert before.goes_at == utc(2026, 10, 24, 7, 0)


def test_sydney_on_its_spring_forward_day() -> None:
    # 4 October 2026: AEST (+10) becomes AEDT (+11) at 02:00. A text at 22:00 AEST on the 3rd
    # waits for 08:00 AEDT on the 4th: 21:00 UTC on the 3rd.
    at = wall("Australia/Sydney", 2026, 10, 3, 22, 0)
    found = verdict("+61412345678", "Australia/Sydney", BUSINESS_ZONE, False, at)
    assert found.goes_at == utc(2026, 10, 3, 21, 0)
    assert found.local_goes_at().strftime("%H:%M %Z") == "08:00 AEDT"


# --- stricter state windows ---------------------------------------------------------------


def test_florida_closes_at_20_00_when_the_business_keeps_state_hours() -> None:
    at = wall("America/New_York", 2026, 11, 16, 20, 30)
    assert not verdict(MIAMI_CELL, None, BUSINESS_ZONE, False, at).held
    found = verdict(MIAMI_CELL, None, BUSINESS_ZONE, True, at)
    assert found.held and found.goes_at == wall("America/New_York", 2026, 11, 17, 8, 0)
    assert hours_for(MIAMI_CELL, True).name.startswith("Florida")
    assert hours_for(NEW_YORK_CELL, True) == windows().default  # New York has no stricter rule


def test_texas_opens_at_noon_on_sunday() -> None:
    sunday = wall("America/Chicago", 2026, 11, 15, 10, 0)  # 15 November 2026 is a Sunday
    found = verdict(DALLAS_CELL, None, BUSINESS_ZONE, True, sunday)
    assert found.goes_at == wall("America/Chicago", 2026, 11, 15, 12, 0)
    monday = wall("America/Chicago", 2026, 11, 16, 8, 30)
    assert verdict(DALLAS_CELL, None, BUSINESS_ZONE, True, monday).goes_at == wall(
        "America/Chicago", 2026, 11, 16, 9, 0
    )


def test_a_state_closed_on_sunday_waits_until_monday() -> None:
    saturday_night = wall("America/Chicago", 2026, 11, 14, 20, 30)
    found = verdict("+12055550142", None, BUSINESS_ZONE, True, saturday_night)  # Alabama
    assert found.goes_at == wall("America/Chicago", 2026, 11, 16, 8, 0)


def test_every_state_area_code_is_in_that_state_by_the_phonenumbers_geocoder() -> None:
    states = tomllib.loads(WINDOWS_FILE.read_text("utf-8"))["states"]
    for code, state in states.items():
        assert state["source"].startswith("https://") and state["certainty"] in ("sure", "unsure")
        for area_code in state["area_codes"]:
            place = geocoder.description_for_valid_number(
                phonenumbers.parse(f"+1{area_code}2345678"), "en"
            )
            assert state["name"] in place or place.endswith(f", {code}"), (area_code, place)


def test_valid_numbers_sharing_the_zone_datas_prefix_are_looked_up_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bulk send's numbers mostly share their leading digits: one lookup answers them all."""
    from messagecenter.sending import quiet_hours

    looked_up: list[object] = []
    real = quiet_hours.number_timezones.time_zones_for_number

    def counting(number: object) -> object:
        looked_up.append(number)
        return real(number)  # type: ignore[arg-type]

    monkeypatch.setattr(quiet_hours.number_timezones, "time_zones_for_number", counting)
    monkeypatch.setattr(quiet_hours, "_zones_by_prefix", {})
    for last in ("0142", "0143", "0199"):
        assert number_zones("+121255" + "5" + last) == ("America/New_York",)
    assert number_zones("+13105550142") == ("America/Los_Angeles",)
    assert len(looked_up) == 2  # one per prefix
    # An invalid number is answered on its own and speaks for no prefix.
    assert number_zones(UNPLACED) == ()
    assert number_zones(UNPLACED) == ()
    assert len(looked_up) == 4

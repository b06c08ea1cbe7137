"""Times and phone numbers as the staff pages write them: the business's zone and country
(Babel's English of that country; `phonenumbers`' national form), E.164 kept in the tooltip."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from messagecenter.http import readable

# 19:05:09 UTC on 30 November 2026: 14:05 in New York, 19:05 in London, 06:05 next day in Sydney.
AT = datetime(2026, 11, 30, 19, 5, 9, tzinfo=UTC)
NNBSP = "\u202f"  # CLDR puts a narrow no-break space before AM/PM


@pytest.mark.parametrize(
    ("timezone", "country", "when", "short", "day", "time"),
    [
        ("America/New_York", "US", f"Nov 30, 2026, 2:05{NNBSP}PM", f"Nov 30, 2:05{NNBSP}PM",
         "Nov 30, 2026", f"2:05{NNBSP}PM"),
        ("Europe/London", "GB", "30 Nov 2026, 19:05", "30 Nov, 19:05", "30 Nov 2026", "19:05"),
        ("America/Toronto", "CA", f"Nov 30, 2026, 2:05{NNBSP}p.m.", f"Nov 30, 2:05{NNBSP}p.m.",
         "Nov 30, 2026", f"2:05{NNBSP}p.m."),
        ("Australia/Sydney", "AU", f"1 Dec 2026, 6:05{NNBSP}am", f"1 Dec, 6:05{NNBSP}am",
         "1 Dec 2026", f"6:05{NNBSP}am"),
        ("Europe/Dublin", "IE", "30 Nov 2026, 19:05", "30 Nov, 19:05", "30 Nov 2026", "19:05"),
    ],
)  # fmt: skip
def test_a_moment_reads_in_the_business_zone_the_way_its_country_writes_it(
    timezone: str, country: str, when: str, short: str, day: str, time: str
) -> None:
    assert readable.when(AT, timezone, country) == when
    assert readable.when_short(AT, timezone, country) == short
    assert readable.day(AT, timezone, country) == day
    assert readable.time_of_day(AT, timezone, country) == time


def test_a_log_time_keeps_its_seconds_and_a_date_is_not_moved_between_zones() -> None:
    assert readable.when(AT, "Europe/London", "GB", seconds=True) == "30 Nov 2026, 19:05:09"
    assert readable.when(AT, "America/New_York", "US", seconds=True).endswith(f"2:05:09{NNBSP}PM")
    # A billing period's day is already a day in the business's zone.
    assert readable.day(date(2026, 12, 1), "Pacific/Honolulu", "US") == "Dec 1, 2026"
    assert readable.day(date(2026, 12, 1), "Europe/London", "GB", year=False) == "1 Dec"
    # A time read back without its zone is UTC, as stored.
    assert readable.when(AT.replace(tzinfo=None), "Europe/London", "GB") == "30 Nov 2026, 19:05"


@pytest.mark.parametrize(
    ("e164", "country", "shown"),
    [
        ("+12125550142", "US", "(212) 555-0142"),
        ("+447400123456", "GB", "07400 123456"),
        ("+61412345678", "AU", "0412 345 678"),
        ("+447400123456", "US", "+44 7400 123456"),  # a foreign number: international form
        ("+12125550142", "GB", "+1 212-555-0142"),
        ("not a number", "US", "not a number"),  # as stored when it does not parse
    ],
)
def test_a_number_reads_in_the_business_countrys_national_form(
    e164: str, country: str, shown: str
) -> None:
    assert readable.phone_text(e164, country) == shown
    assert readable.phone_markup(e164, country) == (
        f'<span class="phone" title="{e164}">{shown}</span>'
    )


@pytest.mark.parametrize(
    ("found", "marked"),
    [
        ("555 0142", "(212) <mark>555-0142</mark>"),  # its digits, however typed
        ("2125550142", "(<mark>212) 555-0142</mark>"),
        ("+1 212 555 0142", "<mark>(212) 555-0142</mark>"),  # only the E.164 form has the 1
        ("(212)", "(<mark>212</mark>) 555-0142"),
        ("maria", "(212) 555-0142"),  # a name search marks nothing in a number
    ],
)
def test_a_searched_number_marks_what_was_searched_for(found: str, marked: str) -> None:
    assert readable.phone_markup("+12125550142", "US", found) == (
        f'<span class="phone" title="+12125550142">{marked}</span>'
    )


def test_a_search_is_escaped_in_the_number_it_marks() -> None:
    shown = readable.phone_markup("<b>", "US", "<b>")
    assert "<b>" not in shown and "<mark>&lt;b&gt;</mark>" in shown

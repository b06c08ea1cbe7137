"""Reading what was typed into a search: text, and the phone number it may be."""

from __future__ import annotations

import pytest

from messagecenter.conversations.search import match_spans, read_query


@pytest.mark.parametrize(
    ("typed", "country", "digits"),
    [
        ("(212) 555-0142", "US", "12125550142"),  # a whole number: its E.164 digits
        ("+1 212 555 0142", "US", "12125550142"),
        ("0142", "US", "0142"),  # the last digits, as typed
        ("07400 123456", "GB", "447400123456"),  # a trunk prefix: the whole E.164 number
        ("0412 345 678", "AU", "61412345678"),
        ("massage", "US", None),
        ("12", "US", None),  # too few digits to be worth matching
    ],
)
def test_a_phone_is_read_in_the_businesss_country(
    typed: str, country: str, digits: str | None
) -> None:
    search = read_query(typed, country)
    assert search is not None and search.phone_digits == digits


def test_text_is_trimmed_and_too_short_text_is_not_looked_for_in_messages() -> None:
    assert read_query("   ", "US") is None
    search = read_query("  hot   stone ", "US")
    assert search is not None and search.text == search.body_text == "hot stone"
    short = read_query("ok", "US")
    assert short is not None and short.body_text is None and short.text == "ok"


def test_match_spans_find_every_occurrence_in_any_case() -> None:
    assert match_spans("Massage? a MASSAGE, massages", "massage") == [(0, 7), (11, 18), (20, 27)]
    assert match_spans("100% sure", "%") == [(3, 4)]  # what is typed is literal text
    assert match_spans("nothing", "zebra") == []

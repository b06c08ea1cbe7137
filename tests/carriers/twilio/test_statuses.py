"""Twilio's status words, mapped to ours by the adapter (nothing outside carriers/ knows them)."""

from __future__ import annotations

import pytest

from messagecenter.carriers.twilio.statuses import our_status
from messagecenter.sending import status


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("accepted", status.QUEUED),
        ("scheduled", status.QUEUED),
        ("queued", status.QUEUED),
        ("sending", status.QUEUED),
        ("sent", status.SENT),
        ("delivered", status.DELIVERED),
        ("read", status.READ),
        ("undelivered", status.UNDELIVERED),
        ("failed", status.FAILED),
        ("canceled", status.CANCELED),
        ("received", status.RECEIVED),
    ],
)
def test_maps_twilio_words(word: str, expected: str) -> None:
    assert our_status(word) == expected


def test_ignores_case_and_spaces() -> None:
    assert our_status("  Delivered\n") == status.DELIVERED
    assert our_status("SENDING") == status.QUEUED


@pytest.mark.parametrize("word", ["", "bogus", "deliverd", "queued!", "sent sent"])
def test_refuses_unknown_words(word: str) -> None:
    assert our_status(word) is None

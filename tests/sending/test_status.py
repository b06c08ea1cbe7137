"""The status ladder (DESIGN.md §2 "Message status"): forward only, the first final status
stands, read ranks above delivered."""

from __future__ import annotations

from functools import reduce
from itertools import product

import pytest

from messagecenter.carriers.twilio.statuses import our_status
from messagecenter.sending import status
from messagecenter.sending.status import can_advance

# Every move the ladder allows; any other pair of outbound statuses is refused.
ALLOWED = {
    (status.QUEUED, status.SENT),
    (status.QUEUED, status.DELIVERED),
    (status.QUEUED, status.READ),
    (status.QUEUED, status.UNDELIVERED),
    (status.QUEUED, status.FAILED),
    (status.QUEUED, status.CANCELED),
    (status.SENT, status.DELIVERED),
    (status.SENT, status.READ),
    (status.SENT, status.UNDELIVERED),
    (status.SENT, status.FAILED),
    (status.SENT, status.CANCELED),
    (status.DELIVERED, status.READ),
}


@pytest.mark.parametrize(
    ("current", "new"), list(product(status.OUTBOUND_STATUSES, status.OUTBOUND_STATUSES))
)
def test_can_advance_table(current: str, new: str) -> None:
    assert can_advance(current, new) is ((current, new) in ALLOWED)


@pytest.mark.parametrize(
    ("current", "new"),
    [
        (status.QUEUED, "bogus"),
        ("bogus", status.SENT),
        ("bogus", "bogus"),
        (status.QUEUED, ""),
        # An inbound word is not on the outbound ladder.
        (status.QUEUED, status.RECEIVED),
        (status.SENT, status.RECEIVED),
        (status.RECEIVED, status.DELIVERED),
        # Carrier words must be mapped first: "sending" is not one of our statuses.
        (status.QUEUED, "sending"),
    ],
)
def test_can_advance_refuses_unknown_words(current: str, new: str) -> None:
    assert can_advance(current, new) is False


def test_no_status_moves_down_or_sideways() -> None:
    ranks = {
        status.QUEUED: 0,
        status.SENT: 1,
        status.DELIVERED: 2,
        status.UNDELIVERED: 2,
        status.FAILED: 2,
        status.CANCELED: 2,
        status.READ: 3,
    }
    for current, new in product(ranks, ranks):
        if ranks[new] <= ranks[current]:
            assert not can_advance(current, new), (current, new)


def test_every_final_status_is_final() -> None:
    assert {
        status.DELIVERED,
        status.READ,
        status.UNDELIVERED,
        status.FAILED,
        status.CANCELED,
    } == status.FINAL_STATUSES
    for final in status.FINAL_STATUSES - {status.DELIVERED}:
        assert not any(can_advance(final, new) for new in status.OUTBOUND_STATUSES), final


def _fold(words: list[str], start: str = status.QUEUED) -> str:
    """The status after applying carrier reports in arrival order, as record_status does."""

    def step(current: str, word: str) -> str:
        new = our_status(word)  # as the Twilio adapter reports it
        return new if new is not None and can_advance(current, new) else current

    return reduce(step, words, start)


@pytest.mark.parametrize(
    ("arrivals", "final"),
    [
        (["queued", "sending", "sent", "delivered"], status.DELIVERED),
        (["delivered", "sent"], status.DELIVERED),
        (["delivered", "sent", "queued", "sending"], status.DELIVERED),
        (["sent", "delivered", "failed"], status.DELIVERED),
        (["sent", "undelivered", "delivered"], status.UNDELIVERED),
        (["undelivered", "read"], status.UNDELIVERED),
        (["failed", "delivered", "read"], status.FAILED),
        (["delivered", "read", "undelivered"], status.READ),
        (["read", "delivered"], status.READ),
        (["sent", "sent", "sent"], status.SENT),
        (["accepted", "scheduled", "canceled", "sent"], status.CANCELED),
        (["sent", "bogus"], status.SENT),
    ],
)
def test_reordered_reports_settle_on_the_first_final_status(
    arrivals: list[str], final: str
) -> None:
    assert _fold(arrivals) == final

"""Pacing: each number sends at most its rate, whatever number of processes dispatch.

A number's rate r (messages a second, numbers/rates.py) cuts each second of the clock into r
send slots. The claim that takes a number's messages locks the number's pacing row, gives
each message the next free slot in the order claimed (replies and transactional texts before
bulk traffic), and takes only what goes within HORIZON; the rest stays queued for a later
claim. The dispatcher calls the carrier no sooner than the slot starts and never once the
slot's second has ended (then the message goes back to the queue for a later slot), so no
second of the clock holds more than r calls from one number, across every process sharing
the database (their clocks agreeing, as on one machine or under NTP).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from messagecenter.numbers.rates import send_rate
from messagecenter.sending import queries

# How far ahead a claim gives out a number's slots: a paced message is held at most this
# long before its call, and a text queued behind a bulk send waits no more than this for
# its number to be free for it.
HORIZON = timedelta(seconds=1)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_SECOND_US = 1_000_000


@dataclass(frozen=True)
class Slot:
    """When one message may go: from `starts`, and before `ends`, the end of the clock second
    whose count it is in."""

    starts: datetime
    ends: datetime


def give_slots(session: Session, due: Sequence[tuple[int, str]], at: datetime) -> dict[int, Slot]:
    """Send slots for the claimed messages (id, from phone), in the order given, each its
    number's next free one; a message whose slot would start HORIZON or more after `at` gets
    none (not claimed now). Locks the numbers' pacing rows until the claim commits."""
    phones = {phone for _, phone in due}
    numbers = queries.lock_pacing(session, phones)
    if len(numbers) < len(phones):  # a number's first claim
        queries.add_pacing(session, phones - numbers.keys(), at)
        numbers = queries.lock_pacing(session, phones)
    full_from = at + HORIZON
    next_free: dict[str, datetime] = {}
    slots: dict[int, Slot] = {}
    for message_id, phone in due:
        number = numbers[phone]
        rate = send_rate(number.send_rate, phone, number.country)
        free = next_free.get(phone) or max(number.next_slot_at, at)
        slot, after = slot_from(free, rate)
        if slot.starts >= full_from:
            continue
        slots[message_id] = slot
        next_free[phone] = after
    queries.set_next_slots(session, next_free)
    return slots


def slot_from(free: datetime, rate: int) -> tuple[Slot, datetime]:
    """The first slot of a `rate`-a-second number starting at or after `free`, and when the
    one after it starts. Slot k of second S starts k/rate into it, to the microsecond below:
    a second's `rate` slots fill it exactly, whatever came before."""
    at_us = (free - _EPOCH) // _MICROSECOND
    second, into = divmod(at_us, _SECOND_US)
    index = -(-into * rate // _SECOND_US)  # the first slot starting at or after `into`
    if index >= rate:
        second, index = second + 1, 0
    base = second * _SECOND_US
    starts = base + index * _SECOND_US // rate
    after = base + (index + 1) * _SECOND_US // rate
    return Slot(_moment(starts), _moment(base + _SECOND_US)), _moment(after)


def _moment(us: int) -> datetime:
    return _EPOCH + us * _MICROSECOND

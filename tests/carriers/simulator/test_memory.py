"""The simulator's memory of sent messages: kept for its lookup window, less once settled, and
small per message (a server that sends millions keeps a few minutes' worth)."""

from __future__ import annotations

import tracemalloc
import uuid
from datetime import timedelta

from messagecenter.carriers.simulator.memory import SentMemory
from tests.conftest import START

WINDOW = timedelta(minutes=11)
AFTER_FINAL = timedelta(minutes=1)


def test_a_sid_is_kept_for_the_window_after_it_was_added() -> None:
    memory = SentMemory(WINDOW, AFTER_FINAL)
    sid = "SM" + uuid.uuid4().hex
    memory.add(7, sid, START)
    memory.forget_due(START + WINDOW - timedelta(microseconds=1))
    assert memory.sid(7) == sid
    memory.forget_due(START + WINDOW)
    assert (memory.sid(7), len(memory)) == (None, 0)


def test_a_settled_sid_is_kept_after_final_and_no_longer() -> None:
    memory = SentMemory(WINDOW, AFTER_FINAL)
    memory.add(1, "SM" + "a" * 32, START)
    memory.add(2, "SM" + "b" * 32, START)
    memory.settled(1, START)
    memory.settled(99, START)  # never sent (or already forgotten): nothing to do
    memory.forget_due(START + AFTER_FINAL - timedelta(microseconds=1))
    assert len(memory) == 2
    memory.forget_due(START + AFTER_FINAL)
    assert (memory.sid(1), memory.sid(2)) == (None, "SM" + "b" * 32)


def test_deadlines_round_up_to_the_second_never_down() -> None:
    memory = SentMemory(WINDOW, AFTER_FINAL)
    added = START + timedelta(milliseconds=300)
    memory.add(1, "SM" + "c" * 32, added)
    memory.forget_due(added + WINDOW)
    assert memory.sid(1) is not None
    memory.forget_due(START + WINDOW + timedelta(seconds=1))
    assert memory.sid(1) is None


def test_a_sid_costs_well_under_two_hundred_bytes() -> None:
    """Eleven minutes at 1,000 messages a second (660,000 sids, the worst case: no final
    report recorded) must fit a server's 200 MB with room to spare."""
    sids = ["SM" + uuid.uuid4().hex for _ in range(10_000)]
    memory = SentMemory(WINDOW, AFTER_FINAL)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n, sid in enumerate(sids):
            memory.add(100_000 + n, sid, START + timedelta(milliseconds=n))
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert used / len(sids) < 200
    assert memory.sid(100_000) == sids[0]

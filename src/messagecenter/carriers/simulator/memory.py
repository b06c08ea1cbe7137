"""What the simulated carrier remembers of the messages it took: their sids, for a while.

Our dispatcher asks the carrier about a message (`find_sent`) only while its outcome is
unknown: from its send until it gives up on it (MESSAGECENTER_GIVE_UP_AFTER_SECONDS), and never
once a final status report was recorded (the report settles it). So a sid is kept for that
lookup window after its send, and only `after_final` once its final report was recorded (a
lookup already under way when it was still has its answer). A process that sends millions of
messages keeps a few minutes' worth, about 140 bytes each: the sid as a number, the id, and
its place in the queue of what to forget when.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta


class SentMemory:
    """Our message id -> the carrier sid given to it, until its time to be forgotten."""

    def __init__(self, lookup_window: timedelta, after_final: timedelta) -> None:
        self._lookup_window = lookup_window
        self._after_final = after_final
        self._sids: dict[int, int] = {}  # the sid's 128 bits, a third of its text's size
        # Ids to forget, by deadline: one for the lookup window, one for settled messages,
        # each filled in time order. Whole-second buckets share a deadline among many ids.
        self._unsettled: deque[tuple[datetime, list[int]]] = deque()
        self._settled: deque[tuple[datetime, list[int]]] = deque()

    def __len__(self) -> int:
        return len(self._sids)

    def add(self, message_id: int, sid: str, at: datetime) -> None:
        self._sids[message_id] = int(sid[2:], 16)
        _push(self._unsettled, at + self._lookup_window, message_id)

    def sid(self, message_id: int) -> str | None:
        number = self._sids.get(message_id)
        return None if number is None else f"SM{number:032x}"

    def settled(self, message_id: int, at: datetime) -> None:
        """Its final report was recorded: no lookup will be due for it."""
        if message_id in self._sids:
            _push(self._settled, at + self._after_final, message_id)

    def forget_due(self, now: datetime) -> None:
        """Forget what may no longer be asked about at `now`. (An id sent again after it was
        forgotten may be forgotten at the first send's deadline: only a message that was
        settled or given up is, which is never sent again.)"""
        for queue in (self._unsettled, self._settled):
            while queue and queue[0][0] <= now:
                for message_id in queue.popleft()[1]:
                    self._sids.pop(message_id, None)


def _push(queue: deque[tuple[datetime, list[int]]], deadline: datetime, message_id: int) -> None:
    # Rounded up to the second, so never forgotten early; a clock set back files it late.
    rounded = deadline.replace(microsecond=0) + timedelta(
        seconds=math.ceil(deadline.microsecond / 1_000_000)
    )
    if queue and queue[-1][0] >= rounded:
        queue[-1][1].append(message_id)
    else:
        queue.append((rounded, [message_id]))

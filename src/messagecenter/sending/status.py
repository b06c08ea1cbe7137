"""The forward-only ladder of message statuses (after RapidPro's temba/msgs/models.py).

A status never moves down the ladder, and the first final status stands. The words are
messagecenter.models.status (carriers map to them without knowing sending); they are
re-exported here, so sending's code reads the words and the ladder from one place.
"""

from __future__ import annotations

from typing import Final

from messagecenter.models.status import (
    CANCELED,
    DELIVERED,
    FAILED,
    FINAL_STATUSES,
    OUTBOUND_STATUSES,
    QUEUED,
    READ,
    RECEIVED,
    SENT,
    UNDELIVERED,
)

__all__ = [
    "CANCELED",
    "DELIVERED",
    "FAILED",
    "FINAL_STATUSES",
    "OUTBOUND_STATUSES",
    "QUEUED",
    "READ",
    "RECEIVED",
    "SENT",
    "UNDELIVERED",
    "can_advance",
]

_RANK: Final = {
    QUEUED: 0,
    SENT: 1,
    DELIVERED: 2,
    UNDELIVERED: 2,
    FAILED: 2,
    CANCELED: 2,
    READ: 3,
}


def can_advance(current: str, new: str) -> bool:
    """True when `new` moves a message forward from `current`.

    Only `read` may follow a final status, and only after `delivered`: the first final
    status otherwise stands, so `failed` after `delivered` changes nothing.
    """
    if current == new or new not in _RANK or current not in _RANK:
        return False
    if current in FINAL_STATUSES:
        return current == DELIVERED and new == READ
    return _RANK[new] > _RANK[current]

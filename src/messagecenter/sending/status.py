"""Message statuses and the forward-only ladder (after RapidPro's temba/msgs/models.py).

A status never moves down the ladder, and the first final status stands.
"""

from __future__ import annotations

from typing import Final

QUEUED: Final = "queued"  # in our outbox or at the carrier, not yet handed to the network
SENT: Final = "sent"  # handed to the network
DELIVERED: Final = "delivered"  # the handset confirmed it
READ: Final = "read"  # the client opened it (channels that report it); above delivered
UNDELIVERED: Final = "undelivered"  # the network could not deliver it
FAILED: Final = "failed"  # the carrier could not send it at all
CANCELED: Final = "canceled"  # a scheduled message was canceled before sending
RECEIVED: Final = "received"  # an inbound message from a client

OUTBOUND_STATUSES: Final = (QUEUED, SENT, DELIVERED, READ, UNDELIVERED, FAILED, CANCELED)
FINAL_STATUSES: Final = frozenset({DELIVERED, READ, UNDELIVERED, FAILED, CANCELED})

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

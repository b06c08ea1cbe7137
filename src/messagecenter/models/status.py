"""A message's status words (after RapidPro's temba/msgs/models.py): stored on the message, and
the words every carrier adapter maps its own to. How they may follow each other (the
forward-only ladder) is sending's rule: messagecenter.sending.status."""

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

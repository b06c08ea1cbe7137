"""Twilio's message status words, mapped to ours (messagecenter.models.status)."""

from __future__ import annotations

from typing import Final

from messagecenter.models import status

# Twilio's words for the steps before "sent" all mean "still queued" to us.
_STATUS: Final = {
    "accepted": status.QUEUED,
    "scheduled": status.QUEUED,
    "queued": status.QUEUED,
    "sending": status.QUEUED,
    "sent": status.SENT,
    "delivered": status.DELIVERED,
    "read": status.READ,
    "undelivered": status.UNDELIVERED,
    "failed": status.FAILED,
    "canceled": status.CANCELED,
    "received": status.RECEIVED,
}


def our_status(twilio_status: str) -> str | None:
    """Our status for a Twilio status word, or None when the word is unknown."""
    return _STATUS.get(twilio_status.strip().lower())

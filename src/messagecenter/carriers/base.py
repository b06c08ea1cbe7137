"""The carrier interface: everything the app needs from Twilio or the simulator.

One module per carrier implements it (like RapidPro's channel types or polar's tax
calculation providers). Failures are classified by what they prove about the message, because
that decides whether sending again is safe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol

# Carriers report in our own status words (models.status): each adapter maps its own to them.
from messagecenter.models import status as _status


@dataclass(frozen=True)
class OutboundSms:
    message_id: int  # our id: it travels in the status-callback URL
    from_phone: str
    to_phone: str
    body: str
    media_urls: list[str] = field(default_factory=list)
    status_callback_url: str | None = None


@dataclass(frozen=True)
class CarrierAccepted:
    carrier_sid: str
    status: str | None = _status.QUEUED  # ours (models.status), mapped from the carrier's word


class RecipientProblem(Enum):
    """What a carrier's error proves about the recipient's phone, beyond this message."""

    UNSUBSCRIBED = "unsubscribed"  # texted STOP: the carrier refuses every message to them
    CANNOT_RECEIVE = "cannot_receive"  # not a valid number, a landline, or takes no texts


@dataclass(frozen=True)
class CarrierFailure:
    """A carrier's error code, explained by that carrier."""

    code: int  # the carrier's own code, kept on the message as it came
    reason: str  # in words a salon owner understands
    recipient: RecipientProblem | None = None


@dataclass(frozen=True)
class InboundSms:
    """A text from a client's phone, as the carrier reports it."""

    carrier_sid: str
    from_phone: str
    to_phone: str
    body: str
    media_urls: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StatusReport:
    """A delivery status report for one of our messages, mapped by its carrier."""

    carrier_sid: str
    status: str | None  # ours (models.status); None for a word that maps to none of ours
    message_id: int | None = None  # our id, when the callback URL carried it
    failure: CarrierFailure | None = None
    payload: dict[str, str] = field(default_factory=dict)
    carrier_word: str | None = None  # the carrier's own word, kept in the status history

    @property
    def word(self) -> str:
        """The word the status history keeps (one entry per message and word)."""
        return (self.carrier_word or self.status or "").strip().lower()

    @property
    def error_code(self) -> int | None:
        return self.failure.code if self.failure is not None else None


@dataclass(frozen=True)
class AvailableNumber:
    phone_number: str  # E.164
    country: str
    locality: str | None = None


class CarrierError(Exception):
    def __init__(
        self, message: str, *, code: int | None = None, failure: CarrierFailure | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.failure = failure
        self.code = failure.code if failure is not None else code


class CarrierRetryLater(CarrierError):
    """The carrier certainly did not take the message (HTTP 429 / 20429, queue full 21611,
    a connection that never reached it): sending again later is safe."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        failure: CarrierFailure | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, failure=failure)
        self.retry_after = retry_after


class CarrierRejected(CarrierError):
    """The carrier refused the message before accepting it: it will never be sent. Its
    `failure` says why, and what that proves about the recipient."""


class CarrierAmbiguous(CarrierError):
    """The carrier may or may not have taken the message (timeout, 5xx, broken connection
    after the request went out). Settled by our id, never by sending again."""


class Carrier(Protocol):
    name: str

    def send(self, sms: OutboundSms) -> CarrierAccepted:
        """Hand one message to the carrier. Raises a CarrierError subclass on failure."""
        ...

    def find_sent(self, sms: OutboundSms, attempted_at: datetime) -> list[CarrierAccepted]:
        """Every message the carrier holds that may be this one, which we handed over at
        `attempted_at`, best match first; empty only when the carrier certainly has none.
        Raises a CarrierError when the carrier cannot be asked."""
        ...

    def suggest_numbers(self, country: str, near: str | None, limit: int) -> list[AvailableNumber]:
        """Numbers the business may choose from, near `near` where the carrier can tell."""
        ...

    def acquire_number(self, phone_number: str, sms_webhook_url: str) -> str:
        """Buy or claim the number; returns the carrier's id for it."""
        ...

    def sms_webhook_url(self, public_url: str) -> str:
        """Where the carrier is to deliver the texts sent to a number bought from it (given
        to acquire_number)."""
        ...

    def release_number(self, carrier_sid: str) -> None: ...

    def tick(self) -> None:
        """Give the carrier a chance to do time-based work (the simulator's callbacks)."""
        ...

    def status_callback_url(self, public_url: str, message_id: int) -> str | None:
        """Where the carrier reports this message's statuses (our id in it), or None when
        it reports them another way."""
        ...

"""Twilio's error codes: in words a salon owner understands, and what they prove.

Written from Twilio's messaging error catalogue; unknown codes keep their number and a generic
reason, so nothing is hidden.
"""

from __future__ import annotations

from messagecenter.carriers.base import CarrierFailure, RecipientProblem

UNSUBSCRIBED_CODE = 21610  # attempt to send to an unsubscribed recipient
CANNOT_RECEIVE_CODES = frozenset({21211, 21612, 21614})  # invalid, unreachable, not mobile

REASONS: dict[int, str] = {
    20003: "The carrier refused the business's account credentials; ask the operator.",
    20429: "The carrier was busy; the message is waiting to be sent again.",
    21211: "The phone number is not valid: check the client's cell phone.",
    21408: "Texting this country is not enabled for the business's account.",
    21602: "The message was empty: write some text or attach a picture.",
    21606: "The business's SMS number cannot send to this destination; ask the operator.",
    21610: "The client has unsubscribed (texted STOP), so the carrier refused the message.",
    21611: "Too many messages are waiting at the carrier; it will be sent again shortly.",
    21612: "The carrier cannot reach this number: it may be a landline or not accept texts.",
    21614: "This number cannot receive text messages (it is not a mobile number).",
    21617: "The message is too long: it must be 1,600 characters or fewer.",
    30001: "The carrier's queue overflowed; the message was not sent.",
    30002: "The business's carrier account is suspended.",
    30003: "The client's phone is switched off or out of reach.",
    30004: "The client's phone or carrier has blocked messages from this number.",
    30005: "The number does not exist or is no longer in service.",
    30006: "This number is a landline or cannot receive texts.",
    30007: "The client's mobile carrier filtered the message as possible spam.",
    30008: "The client's mobile carrier could not deliver it, for an unknown reason.",
    30009: "Part of a long message went missing on the way; the client may have a partial text.",
    30018: "This country requires a registered sender name before texts can be delivered.",
    30019: "The picture or message is larger than the client's carrier accepts.",
    30023: "The business reached its daily US texting limit (A2P 10DLC); try again tomorrow.",
    30032: "The business's number is not yet registered for texting (toll-free verification).",
    30034: "The business's number is not registered for texting in the US (A2P 10DLC).",
    30035: "The business's number is still being set up for US texting; try again later.",
    30446: "Toll-free verification was refused (opt-in); ask the operator.",
    30450: "Delivery was blocked by the carrier.",
}


def reason_for(code: int | None) -> str | None:
    if code is None:
        return None
    return REASONS.get(code, f"The carrier reported error {code}; the message was not delivered.")


def explain(code: int) -> CarrierFailure:
    """Twilio's `code` as the app understands it: the reason in words, and what it proves
    about the recipient (opted out at Twilio, or a number that cannot take texts)."""
    recipient = None
    if code == UNSUBSCRIBED_CODE:
        recipient = RecipientProblem.UNSUBSCRIBED
    elif code in CANNOT_RECEIVE_CODES:
        recipient = RecipientProblem.CANNOT_RECEIVE
    reason = reason_for(code)
    assert reason is not None
    return CarrierFailure(code, reason, recipient)


def explain_optional(code: int | None) -> CarrierFailure | None:
    return explain(code) if code is not None else None

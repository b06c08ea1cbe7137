"""Twilio's webhook forms, turned into the carrier-neutral InboundSms and StatusReport.

Nothing here reaches the database unchecked. A client's text is taken whatever it holds (the
intake replaces NUL characters and keeps long senders). What identifies a message must fit its
column on both databases: a sid or status word longer than Twilio ever sends is a 400 naming
it (Twilio does not retry a 4xx; it retried a 500 forever); an ErrorCode or `?message=` beyond
the integer columns is kept only in the raw payload and answers as an unknown message would.
"""

from __future__ import annotations

from messagecenter.carriers.base import InboundSms, StatusReport
from messagecenter.carriers.twilio.errors import explain_optional
from messagecenter.carriers.twilio.signature import FormParams
from messagecenter.carriers.twilio.statuses import our_status
from messagecenter.errors import InvalidInput
from messagecenter.sms.text import NUL, REPLACEMENT

MAX_MEDIA = 10  # Twilio delivers at most 10 media items per message (MediaUrl0..9)
SID_LENGTH = 64  # messages.carrier_sid and the queue's (Twilio's sids have 34 characters)
STATUS_LENGTH = 32  # message_status_events.status (Twilio's words have at most 19)
MAX_INTEGER = 2**31 - 1  # our ids and error codes are 32-bit integer columns


def parse_inbound(params: FormParams) -> InboundSms:
    sid = _sid(params)
    from_phone = params.first("From")
    to_phone = params.first("To")
    missing = [
        name
        for name, value in (("MessageSid", sid), ("From", from_phone), ("To", to_phone))
        if not value
    ]
    if missing:
        raise InvalidInput(f"Missing Twilio field(s): {', '.join(missing)}.", field=missing[0])
    assert sid and from_phone and to_phone
    # Every MediaUrl0..9 that came, whatever NumMedia says: a NumMedia of 0, -1, missing or
    # garbled must not lose a client's picture. Twilio sends at most MAX_MEDIA.
    urls = (params.first(f"MediaUrl{index}") for index in range(MAX_MEDIA))
    media = [url for url in urls if url]
    return InboundSms(sid, from_phone.strip(), to_phone.strip(), params.first("Body") or "", media)


def parse_status(params: FormParams, message_query: str | None) -> StatusReport:
    sid = _sid(params)
    carrier_status = params.first("MessageStatus") or params.first("SmsStatus")
    if not sid or not carrier_status:
        raise InvalidInput(
            "Missing Twilio field(s): MessageSid and MessageStatus.", field="MessageSid"
        )
    carrier_status = carrier_status.replace(NUL, REPLACEMENT)
    if len(carrier_status) > STATUS_LENGTH:
        raise InvalidInput(
            f"MessageStatus is longer than {STATUS_LENGTH} characters: not a Twilio status.",
            field="MessageStatus",
        )
    payload = {
        key.replace(NUL, REPLACEMENT): values[0].replace(NUL, REPLACEMENT)
        for key, values in params.items()
        if values
    }  # the raw record: ErrorCode is kept here even when it fits no column
    return StatusReport(
        sid,
        our_status(carrier_status),
        _integer(message_query),
        explain_optional(_integer(params.first("ErrorCode"))),
        payload,
        carrier_word=carrier_status,
    )


def _sid(params: FormParams) -> str | None:
    sid = params.first("MessageSid") or params.first("SmsSid")
    if sid is None:
        return None
    sid = sid.replace(NUL, REPLACEMENT)
    if len(sid) > SID_LENGTH:
        raise InvalidInput(
            f"MessageSid is longer than {SID_LENGTH} characters: not a Twilio message sid.",
            field="MessageSid",
        )
    return sid


def _integer(raw: str | None) -> int | None:
    """A positive 32-bit integer, or None (then the report names no message / no error code)."""
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_INTEGER else None

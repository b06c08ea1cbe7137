"""Twilio's webhook forms, turned into the carrier-neutral InboundSms and StatusReport."""

from __future__ import annotations

from messagecenter.carriers.base import InboundSms, StatusReport
from messagecenter.carriers.twilio.signature import FormParams
from messagecenter.errors import InvalidInput

MAX_MEDIA = 10  # Twilio delivers at most 10 media items per message


def parse_inbound(params: FormParams) -> InboundSms:
    sid = params.first("MessageSid") or params.first("SmsSid")
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
    media = []
    try:
        count = min(int(params.first("NumMedia") or "0"), MAX_MEDIA)
    except ValueError:
        count = MAX_MEDIA  # keep whatever media URLs came rather than lose them
    for index in range(count):
        url = params.first(f"MediaUrl{index}")
        if url:
            media.append(url)
    return InboundSms(sid, from_phone.strip(), to_phone.strip(), params.first("Body") or "", media)


def parse_status(params: FormParams, message_query: str | None) -> StatusReport:
    sid = params.first("MessageSid") or params.first("SmsSid")
    carrier_status = params.first("MessageStatus") or params.first("SmsStatus")
    if not sid or not carrier_status:
        raise InvalidInput(
            "Missing Twilio field(s): MessageSid and MessageStatus.", field="MessageSid"
        )
    error_code: int | None = None
    raw_code = params.first("ErrorCode")
    if raw_code:
        try:
            error_code = int(raw_code)
        except ValueError:
            error_code = None
    message_id = int(message_query) if message_query and message_query.isdigit() else None
    payload = {key: values[0] for key, values in params.items() if values}
    return StatusReport(sid, carrier_status, message_id, error_code, payload)

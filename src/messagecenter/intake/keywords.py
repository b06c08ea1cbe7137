"""A client's keyword (STOP, START, HELP...) answered: consent changed by the consent rules,
and the reply shown in the thread: the carrier's own automatic one, or the app's (the
business's own wording, Settings → Automated messages), queued through sending like any
message (it counts, even past a hard stop)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.businesses import usage
from messagecenter.businesses.billing import units_for
from messagecenter.carriers.keyword_replies import REPLIES
from messagecenter.consent import service as consent
from messagecenter.conversations import service as conversations
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.intake.queries import Route
from messagecenter.models import Business, Conversation, Message, SmsNumber, status
from messagecenter.models.message import DIRECTION_OUTBOUND, DISPATCH_NONE, SENDER_CARRIER
from messagecenter.notifications import service as notifications
from messagecenter.sending.compose import Sender, queue_outbound
from messagecenter.sms.segments import count_segments


def answer_keyword(
    session: Session,
    route: Route,
    conversation_id: int,
    message_id: int,
    body: str,
    at: datetime,
) -> list[int]:
    business = session.get(Business, route.business_id)
    number = session.get(SmsNumber, route.sms_number_id)
    # Reloaded: the upsert above wrote the row past the ORM.
    conversation = session.get(Conversation, conversation_id, populate_existing=True)
    assert business is not None and number is not None and conversation is not None
    outcome = consent.apply_inbound_keyword(
        session,
        business_id=business.id,
        phone=conversation.phone,
        body=body,
        sms_number=number.phone_number,
        message_id=message_id,
        at=at,
    )
    if outcome is None:
        return []
    queue_event_on_commit(
        session,
        LiveEvent(
            business.id,
            "consent.changed" if outcome.changed else "keyword.received",
            {
                "conversation_id": conversation.id,
                "keyword": outcome.keyword,
                "kind": outcome.kind.value,
            },
        ),
    )
    if number.carrier_handles_keywords:
        # The carrier has already answered; show what it said. It uses no units.
        reply = record_carrier_reply(
            session, business, number, conversation, REPLIES[outcome.kind], at
        )
        return [reply.id]
    text = notifications.keyword_answer(session, business, outcome.kind)
    # Keyword confirmations must reach the client even past a hard stop; they still count.
    usage.reserve_outbound(session, business, units_for(has_media=False), at, force=True)
    reply_id = queue_outbound(
        session, business, number, conversation, text, [], Sender.automated(), at
    )
    return [reply_id]


def record_carrier_reply(
    session: Session,
    business: Business,
    number: SmsNumber,
    conversation: Conversation,
    body: str,
    at: datetime,
) -> Message:
    info = count_segments(body)
    message = Message(
        business_id=business.id,
        conversation_id=conversation.id,
        direction=DIRECTION_OUTBOUND,
        sender_type=SENDER_CARRIER,
        from_phone=number.phone_number,
        to_phone=conversation.phone,
        body=body,
        media_urls=[],
        encoding=info.encoding,
        segments=info.segments,
        units=0,
        status=status.SENT,
        dispatch_state=DISPATCH_NONE,
        attempts=0,
        created_at=at,
        updated_at=at,
    )
    session.add(message)
    session.flush()
    conversations.announce_message(
        session, business.id, conversation.id, message.id, DIRECTION_OUTBOUND
    )
    return message

"""Creating an outbound message: the start of every send (composer, API, notification,
keyword reply). The rules are checked (content, recipient, category switch, consent,
allowance) and the message is inserted as queued, with its usage, in the caller's
transaction: the message row is the outbox, and the dispatcher hands it to the carrier. A
refusal raises before anything is written, so it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.businesses import queries as business_queries
from messagecenter.businesses import usage
from messagecenter.businesses.billing import units_for
from messagecenter.consent import service as consent
from messagecenter.conversations import queries as conversation_queries
from messagecenter.conversations import service as conversations
from messagecenter.errors import Conflict, InvalidInput
from messagecenter.models import Business, Client, Conversation, Message, SmsNumber
from messagecenter.models.message import (
    DIRECTION_OUTBOUND,
    DISPATCH_PENDING,
    SENDER_API_KEY,
    SENDER_AUTOMATED,
    SENDER_STAFF,
)
from messagecenter.sending import status
from messagecenter.sms.segments import count_segments, normalize_newlines

MAX_BODY_CHARACTERS = 1600  # Twilio refuses longer bodies (error 21617)

# Notification categories and the client switch each one obeys.
CATEGORY_SWITCHES = {
    "reminders": "sms_reminders",
    "account": "sms_account",
    "marketing": "sms_marketing",
}


@dataclass(frozen=True)
class Sender:
    """Who is sending: a staff member, an API key, or the app itself."""

    type: str
    staff_member_id: int | None = None
    api_key_id: int | None = None

    @classmethod
    def staff(cls, staff_member_id: int) -> Sender:
        return cls(SENDER_STAFF, staff_member_id=staff_member_id)

    @classmethod
    def api_key(cls, api_key_id: int) -> Sender:
        return cls(SENDER_API_KEY, api_key_id=api_key_id)

    @classmethod
    def automated(cls) -> Sender:
        return cls(SENDER_AUTOMATED)


def send_message(
    session: Session,
    business: Business,
    *,
    body: str,
    sender: Sender,
    at: datetime,
    client: Client | None = None,
    conversation: Conversation | None = None,
    media_urls: list[str] | None = None,
    category: str | None = None,
) -> Message:
    """Queue a message to a client (by profile) or into an existing conversation.

    Inserted as queued together with its usage, in the caller's transaction; the dispatcher
    hands it to the carrier. Refused (and nothing changed) when the body is empty or too long,
    the client has no cell phone, opted out, switched the category off, or the allowance is used
    up under a hard stop.
    """
    media = list(media_urls or [])
    body = normalize_newlines(body or "")
    if not body.strip() and not media:
        raise InvalidInput("Write a message (or attach a picture) before sending.", field="body")
    if len(body) > MAX_BODY_CHARACTERS:
        raise InvalidInput(
            f"The message is {len(body):,} characters; the limit is {MAX_BODY_CHARACTERS:,}. "
            "Shorten it or split it into two messages.",
            field="body",
        )
    number = business_queries.active_number(session, business.id)
    if number is None:
        raise Conflict(
            "This business has no SMS number yet: enable Message Center and choose a number.",
            code="no_sms_number",
        )
    phone = _recipient_phone(client, conversation)
    if category is not None:
        _ensure_category_allowed(client, category)
    consent.ensure_may_text(session, business.id, phone)
    # Counted (or refused) before anything is written, so a refusal changes nothing.
    usage.reserve_outbound(session, business, units_for(has_media=bool(media)), at)
    target = conversation or conversation_queries.ensure_conversation(
        session, business.id, phone, client.id if client else None, at
    )
    if target.client_id is None and client is not None:
        target.client_id = client.id  # the unidentified sender turns out to be this client
    return queue_outbound(session, business, number, target, body, media, sender, at)


def _recipient_phone(client: Client | None, conversation: Conversation | None) -> str:
    if conversation is not None:
        return conversation.phone
    if client is None:
        raise InvalidInput("Say who the message is for: a client or a conversation.", field="to")
    if not client.cell_phone:
        raise InvalidInput(
            f"{client.first_name} {client.last_name}".strip()
            + " has no valid cell phone: add a mobile number to their profile first.",
            field="client_id",
        )
    return client.cell_phone


def _ensure_category_allowed(client: Client | None, category: str) -> None:
    switch = CATEGORY_SWITCHES.get(category)
    if switch is None:
        raise InvalidInput(
            f"Unknown notification category {category!r}; use one of "
            + ", ".join(CATEGORY_SWITCHES),
            field="category",
        )
    if client is not None and not getattr(client, switch):
        raise Conflict(
            f"This client has turned off SMS {category} notifications.", code="category_off"
        )


def queue_outbound(
    session: Session,
    business: Business,
    number: SmsNumber,
    conversation: Conversation,
    body: str,
    media: list[str],
    sender: Sender,
    at: datetime,
) -> Message:
    """Insert an outbound message as queued (the outbox row); the caller has already counted
    its units (send_message, or the intake's keyword reply, which skips the hard stop)."""
    info = count_segments(body)
    message = Message(
        business_id=business.id,
        conversation_id=conversation.id,
        direction=DIRECTION_OUTBOUND,
        sender_type=sender.type,
        staff_member_id=sender.staff_member_id,
        api_key_id=sender.api_key_id,
        from_phone=number.phone_number,
        to_phone=conversation.phone,
        body=body,
        media_urls=media,
        encoding=info.encoding,
        segments=info.segments,
        units=units_for(has_media=bool(media)),
        status=status.QUEUED,
        dispatch_state=DISPATCH_PENDING,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(message)
    conversations.note_outbound(
        session,
        business.id,
        conversation,
        body,
        at,
        answered=sender.type in (SENDER_STAFF, SENDER_API_KEY),
    )
    session.flush()
    conversations.announce_message(
        session, business.id, conversation.id, message.id, DIRECTION_OUTBOUND
    )
    return message

"""Turning rows into the JSON shapes (shared by the API and, later, the pages)."""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from messagecenter.businesses import queries as business_queries
from messagecenter.clients.phone import region_of
from messagecenter.clients.schemas import SubscriptionOut
from messagecenter.consent import queries as consent_queries
from messagecenter.consent.service import consent_summary
from messagecenter.conversations import queries
from messagecenter.conversations.schemas import (
    ConversationOut,
    MessageOut,
    ReplyToOut,
    SearchMatchOut,
    SenderOut,
)
from messagecenter.conversations.search import SearchQuery, match_spans
from messagecenter.models import Business, Client, Conversation, Message, PhoneConsent
from messagecenter.models.message import (
    SENDER_API_KEY,
    SENDER_AUTOMATED,
    SENDER_CARRIER,
    SENDER_CLIENT,
    SENDER_STAFF,
)
from messagecenter.models.status import QUEUED
from messagecenter.numbers.countries import number_country

FOREIGN_WARNING = (
    "This client's number is from another country than the business's SMS number: "
    "messages go out, but their replies may not arrive."
)


def foreign_number_warning(business: Business, phone: str) -> str | None:
    region = region_of(phone)
    return (
        FOREIGN_WARNING
        if region is not None and region != number_country(business.country)
        else None
    )


def conversations_out(
    session: Session,
    business: Business,
    rows: list[tuple[Conversation, Client | None]],
    search: SearchQuery | None = None,
    *,
    consents: Mapping[str, PhoneConsent | None] | None = None,
) -> list[ConversationOut]:
    """The conversations; in a search, each with its newest message holding the text. Their
    phones' consents are read here unless the caller read them already."""
    if consents is None:
        consents = consent_queries.consents_for(session, business.id, [c.phone for c, _ in rows])
    found: dict[int, Message] = {}
    if search is not None and search.body_text is not None:
        found = queries.newest_matches(session, business.id, [c.id for c, _ in rows], search)
    assignees = queries.staff_names(session, [c.assignee_id for c, _ in rows if c.assignee_id])
    out = []
    for conversation, client in rows:
        each = conversation_out(
            business,
            conversation,
            client,
            consents.get(conversation.phone),
            assignees.get(conversation.assignee_id or 0),
        )
        match = found.get(conversation.id)
        if match is not None and search is not None:
            each.search_match = SearchMatchOut(
                message_id=match.id,
                body=match.body,
                created_at=match.created_at,
                highlights=match_spans(match.body, search.text),
            )
        out.append(each)
    return out


def conversation_out(
    business: Business,
    conversation: Conversation,
    client: Client | None,
    consent: PhoneConsent | None,
    assignee_name: str | None = None,
) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        phone=conversation.phone,
        client_id=conversation.client_id,
        client_name=f"{client.first_name} {client.last_name}".strip() if client else None,
        folder=conversation.folder,
        unread_count=conversation.unread_count,
        pinned=conversation.pinned,
        muted=conversation.muted,
        blocked=conversation.blocked_at is not None,
        last_message_at=conversation.last_message_at,
        last_message_preview=conversation.last_message_preview,
        subscription=SubscriptionOut.model_validate(consent_summary(consent)),
        foreign_number_warning=foreign_number_warning(business, conversation.phone),
        assignee_id=conversation.assignee_id,
        assignee_name=assignee_name if conversation.assignee_id else None,
    )


def assignee_name(session: Session, conversation: Conversation) -> str | None:
    if conversation.assignee_id is None:
        return None
    return queries.staff_names(session, [conversation.assignee_id]).get(conversation.assignee_id)


def messages_out(
    session: Session,
    messages: list[Message],
    reply_to: Mapping[int, ReplyToOut] | None = None,
) -> list[MessageOut]:
    """The messages as the API and the thread show them; `reply_to` says what client texts
    among them answer (notifications.replies.replies_out)."""
    staff, keys = queries.sender_names(
        session,
        {m.staff_member_id for m in messages if m.staff_member_id},
        {m.api_key_id for m in messages if m.api_key_id},
    )
    answers = reply_to or {}
    return [_message_out(m, staff, keys, answers.get(m.id)) for m in messages]


def _message_out(
    message: Message, staff: dict[int, str], keys: dict[int, str], reply_to: ReplyToOut | None
) -> MessageOut:
    if message.sender_type == SENDER_STAFF:
        name = staff.get(message.staff_member_id or 0, "Staff")
    elif message.sender_type == SENDER_API_KEY:
        name = keys.get(message.api_key_id or 0, "API key")
    elif message.sender_type == SENDER_AUTOMATED:
        name = "Automated"
    elif message.sender_type == SENDER_CARRIER:
        name = "Carrier (automatic reply)"
    elif message.sender_type == SENDER_CLIENT:
        name = message.from_phone
    else:
        name = message.sender_type
    return MessageOut(
        id=message.id,
        conversation_id=message.conversation_id,
        direction=message.direction,
        sender=SenderOut(type=message.sender_type, name=name),
        body=message.body,
        media_urls=list(message.media_urls or []),
        segments=message.segments,
        encoding=message.encoding,
        units=message.units,
        status=message.status,
        error_code=message.error_code,
        error_message=message.error_message,
        reply_to=reply_to,
        waits_until=message.quiet_until if waits_for_quiet_hours(message) else None,
        waits_until_note=waits_until_note(message),
        created_at=message.created_at,
        updated_at=message.updated_at,
    )


def waits_for_quiet_hours(message: Message) -> bool:
    return message.status == QUEUED and message.quiet_until is not None and bool(message.quiet_zone)


def waits_until_note(message: Message) -> str | None:
    """A queued message held for the client's quiet hours, as the thread and the history say
    it: "Waits until 08:00 client time (Tue 17 Nov, America/New_York): quiet hours."."""
    if not waits_for_quiet_hours(message):
        return None
    assert message.quiet_until is not None and message.quiet_zone is not None
    local = message.quiet_until.astimezone(ZoneInfo(message.quiet_zone))
    return (
        f"Waits until {local:%H:%M} client time ({local:%a %d %b}, {message.quiet_zone}): "
        "quiet hours."
    )


def active_number_of(session: Session, business_id: int) -> str | None:
    number = business_queries.active_number(session, business_id)
    return number.phone_number if number else None

"""Creating outbound messages: the start of every send (composer, API, notification, bulk,
keyword reply). The rules are checked per message (content, recipient, category switch,
consent, allowance) and the messages that pass are inserted as queued, with their usage, in
the caller's transaction: the message row is the outbox, and the dispatcher hands it to the
carrier. A refused message writes nothing.

`send_messages` does a batch set-wise (one consent query, one usage reservation, the
conversations in one insert and one select, the messages in one multi-row insert), so a bulk
send or a booking system's reminders queue at database speed; `send_message` is its batch of
one, and raises the refusal instead of returning it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy.orm import Session

from messagecenter.businesses import queries as business_queries
from messagecenter.businesses import usage
from messagecenter.businesses.billing import units_for
from messagecenter.clients.queries import ClientContact
from messagecenter.consent import service as consent
from messagecenter.conversations import queries as conversation_queries
from messagecenter.conversations import service as conversations
from messagecenter.conversations.queries import ConversationState
from messagecenter.errors import Conflict, DomainError, InvalidInput
from messagecenter.models import Business, Client, Conversation, Message, SmsNumber
from messagecenter.models.message import (
    DIRECTION_OUTBOUND,
    DISPATCH_PENDING,
    SENDER_API_KEY,
    SENDER_AUTOMATED,
    SENDER_STAFF,
)
from messagecenter.sending import quiet_holds, status
from messagecenter.sms.content_rules import ContentRefused, active_rules
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


@dataclass(frozen=True)
class Outgoing:
    """One message of a batch: to a client (by profile) or into an existing conversation
    (which wins when both are given; the client then names its unidentified sender)."""

    body: str
    client: Client | ClientContact | None = None
    conversation: Conversation | None = None
    media_urls: tuple[str, ...] = ()
    category: str | None = None  # a notification category: the client's switch must be on
    # When it may go (a scheduled notification); the outbox holds it until then. None: now.
    due_at: datetime | None = None
    bulk_send_id: int | None = None  # the bulk send it is one of
    # Waits out the client's quiet hours (automated, bulk, scheduled: sending/quiet_holds.py).
    quiet_hours: bool = False


@dataclass(frozen=True)
class _Draft:
    """A message that passed the rules that need no query."""

    index: int
    body: str
    media: list[str]
    phone: str
    client: Client | ClientContact | None
    conversation: Conversation | None
    units: int
    due_at: datetime | None
    category: str | None
    bulk_send_id: int | None
    quiet_hours: bool


class _Target(NamedTuple):
    """A message about to be inserted: the phone it goes to (its conversation's), the client
    it is for, its text and when it is due."""

    phone: str
    client_id: int | None
    body: str
    media: list[str]
    due_at: datetime | None = None
    category: str | None = None
    bulk_send_id: int | None = None
    quiet_hours: bool = False


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
    outgoing = Outgoing(body, client, conversation, tuple(media_urls or ()), category)
    (result,) = send_messages(session, business, [outgoing], sender=sender, at=at)
    if isinstance(result, DomainError):
        raise result
    return result


def send_messages(
    session: Session,
    business: Business,
    outgoing: Sequence[Outgoing],
    *,
    sender: Sender,
    at: datetime,
) -> list[Message | DomainError]:
    """queue_messages, with each queued message loaded (one query for the batch)."""
    results = queue_messages(session, business, outgoing, sender=sender, at=at)
    loaded = iter(
        conversation_queries.messages_by_id(session, [r for r in results if isinstance(r, int)])
    )
    return [next(loaded) if isinstance(result, int) else result for result in results]


def queue_messages(
    session: Session,
    business: Business,
    outgoing: Sequence[Outgoing],
    *,
    sender: Sender,
    at: datetime,
) -> list[int | DomainError]:
    """Queue a batch of messages from one sender in the caller's transaction: for each, in
    order, its queued message's id or the refusal it got (send_message's errors, word for
    word). Nothing is loaded back: a bulk send or a booking system's batch needs the ids.

    Each message is held to every rule on its own, and a refused one writes nothing and stops
    no other. Under a hard stop the batch is taken in order, each message while it fits in
    what remains of the allowance, exactly as if they were sent one by one: the first that
    would pass the allowance is refused with the same words as a single send, and so is every
    later one that does not fit (a later text of 1 unit may still fit after a picture of 3
    was refused). Several messages to one phone go into its one conversation, in order.
    """
    results: list[int | DomainError | None] = [None] * len(outgoing)
    number = business_queries.active_number(session, business.id)
    drafts: list[_Draft] = []
    for index, item in enumerate(outgoing):
        try:
            drafts.append(_draft(index, item, number))
        except DomainError as refused:
            results[index] = refused
    # Consent: the opted-out phones among the batch, in one query.
    unsubscribed = consent.unsubscribed_among(session, business.id, (d.phone for d in drafts))
    for draft in drafts:
        if draft.phone in unsubscribed:
            results[draft.index] = unsubscribed[draft.phone]
    drafts = [d for d in drafts if d.phone not in unsubscribed]
    for draft, unnamed in _unnamed_first_messages(session, business, drafts):
        results[draft.index] = unnamed
    drafts = [d for d in drafts if results[d.index] is None]
    # The conversations there are, locked first: a client's text takes its conversation and
    # then the usage row, so sending takes them in that order too (no deadlock between them).
    locked = conversations.lock_for_writing(session, business.id, (d.phone for d in drafts))
    # Counted (or refused) before anything else is written, so a refusal changes nothing.
    counted = usage.reserve_outbound_many(session, business, [d.units for d in drafts], at)
    for draft, over in zip(drafts, counted, strict=True):
        if over is not None:
            results[draft.index] = over
    drafts = [d for d, over in zip(drafts, counted, strict=True) if over is None]
    if drafts:
        assert number is not None  # a draft is made only when the business has a number
        targets = [
            _Target(
                d.phone,
                d.client.id if d.client else None,
                d.body,
                d.media,
                d.due_at,
                d.category,
                d.bulk_send_id,
                d.quiet_hours,
            )
            for d in drafts
        ]
        queued = _queue(session, business, number, targets, sender, at, locked)
        for draft, message_id in zip(drafts, queued, strict=True):
            results[draft.index] = message_id
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def _unnamed_first_messages(
    session: Session, business: Business, drafts: list[_Draft]
) -> list[tuple[_Draft, ContentRefused]]:
    """The drafts that would open a conversation (nothing yet either way: a reply to a client
    who texted the business is not a first message) and do not name the business
    (acceptable use): only those without its name are looked up, in one query."""
    rules = active_rules()
    if not rules.checks_first_messages:
        return []
    broken = {d.index: rules.first_message_refusal(d.body, business.name) for d in drafts}
    unnamed = {d.phone for d in drafts if broken[d.index] is not None}
    if not unnamed:
        return []
    texted = conversation_queries.phones_in_touch(session, business.id, unnamed)
    refusals = []
    for draft in drafts:  # in order: an earlier message of the batch is the first one
        rule = broken[draft.index]
        if rule is not None and draft.phone not in texted:
            refusals.append((draft, ContentRefused(rule)))
        else:
            texted.add(draft.phone)
    return refusals


def _draft(index: int, item: Outgoing, number: SmsNumber | None) -> _Draft:
    """The rules a message is held to before any query, in send_message's order: content,
    the business's number, the recipient, the category switch."""
    media = list(item.media_urls)
    body = normalize_newlines(item.body or "")
    if not body.strip() and not media:
        raise InvalidInput("Write a message (or attach a picture) before sending.", field="body")
    if len(body) > MAX_BODY_CHARACTERS:
        raise InvalidInput(
            f"The message is {len(body):,} characters; the limit is {MAX_BODY_CHARACTERS:,}. "
            "Shorten it or split it into two messages.",
            field="body",
        )
    if number is None:
        raise Conflict(
            "This business has no SMS number yet: enable Message Center and choose a number.",
            code="no_sms_number",
        )
    active_rules().check(body, number.country)
    phone = _recipient_phone(item.client, item.conversation)
    if item.category is not None:
        _ensure_category_allowed(item.client, item.category)
    units = units_for(has_media=bool(media))
    return _Draft(
        index,
        body,
        media,
        phone,
        item.client,
        item.conversation,
        units,
        item.due_at,
        item.category,
        item.bulk_send_id,
        item.quiet_hours,
    )


def _recipient_phone(
    client: Client | ClientContact | None, conversation: Conversation | None
) -> str:
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


def _ensure_category_allowed(client: Client | ClientContact | None, category: str) -> None:
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
) -> int:
    """Insert an outbound message as queued (the outbox row): its id. The caller has already
    counted its units (send_messages, or the intake's keyword reply, which skips the hard
    stop)."""
    target = _Target(conversation.phone, conversation.client_id, body, media)
    return _queue(session, business, number, [target], sender, at)[0]


def _queue(
    session: Session,
    business: Business,
    number: SmsNumber,
    targets: Sequence[_Target],
    sender: Sender,
    at: datetime,
    locked: dict[str, ConversationState] | None = None,
) -> list[int]:
    """Insert outbound messages as queued, in order, in one multi-row insert: their ids. Each
    phone's conversation (created where new) takes its last one's preview (and is answered
    when a person or their API key wrote them), and every message is announced to the inbox
    when the transaction commits."""
    conversation_ids = conversations.write_outbound(
        session,
        business.id,
        [(target.phone, target.client_id, target.body) for target in targets],
        at,
        # A person's reply answers the conversation (read, Replied); a bulk or scheduled send
        # does not, whoever made it: texts the client sent meanwhile stay unread.
        answered=sender.type in (SENDER_STAFF, SENDER_API_KEY)
        and all(target.bulk_send_id is None for target in targets),
        locked=locked,
    )
    rows = []
    for phone, _client_id, body, media, due_at, category, bulk_send_id, quiet_hours in targets:
        info = count_segments(body)
        rows.append(
            {
                "business_id": business.id,
                "conversation_id": conversation_ids[phone],
                "direction": DIRECTION_OUTBOUND,
                "sender_type": sender.type,
                "staff_member_id": sender.staff_member_id,
                "api_key_id": sender.api_key_id,
                "from_phone": number.phone_number,
                "to_phone": phone,
                "body": body,
                "body_had_nul": False,
                "media_urls": media,
                "encoding": info.encoding,
                "segments": info.segments,
                "units": units_for(has_media=bool(media)),
                "status": status.QUEUED,
                "carrier_sid_from_lookup": False,
                "dispatch_state": DISPATCH_PENDING,
                "attempts": 0,
                "next_attempt_at": due_at or at,  # the outbox hands over what is due
                "category": category,
                "bulk_send_id": bulk_send_id,
                "quiet_hours": quiet_hours,
                "created_at": at,
                "updated_at": at,
            }
        )
    quiet_holds.hold_rows(session, business, rows, sender.type, at)
    message_ids = conversation_queries.insert_messages(session, rows)
    for target, message_id in zip(targets, message_ids, strict=True):
        conversations.announce_message(
            session, business.id, conversation_ids[target.phone], message_id, DIRECTION_OUTBOUND
        )
    return message_ids

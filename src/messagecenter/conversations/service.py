"""Conversations and messages: the rules for texts coming in and going out.

Services take a Session and never commit; the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from messagecenter.businesses import queries as business_queries
from messagecenter.businesses import usage
from messagecenter.businesses.billing import period_start, units_for
from messagecenter.carriers.base import InboundSms
from messagecenter.carriers.keyword_replies import REPLIES, app_help_reply
from messagecenter.consent import service as consent
from messagecenter.conversations import queries
from messagecenter.db import insert_ignore
from messagecenter.errors import Conflict, InvalidInput, NotFound
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.models import Business, Client, Conversation, Message, SmsNumber, UnroutedMessage
from messagecenter.models.conversation import (
    FOLDER_ARCHIVED,
    FOLDER_READ,
    FOLDER_REPLIED,
    FOLDER_UNREAD,
)
from messagecenter.models.message import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    DISPATCH_NONE,
    DISPATCH_PENDING,
    SENDER_API_KEY,
    SENDER_AUTOMATED,
    SENDER_CARRIER,
    SENDER_CLIENT,
    SENDER_STAFF,
)
from messagecenter.sending import status
from messagecenter.sms.keywords import Keyword, classify_keyword
from messagecenter.sms.segments import count_segments, normalize_newlines

MAX_BODY_CHARACTERS = 1600  # Twilio refuses longer bodies (error 21617)
PREVIEW_LENGTH = 160

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
class InboundOutcome:
    message_id: int | None  # None for duplicates and unrouted texts
    business_id: int | None
    duplicate: bool = False
    unrouted: bool = False
    replies: list[int] = field(default_factory=list)  # ids of messages written in response


# ---------------------------------------------------------------------------- inbound


class DuplicateDelivery(Exception):
    """A concurrent delivery of the same text won the race: roll back, answer as a replay."""


def record_inbound(session: Session, inbound: InboundSms, at: datetime) -> InboundOutcome:
    """Store a client's text exactly once: routed by `To`, counted, unread bumped, keyword
    rules applied, pushed live. Never refused for its content or for lack of allowance.
    Raises DuplicateDelivery when a concurrent twin committed first (the caller rolls back)."""
    return record_inbound_batch(session, [(inbound, at)])[0]


def record_inbound_batch(
    session: Session, texts: Sequence[tuple[InboundSms, datetime]]
) -> list[InboundOutcome]:
    """`record_inbound` for several texts, in order, in the caller's transaction, leaving
    exactly what recording them one by one would leave.

    This is the intake's hot path, written set by set rather than text by text: one query
    finds the routes, one the replays, one statement upserts the conversations and one
    inserts the messages; each business's usage and badge move once, in business order. A
    keyword (STOP, START, HELP...) ends a run of texts written together: it is answered
    before the texts after it are written, so the thread and the usage keep their order."""
    routes = queries.routes_for(session, {inbound.to_phone for inbound, _ in texts})
    stored = queries.stored_carrier_sids(session, {inbound.carrier_sid for inbound, _ in texts})
    outcomes: dict[int, InboundOutcome] = {}
    run: list[_RoutedText] = []  # texts to write together, up to and including a keyword
    for index, (inbound, at) in enumerate(texts):
        route = routes.get(inbound.to_phone)
        if route is None:
            outcomes[index] = record_unrouted(session, inbound, at)
        elif inbound.carrier_sid in stored:
            outcomes[index] = InboundOutcome(None, route.business_id, duplicate=True)
        else:
            stored.add(inbound.carrier_sid)
            text = _RoutedText(index, route, inbound, normalize_newlines(inbound.body), at)
            run.append(text)
            if classify_keyword(text.body) is not None:
                outcomes.update(_record_routed(session, run))
                run = []
    outcomes.update(_record_routed(session, run))
    return [outcomes[index] for index in range(len(texts))]


@dataclass(frozen=True)
class _RoutedText:
    index: int  # its place in the batch
    route: queries.Route
    inbound: InboundSms
    body: str  # CRLF as LF
    at: datetime


def _record_routed(session: Session, run: list[_RoutedText]) -> dict[int, InboundOutcome]:
    """Write texts that have a business and are not replays; only the last may be a keyword,
    answered once the others' usage and unread are counted. Their outcomes by place in the
    batch."""
    if not run:
        return {}
    counters = _InboundCounters()
    arrivals: dict[tuple[int, str], list[_RoutedText]] = {}
    for text in run:
        arrivals.setdefault((text.route.business_id, text.inbound.from_phone), []).append(text)
    conversations = queries.upsert_inbound_conversations(
        session,
        [
            queries.ConversationTexts(
                business_id,
                phone,
                len(group),
                group[0].at,
                group[-1].at,
                _preview(group[-1].body),
            )
            for (business_id, phone), group in arrivals.items()
        ],
    )
    # New conversations: is the sender a client? (Saving a client with a phone links that
    # phone's existing conversation, so older ones need no lookup.)
    new = [
        key
        for key, conversation in conversations.items()
        if conversation.client_id is None and conversation.created_at == arrivals[key][0].at
    ]
    clients = queries.client_ids_for_phones(session, new)
    queries.set_conversation_clients(
        session, [(conversations[key].id, client_id) for key, client_id in clients.items()]
    )
    message_ids = queries.insert_message_rows(
        session,
        [_inbound_message_row(text, conversations[_key(text)].id) for text in run],
    )
    outcomes: dict[int, InboundOutcome] = {}
    still_to_come = {key: len(group) for key, group in arrivals.items()}
    for text in run:  # in arrival order, so usage warnings fall as they would one by one
        message_id = message_ids.get(text.inbound.carrier_sid)
        if message_id is None:  # a concurrent twin committed first
            raise DuplicateDelivery(text.inbound.carrier_sid)
        conversation = conversations[_key(text)]
        still_to_come[_key(text)] -= 1
        # The conversation's unread count as it stood after this text.
        unread = conversation.unread_count - still_to_come[_key(text)]
        counters.add(text, conversation, unread)
        _announce_message(
            session, text.route.business_id, conversation.id, message_id, DIRECTION_INBOUND
        )
        outcomes[text.index] = InboundOutcome(message_id, text.route.business_id)
    counters.apply(session)
    last = run[-1]
    if classify_keyword(last.body) is not None:
        message_id = message_ids[last.inbound.carrier_sid]
        conversation_id = conversations[_key(last)].id
        replies = _answer_keyword(
            session, last.route, conversation_id, message_id, last.body, last.at
        )
        outcomes[last.index] = InboundOutcome(message_id, last.route.business_id, replies=replies)
    return outcomes


def _key(text: _RoutedText) -> tuple[int, str]:
    return text.route.business_id, text.inbound.from_phone


def _inbound_message_row(text: _RoutedText, conversation_id: int) -> dict[str, object]:
    info = count_segments(text.body)
    return {
        "business_id": text.route.business_id,
        "conversation_id": conversation_id,
        "direction": DIRECTION_INBOUND,
        "sender_type": SENDER_CLIENT,
        "staff_member_id": None,
        "api_key_id": None,
        "from_phone": text.inbound.from_phone,
        "to_phone": text.inbound.to_phone,
        "body": text.body,
        "media_urls": list(text.inbound.media_urls),
        "encoding": info.encoding,
        "segments": info.segments,
        "units": units_for(has_media=bool(text.inbound.media_urls)),
        "status": status.RECEIVED,
        "error_code": None,
        "error_message": None,
        "carrier_sid": text.inbound.carrier_sid,
        "dispatch_state": DISPATCH_NONE,
        "attempts": 0,
        "next_attempt_at": None,
        "claimed_at": None,
        "created_at": text.at,
        "updated_at": text.at,
    }


@dataclass
class _InboundCounters:
    """What a batch of texts adds to each business's usage and unread badge."""

    routes: dict[int, queries.Route] = field(default_factory=dict)
    # business -> period -> each text's units, in order
    units: dict[int, dict[date, list[int]]] = field(default_factory=dict)
    unread_delta: dict[int, int] = field(default_factory=dict)
    # business -> (conversation id, its unread count), one per text, for the live events
    conversations: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def add(
        self, text: _RoutedText, conversation: queries.InboundConversation, unread: int
    ) -> None:
        business_id = text.route.business_id
        self.routes[business_id] = text.route
        periods = self.units.setdefault(business_id, {})
        period = period_start(text.at, text.route.timezone)
        periods.setdefault(period, []).append(units_for(has_media=bool(text.inbound.media_urls)))
        # A muted conversation counts its own unread texts but leaves the badge alone.
        delta = 0 if conversation.muted else 1
        self.unread_delta[business_id] = self.unread_delta.get(business_id, 0) + delta
        self.conversations.setdefault(business_id, []).append((conversation.id, unread))

    def apply(self, session: Session) -> None:
        for business_id in sorted(self.routes):
            allowance = self.routes[business_id].allowance
            for period, steps in sorted(self.units[business_id].items()):
                total = queries.count_inbound_units(session, business_id, period, sum(steps))
                # Warn as the texts one by one would have (a text that jumps past both
                # thresholds raises only the higher one).
                used = total - sum(steps)
                for units in steps:
                    usage.warn_if_crossed(session, business_id, allowance, used, used + units)
                    used += units
            unread = queries.adjust_business_unread(
                session, business_id, self.unread_delta[business_id]
            )
            for conversation_id, its_unread in self.conversations[business_id]:
                _announce_unread(
                    session, business_id, unread, conversation_id, its_unread, FOLDER_UNREAD
                )


def record_unrouted(session: Session, inbound: InboundSms, at: datetime) -> InboundOutcome:
    """Keep a text that no business's active number can take, attached to no business."""
    new_id = insert_ignore(
        session,
        UnroutedMessage.__table__,  # type: ignore[arg-type]
        {
            "carrier_sid": inbound.carrier_sid,
            "from_phone": inbound.from_phone,
            "to_phone": inbound.to_phone,
            "body": inbound.body,
            "media_urls": list(inbound.media_urls),
            "received_at": at,
        },
        ["carrier_sid"],
    )
    return InboundOutcome(None, None, duplicate=new_id is None, unrouted=True)


def _answer_keyword(
    session: Session,
    route: queries.Route,
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
    text = (
        app_help_reply(business.name, business.help_text)
        if outcome.kind is Keyword.HELP
        else REPLIES[outcome.kind]
    )
    # Keyword confirmations must reach the client even past a hard stop; they still count.
    usage.reserve_outbound(session, business, units_for(has_media=False), at, force=True)
    reply = _queue_outbound(
        session, business, number, conversation, text, [], Sender.automated(), at
    )
    return [reply.id]


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
    _announce_message(session, business.id, conversation.id, message.id, DIRECTION_OUTBOUND)
    return message


# ---------------------------------------------------------------------------- outbound


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
    target = conversation or queries.ensure_conversation(
        session, business.id, phone, client.id if client else None, at
    )
    if target.client_id is None and client is not None:
        target.client_id = client.id  # the unidentified sender turns out to be this client
    return _queue_outbound(session, business, number, target, body, media, sender, at)


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


def _queue_outbound(
    session: Session,
    business: Business,
    number: SmsNumber,
    conversation: Conversation,
    body: str,
    media: list[str],
    sender: Sender,
    at: datetime,
) -> Message:
    """Insert an outbound message as queued; the caller has already counted its units."""
    info = count_segments(body)
    units = units_for(has_media=bool(media))
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
        units=units,
        status=status.QUEUED,
        dispatch_state=DISPATCH_PENDING,
        attempts=0,
        next_attempt_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(message)
    _touch(conversation, body, at)
    if sender.type in (SENDER_STAFF, SENDER_API_KEY):
        # Answering a conversation means it has been read.
        seen = conversation.unread_count
        conversation.unread_count = 0
        conversation.last_read_at = at
        if conversation.folder != FOLDER_ARCHIVED or seen:
            conversation.folder = FOLDER_REPLIED
        session.flush()
        if seen:
            _change_unread(session, business.id, conversation, 0 if conversation.muted else -seen)
    session.flush()
    _announce_message(session, business.id, conversation.id, message.id, DIRECTION_OUTBOUND)
    return message


# ---------------------------------------------------------------------------- inbox state


def get_conversation(session: Session, business_id: int, conversation_id: int) -> Conversation:
    conversation = queries.get_conversation(session, business_id, conversation_id)
    if conversation is None:
        raise NotFound("No such conversation.")
    return conversation


def mark_read(
    session: Session, business_id: int, conversation_id: int, at: datetime
) -> Conversation:
    """A staff member opened the conversation: its client messages are now seen by all."""
    conversation = _locked(session, business_id, conversation_id)
    seen = conversation.unread_count
    conversation.unread_count = 0
    conversation.last_read_at = at
    if conversation.folder == FOLDER_UNREAD:
        conversation.folder = FOLDER_READ
    session.flush()
    if seen:
        _change_unread(session, business_id, conversation, 0 if conversation.muted else -seen)
    return conversation


def mark_unread(session: Session, business_id: int, conversation_id: int) -> Conversation:
    """Flag for attention: at least one unread message, back in the Unread folder."""
    conversation = _locked(session, business_id, conversation_id)
    added = 1 if conversation.unread_count == 0 else 0
    conversation.unread_count += added
    conversation.folder = FOLDER_UNREAD
    session.flush()
    _change_unread(session, business_id, conversation, 0 if conversation.muted else added)
    return conversation


def update_flags(
    session: Session,
    business_id: int,
    conversation_id: int,
    *,
    pinned: bool | None = None,
    muted: bool | None = None,
    archived: bool | None = None,
) -> Conversation:
    conversation = _locked(session, business_id, conversation_id)
    if pinned is not None:
        conversation.pinned = pinned
    if archived is not None:
        if archived:
            conversation.folder = FOLDER_ARCHIVED
        elif conversation.folder == FOLDER_ARCHIVED:
            conversation.folder = FOLDER_UNREAD if conversation.unread_count else FOLDER_READ
    delta = 0
    if muted is not None and muted != conversation.muted:
        conversation.muted = muted
        # Muted conversations are left out of the badge.
        delta = -conversation.unread_count if muted else conversation.unread_count
    session.flush()
    _change_unread(session, business_id, conversation, delta)
    return conversation


def link_client(
    session: Session, business_id: int, conversation_id: int, client: Client
) -> Conversation:
    """Attach an unidentified sender's conversation to a client profile."""
    if client.business_id != business_id:
        raise NotFound("No such client.")
    conversation = _locked(session, business_id, conversation_id)
    conversation.client_id = client.id
    session.flush()
    return conversation


def _locked(session: Session, business_id: int, conversation_id: int) -> Conversation:
    conversation = queries.get_conversation(session, business_id, conversation_id, for_update=True)
    if conversation is None:
        raise NotFound("No such conversation.")
    session.refresh(conversation)
    return conversation


def _touch(conversation: Conversation, body: str, at: datetime) -> None:
    conversation.last_message_at = at
    conversation.last_message_preview = _preview(body)


def _preview(body: str) -> str:
    return (body or "(picture message)")[:PREVIEW_LENGTH]


def _change_unread(
    session: Session, business_id: int, conversation: Conversation, delta: int
) -> None:
    total = queries.adjust_business_unread(session, business_id, delta)
    _announce_unread(
        session, business_id, total, conversation.id, conversation.unread_count, conversation.folder
    )


def _announce_unread(
    session: Session,
    business_id: int,
    total: int,
    conversation_id: int,
    conversation_unread: int,
    folder: str,
) -> None:
    queue_event_on_commit(
        session,
        LiveEvent(
            business_id,
            "unread.changed",
            {
                "unread": total,
                "conversation_id": conversation_id,
                "conversation_unread": conversation_unread,
                "folder": folder,
            },
        ),
    )


def _announce_message(
    session: Session, business_id: int, conversation_id: int, message_id: int, direction: str
) -> None:
    queue_event_on_commit(
        session,
        LiveEvent(
            business_id,
            "message.created",
            {"conversation_id": conversation_id, "message_id": message_id, "direction": direction},
        ),
    )

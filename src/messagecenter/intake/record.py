"""Recording client texts: routed by their To, stored once, counted, unread bumped, keyword
rules applied, linked to the automated message it answers (notifications/replies.py), pushed
live. Written set by set for a batch of texts (the intake's hot path),
in the caller's transaction; never refused for content or for lack of allowance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from messagecenter.businesses import billing, usage
from messagecenter.businesses import queries as business_queries
from messagecenter.businesses.billing import period_start, units_for
from messagecenter.carriers.base import InboundSms
from messagecenter.conversations import service as conversations
from messagecenter.intake import after_hours, queries
from messagecenter.intake.keywords import answer_keyword
from messagecenter.integrations import service as webhooks
from messagecenter.models.conversation import FOLDER_UNREAD
from messagecenter.models.message import DIRECTION_INBOUND
from messagecenter.notifications import replies as reply_links
from messagecenter.notifications.queries import AnswerableMessage
from messagecenter.sms.keywords import may_be_keyword
from messagecenter.sms.segments import count_segments, normalize_newlines


@dataclass(frozen=True)
class InboundOutcome:
    message_id: int | None  # None for duplicates and unrouted texts
    business_id: int | None
    duplicate: bool = False
    unrouted: bool = False
    replies: list[int] = field(default_factory=list)  # ids of messages written in response
    # Its business has webhook endpoints: deliveries of its events may be due.
    for_endpoints: bool = False


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
    hooks: list[webhooks.Event] = []  # outgoing webhooks' events, written once at the end
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
            # Cut at anything that may be a keyword: whether it is one for this business
            # (its country, its number) is decided when it is answered.
            if may_be_keyword(text.body):
                outcomes.update(_record_routed(session, run, hooks))
                run = []
    outcomes.update(_record_routed(session, run, hooks))
    webhooks.record_events(session, hooks)  # one query for the whole batch's events
    return [outcomes[index] for index in range(len(texts))]


@dataclass(frozen=True)
class _RoutedText:
    index: int  # its place in the batch
    route: queries.Route
    inbound: InboundSms
    body: str  # CRLF as LF
    at: datetime


def _record_routed(
    session: Session, run: list[_RoutedText], hooks: list[webhooks.Event]
) -> dict[int, InboundOutcome]:
    """Write texts that have a business and are not replays; only the last may be a keyword,
    answered once the others' usage and unread are counted. Their outcomes by place in the
    batch; their webhook events are added to `hooks`."""
    if not run:
        return {}
    counters = _InboundCounters()
    arrivals: dict[tuple[int, str], list[_RoutedText]] = {}
    for text in run:
        arrivals.setdefault((text.route.business_id, text.inbound.from_phone), []).append(text)
    upserted = queries.upsert_inbound_conversations(
        session,
        [
            queries.ConversationTexts(
                business_id,
                phone,
                len(group),
                group[0].at,
                group[-1].at,
                conversations.preview(group[-1].body),
            )
            for (business_id, phone), group in arrivals.items()
        ],
    )
    # New conversations: is the sender a client? (Saving a client with a phone links that
    # phone's existing conversation, so older ones need no lookup.)
    new = [
        key
        for key, conversation in upserted.items()
        if conversation.client_id is None and conversation.created_at == arrivals[key][0].at
    ]
    clients = queries.client_ids_for_phones(session, new)
    queries.set_conversation_clients(
        session, [(upserted[key].id, client_id) for key, client_id in clients.items()]
    )
    answered = reply_links.answered_messages(
        session, [(upserted[_key(text)].id, text.at) for text in run]
    )
    message_ids = queries.insert_message_rows(
        session,
        [
            _inbound_message_row(text, upserted[_key(text)].id, answer)
            for text, answer in zip(run, answered, strict=True)
        ],
    )
    outcomes: dict[int, InboundOutcome] = {}
    still_to_come = {key: len(group) for key, group in arrivals.items()}
    for text in run:  # in arrival order, so usage warnings fall as they would one by one
        message_id = message_ids.get(text.inbound.carrier_sid)
        if message_id is None:  # a concurrent twin committed first
            raise DuplicateDelivery(text.inbound.carrier_sid)
        conversation = upserted[_key(text)]
        still_to_come[_key(text)] -= 1
        # The conversation's unread count as it stood after this text.
        unread = conversation.unread_count - still_to_come[_key(text)]
        counters.add(text, conversation, unread)
        conversations.announce_message(
            session, text.route.business_id, conversation.id, message_id, DIRECTION_INBOUND
        )
        outcomes[text.index] = InboundOutcome(
            message_id, text.route.business_id, for_endpoints=text.route.has_endpoints
        )
        if not text.route.has_endpoints:
            continue  # no endpoint to deliver it to: no event, and no query to find none
        hooks.append(
            webhooks.message_received(
                text.route.business_id,
                message_id,
                conversation.id,
                conversation.client_id or clients.get(_key(text)),
                text.inbound.from_phone,
                text.inbound.to_phone,
                text.body,
                text.inbound.media_urls,
                text.at,
            )
        )
    counters.apply(session)
    hooks += reply_links.record_confirmations(
        session,
        [
            (_client_text(text, message_ids, upserted[_key(text)].id), answer)
            for text, answer in zip(run, answered, strict=True)
            if answer is not None
        ],
    )
    last = run[-1]
    keyword = False
    if may_be_keyword(last.body):  # the keyword rules decide, and may find ordinary text
        message_id = message_ids[last.inbound.carrier_sid]
        conversation_id = upserted[_key(last)].id
        replies = answer_keyword(
            session, last.route, conversation_id, message_id, last.body, last.at
        )
        keyword = bool(replies)
        outcomes[last.index] = InboundOutcome(
            message_id,
            last.route.business_id,
            replies=replies,
            for_endpoints=last.route.has_endpoints,
        )
    ordinary = run[:-1] if keyword else run  # a keyword gets its own answer, never this one
    answers = after_hours.answer_out_of_hours(
        session,
        [
            after_hours.ClientText(text.route.business_id, upserted[_key(text)].id, text.at)
            for text in ordinary
            if text.route.keeps_hours  # never closed otherwise: no query for its hours
        ],
    )
    for text in ordinary:
        answer = answers.pop(upserted[_key(text)].id, None)  # the first text answered
        if answer is not None:
            outcomes[text.index].replies.append(answer)
    return outcomes


def _key(text: _RoutedText) -> tuple[int, str]:
    return text.route.business_id, text.inbound.from_phone


def _client_text(
    text: _RoutedText, message_ids: dict[str, int], conversation_id: int
) -> reply_links.ClientText:
    return reply_links.ClientText(
        message_ids[text.inbound.carrier_sid],
        text.route.business_id,
        conversation_id,
        text.inbound.from_phone,
        text.body,
        text.at,
    )


def _inbound_message_row(
    text: _RoutedText, conversation_id: int, answers: AnswerableMessage | None
) -> dict[str, object]:
    """What differs from one client text's message to the next (the rest is
    queries.INBOUND_CONSTANTS)."""
    info = count_segments(text.body)
    return {
        "business_id": text.route.business_id,
        "conversation_id": conversation_id,
        "from_phone": text.inbound.from_phone,
        "to_phone": text.inbound.to_phone,
        "body": text.body,
        "media_urls": list(text.inbound.media_urls),
        "encoding": info.encoding,
        "segments": info.segments,
        "units": units_for(has_media=bool(text.inbound.media_urls)),
        "carrier_sid": text.inbound.carrier_sid,
        "reply_to_message_id": answers.message_id if answers else None,
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
        """Every business's usage in one statement and every badge in another (the rows
        locked in business order), then the warnings and live events in business order."""
        totals = business_queries.add_inbound_units_many(
            session,
            [
                (business_id, period, sum(steps))
                for business_id, periods in self.units.items()
                for period, steps in periods.items()
            ],
        )
        badges = queries.adjust_unread_many(session, self.unread_delta)
        for business_id in sorted(self.routes):
            route = self.routes[business_id]
            allowance = route.allowance
            capped = billing.capped_units(
                allowance,
                route.overage_policy,
                route.overage_price_per_unit,
                route.monthly_spending_cap,
            )
            for period, steps in sorted(self.units[business_id].items()):
                # Warn as the texts one by one would have (a text that jumps past both
                # thresholds raises only the higher one).
                used = totals[business_id, period] - sum(steps)
                for units in steps:
                    usage.warn_if_crossed(
                        session, business_id, allowance, used, used + units, limit=capped
                    )
                    used += units
            for conversation_id, its_unread in self.conversations[business_id]:
                conversations.announce_unread(
                    session,
                    business_id,
                    badges[business_id],
                    conversation_id,
                    its_unread,
                    FOLDER_UNREAD,
                )


def record_unrouted(session: Session, inbound: InboundSms, at: datetime) -> InboundOutcome:
    """Keep a text that no business's active number can take, attached to no business."""
    new = queries.insert_unrouted(
        session,
        {
            "carrier_sid": inbound.carrier_sid,
            "from_phone": inbound.from_phone,
            "to_phone": inbound.to_phone,
            "body": inbound.body,
            "media_urls": list(inbound.media_urls),
            "received_at": at,
        },
    )
    return InboundOutcome(None, None, duplicate=not new, unrouted=True)

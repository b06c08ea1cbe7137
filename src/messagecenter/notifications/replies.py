"""Replies that belong to something: a client's text that arrives within a day of an automated
message (a notification's) in the same conversation answers it, and is linked to it, so the
thread and the API can say what it answers. A yes (sms/keywords.CONFIRMATION_WORDS) from a
subscribed client to a message of a confirmable type whose text asked for one ("Reply YES to
confirm") records a confirmation on that notification, and so on its booking.

Called by the intake for each batch of client texts: one query for the batch's
conversations, nothing more when none of them had an automated message in the last day.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from messagecenter.consent import service as consent
from messagecenter.conversations.schemas import ReplyToOut
from messagecenter.integrations import service as webhooks
from messagecenter.models import Business, Message
from messagecenter.notifications import formats, queries
from messagecenter.notifications.catalogue import TYPES
from messagecenter.notifications.queries import AnswerableMessage
from messagecenter.sms.keywords import is_confirmation

REPLY_WINDOW = timedelta(hours=24)
# A text asks for a confirmation when it names the word YES in capitals ("Reply YES to
# confirm"); the business words it, so this is the one rule it has to follow.
ASKS_TO_CONFIRM = re.compile(r"\bYES\b")


@dataclass(frozen=True)
class ClientText:
    """A client's text as the intake recorded it."""

    message_id: int
    business_id: int
    conversation_id: int
    phone: str
    body: str
    at: datetime


def answered_messages(
    session: Session, texts: Sequence[tuple[int, datetime]]
) -> list[AnswerableMessage | None]:
    """For each (conversation id, arrival time), the automated message it answers: the
    latest notification message of that conversation handed to the carrier in the day before
    the text, or None."""
    if not texts:
        return []
    since = min(at for _, at in texts) - REPLY_WINDOW
    found: dict[int, list[AnswerableMessage]] = {}
    for row in queries.answerable_messages(session, {c for c, _ in texts}, since):
        found.setdefault(row.conversation_id, []).append(row)
    answers: list[AnswerableMessage | None] = []
    for conversation_id, at in texts:
        candidates = [
            m for m in found.get(conversation_id, ()) if at - REPLY_WINDOW <= m.sent_at <= at
        ]
        answers.append(candidates[-1] if candidates else None)
    return answers


def record_confirmations(
    session: Session, texts: Sequence[tuple[ClientText, AnswerableMessage]]
) -> list[webhooks.Event]:
    """Confirm the notifications these replies say yes to, where the client is subscribed
    (from an unsubscribed client YES is the opt-in keyword, nothing more) and the message
    asked for it. The first yes stands. The notification.confirmed events of those confirmed
    now, for the caller to record with its other webhook events."""
    candidates = [
        (text, answered)
        for text, answered in texts
        if is_confirmation(text.body)
        and TYPES[answered.type].confirmable
        and ASKS_TO_CONFIRM.search(answered.body)
    ]
    phones: dict[int, set[str]] = {}
    for text, _ in candidates:
        phones.setdefault(text.business_id, set()).add(text.phone)
    opted_out = {  # one consent query per business of the batch (usually one)
        (business_id, phone)
        for business_id, its_phones in phones.items()
        for phone in consent.unsubscribed_among(session, business_id, its_phones)
    }
    confirmed: list[int] = []
    for text, answered in candidates:
        if (text.business_id, text.phone) in opted_out:
            continue
        if queries.confirm(session, answered.notification_id, text.message_id, text.at):
            confirmed.append(answered.notification_id)
    return [
        webhooks.notification_confirmed(notification, notification.confirmation_message_id)
        for notification in queries.notifications_by_id(session, confirmed)
    ]


def replies_to(
    session: Session, business: Business, messages: Sequence[Message]
) -> dict[int, ReplyToOut]:
    """For these messages (a page of a thread), what each client text among them answers,
    as the thread and the API show it. Only a text that answers a message can answer a
    notification: a page without one reads nothing."""
    answering = [m.id for m in messages if m.reply_to_message_id is not None]
    shown: dict[int, ReplyToOut] = {}
    for target in queries.reply_targets(session, answering):
        kind = TYPES[target.type]
        label = kind.label
        booking_at = target.data.get("booking_at")
        if booking_at:
            when = datetime.fromisoformat(booking_at)
            label += ", " + formats.short_when(when, business.timezone, business.country)
        shown[target.reply_message_id] = ReplyToOut(
            message_id=target.message_id,
            notification_id=target.notification_id,
            type=target.type,
            reference=target.reference,
            label=label,
            confirms=target.confirmed_by_this,
        )
    return shown

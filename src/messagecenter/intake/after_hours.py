"""A client's text out of the business's hours answered (Settings → Business hours; the
wording and its switch under Automated messages): at most once a client every ANSWER_EVERY,
never to a keyword, and through the same send path as any message, so it counts, and goes
neither to a client who opted out nor past a hard stop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from messagecenter.businesses import hours
from messagecenter.models import Business, Conversation
from messagecenter.notifications import service as notifications
from messagecenter.sending.compose import Outgoing, Sender, queue_messages

ANSWER_EVERY = timedelta(hours=12)


@dataclass(frozen=True)
class ClientText:
    business_id: int
    conversation_id: int
    at: datetime


def answer_out_of_hours(session: Session, texts: Sequence[ClientText]) -> dict[int, int]:
    """Answer the texts that came in while their business was closed; the answers queued,
    by conversation. The intake passes only texts to businesses that have said their hours
    (Route.keeps_hours, read with the route), so most batches make no query here."""
    if not texts:
        return {}
    weeks = hours.weeks_of(session, {text.business_id for text in texts})
    answered: dict[int, int] = {}
    for text in texts:
        week = weeks.get(text.business_id)
        if not week or text.conversation_id in answered:
            continue
        business = session.get(Business, text.business_id)
        assert business is not None
        if hours.is_open(week, business.timezone, text.at):
            continue
        # Reloaded: the intake wrote the row past the ORM.
        conversation = session.get(Conversation, text.conversation_id, populate_existing=True)
        assert conversation is not None
        last = conversation.after_hours_answered_at
        if conversation.blocked_at is not None or (
            last is not None and text.at - last < ANSWER_EVERY
        ):
            continue  # a blocked number gets nothing back
        body = notifications.after_hours_answer(session, business)
        if body is None:  # switched off
            continue
        (queued,) = queue_messages(
            session,
            business,
            [Outgoing(body, conversation=conversation)],
            sender=Sender.automated(),
            at=text.at,
        )
        if isinstance(queued, int):  # else opted out, or past a hard stop: not answered
            conversation.after_hours_answered_at = text.at
            answered[text.conversation_id] = queued
    session.flush()
    return answered

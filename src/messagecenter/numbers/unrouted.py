"""Texts that reached a number the business has released (a client with an old number
saved): the carrier delivered them to no conversation. The owner sees them with the client's
name where the number is a client's, and answers from the current number: the reply opens
(or starts) the conversation with that phone, so it goes out like any other."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.businesses import queries as business_queries
from messagecenter.clients import queries as client_queries
from messagecenter.conversations import queries as conversation_queries
from messagecenter.errors import Conflict, NotFound
from messagecenter.models import Business, Client, Conversation, UnroutedMessage

LISTED = 200  # the newest, on the owner's page
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")  # a sender a text can go back to


@dataclass(frozen=True)
class UnroutedText:
    message: UnroutedMessage
    client: Client | None  # the business's client with this cell phone (the first by name)
    can_answer: bool  # the sender is a phone number (not an address of another kind)


def unrouted_texts(session: Session, business_id: int) -> list[UnroutedText]:
    """The newest texts to the business's old numbers, newest first, with their clients."""
    texts = business_queries.unrouted_for(session, business_id, limit=LISTED)
    phones = {t.from_phone for t in texts if _E164.match(t.from_phone)}
    clients: dict[str, Client] = {}
    for phone in sorted(phones):
        found = client_queries.clients_by_cell_phone(session, business_id, phone)
        if found:
            clients[phone] = found[0]
    return [
        UnroutedText(t, clients.get(t.from_phone), bool(_E164.match(t.from_phone))) for t in texts
    ]


def unrouted_count(session: Session, business_id: int) -> int:
    return business_queries.unrouted_count(session, business_id)


def answer_from_current_number(
    session: Session, business: Business, unrouted_id: int, at: datetime
) -> tuple[Conversation, UnroutedMessage, str]:
    """The conversation (opened, or started) in which to answer this text from the
    business's current number, the text, and that number. Refused while the business has no
    active number or when the sender is no phone number."""
    text = business_queries.unrouted_of(session, business.id, unrouted_id)
    if text is None:
        raise NotFound("No such text.")
    if not _E164.match(text.from_phone):
        raise Conflict("This text came from an address that cannot be texted back.")
    current = business_queries.active_number(session, business.id)
    if current is None:
        raise Conflict("Choose an SMS number in Settings before texting back.")
    matches = client_queries.clients_by_cell_phone(session, business.id, text.from_phone)
    client_id = matches[0].id if matches else None
    conversation = conversation_queries.ensure_conversation(
        session, business.id, text.from_phone, client_id, at
    )
    if conversation.client_id is None and client_id is not None:
        conversation.client_id = client_id
    return conversation, text, current.phone_number

"""Saved replies: each business's own answers to what clients often ask. A name (what staff
type after "/" in the composer) and a text with the client's and the business's variables,
checked when saved and filled in for one conversation's client when used."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.errors import Conflict, InvalidInput, NotFound
from messagecenter.models import Business, Client, Conversation, SavedReply
from messagecenter.models.saved_reply import MAX_NAME
from messagecenter.notifications import service as notifications
from messagecenter.notifications.catalogue import BUSINESS_VARIABLES, CLIENT_VARIABLES
from messagecenter.notifications.templates import (
    BookingData,
    Recipient,
    check_variables,
    render,
)
from messagecenter.saved_replies import queries
from messagecenter.sending.compose import MAX_BODY_CHARACTERS

VARIABLES = CLIENT_VARIABLES + BUSINESS_VARIABLES
# Lowercase letters, digits and dashes: typed after "/" without a space ("/hours").
NAME = re.compile(r"[a-z0-9][a-z0-9-]*")


def list_replies(session: Session, business: Business) -> list[SavedReply]:
    return queries.saved_replies(session, business.id)


def get_reply(session: Session, business: Business, reply_id: int) -> SavedReply:
    found = queries.saved_reply(session, business.id, reply_id)
    if found is None:
        raise NotFound("No such saved reply.")
    return found


def save_reply(
    session: Session,
    business: Business,
    *,
    name: str,
    body: str,
    at: datetime,
    reply: SavedReply | None = None,
) -> SavedReply:
    """A new saved reply, or `reply` changed. Refused: a name that is not one short word, or
    another reply's; an empty or too long text; a variable a saved reply cannot have."""
    name = name.strip().lower()
    if not NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise InvalidInput(
            f"Name it with one short word staff can type after /: lowercase letters, digits "
            f"and dashes, at most {MAX_NAME} characters (e.g. hours, parking).",
            field="name",
        )
    if not body.strip():
        raise InvalidInput("Write the reply's text.", field="body")
    if len(body) > MAX_BODY_CHARACTERS:
        raise InvalidInput(
            f"The text is {len(body):,} characters; the limit is {MAX_BODY_CHARACTERS:,}.",
            field="body",
        )
    check_variables(body, VARIABLES, "a saved reply")
    same = queries.named(session, business.id, name)
    if same is not None and same is not reply:
        raise Conflict(
            f"A saved reply is already named {name}: choose another name.", code="name_taken"
        )
    if reply is None:
        reply = SavedReply(business_id=business.id, created_at=at)
        session.add(reply)
    reply.name, reply.body, reply.updated_at = name, body, at
    session.flush()
    return reply


def delete_reply(session: Session, reply: SavedReply) -> None:
    session.delete(reply)
    session.flush()


def text_for(
    session: Session, business: Business, reply: SavedReply, conversation: Conversation
) -> str:
    """The reply as it would go to this conversation's client: a variable their profile
    lacks (an unidentified sender has no first name) refuses, naming it."""
    client = session.get(Client, conversation.client_id) if conversation.client_id else None
    recipient = (
        Recipient(client.first_name, client.last_name or "") if client else Recipient("", "")
    )
    sender = notifications.template_sender(session, business)
    return render(reply.body, recipient, sender, BookingData(), field="saved_reply_id")

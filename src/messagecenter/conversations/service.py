"""Conversations: inbox state (folders, read and unread, pin, mute, archive, the client a
sender turns out to be) and the live events that tell the inbox.

Texts are recorded by the intake (messagecenter.intake) and messages created by sending
(messagecenter.sending.compose); both tell the conversation through the functions at the end.
Services take a Session and never commit; the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.conversations import queries
from messagecenter.errors import NotFound
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.models import Client, Conversation
from messagecenter.models.conversation import (
    FOLDER_ARCHIVED,
    FOLDER_READ,
    FOLDER_REPLIED,
    FOLDER_UNREAD,
)

PREVIEW_LENGTH = 160


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


def preview(body: str) -> str:
    """A conversation's last-message line in the inbox."""
    return (body or "(picture message)")[:PREVIEW_LENGTH]


def note_outbound(
    session: Session,
    business_id: int,
    conversation: Conversation,
    body: str,
    at: datetime,
    *,
    answered: bool,
) -> None:
    """A message to the client was written into the conversation. `answered`: a person (or
    their API key) wrote it, and answering a conversation means it has been read."""
    note_outbound_many(session, business_id, [(conversation, body)], at, answered=answered)


def note_outbound_many(
    session: Session,
    business_id: int,
    written: Sequence[tuple[Conversation, str]],
    at: datetime,
    *,
    answered: bool,
) -> None:
    """note_outbound for a batch of messages, in order: each conversation ends with its last
    message's preview, and the business's unread badge moves once for the whole batch (one
    UPDATE, not one per conversation), each answered conversation announced with the total."""
    last: dict[int, tuple[Conversation, str]] = {}
    for conversation, body in written:
        last[conversation.id] = (conversation, body)
    emptied: list[Conversation] = []
    delta = 0
    for conversation, body in last.values():
        conversation.last_message_at = at
        conversation.last_message_preview = preview(body)
        if not answered:
            continue
        seen = conversation.unread_count
        conversation.unread_count = 0
        conversation.last_read_at = at
        if conversation.folder != FOLDER_ARCHIVED or seen:
            conversation.folder = FOLDER_REPLIED
        if seen:
            emptied.append(conversation)
            delta -= 0 if conversation.muted else seen
    if not emptied:
        return
    session.flush()
    total = queries.adjust_business_unread(session, business_id, delta)
    for conversation in emptied:
        announce_unread(session, business_id, total, conversation.id, 0, conversation.folder)


def _change_unread(
    session: Session, business_id: int, conversation: Conversation, delta: int
) -> None:
    total = queries.adjust_business_unread(session, business_id, delta)
    announce_unread(
        session, business_id, total, conversation.id, conversation.unread_count, conversation.folder
    )


def announce_unread(
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


def announce_message(
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

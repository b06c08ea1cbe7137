"""Conversations: inbox state (folders, read and unread, pin, mute, archive, the client a
sender turns out to be) and the live events that tell the inbox.

Texts are recorded by the intake (messagecenter.intake) and messages created by sending
(messagecenter.sending.compose); both tell the conversation through the functions at the end.
Services take a Session and never commit; the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.conversations import queries
from messagecenter.conversations.queries import ConversationState
from messagecenter.errors import Conflict, InvalidInput, NotFound
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.models import Client, Conversation, Message
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


def conversation_shown(
    session: Session, business_id: int, conversation_id: int
) -> queries.ShownConversation:
    found = queries.conversation_shown(session, business_id, conversation_id)
    if found is None:
        raise NotFound("No such conversation.")
    return found


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
    if muted is False and conversation.blocked_at is not None:
        raise Conflict(
            "This number is blocked, which keeps it muted: unblock it first.", code="blocked"
        )
    if muted is not None and muted != conversation.muted:
        conversation.muted = muted
        # Muted conversations are left out of the badge.
        delta = -conversation.unread_count if muted else conversation.unread_count
    session.flush()
    _change_unread(session, business_id, conversation, delta)
    return conversation


def block(session: Session, business_id: int, conversation_id: int, at: datetime) -> Conversation:
    """Block the conversation's number: its texts are still stored and counted, but it leaves
    the inbox (for the Blocked view) and the badge (it is muted, if it was not)."""
    conversation = _locked(session, business_id, conversation_id)
    if conversation.blocked_at is not None:
        return conversation
    was_muted = conversation.muted
    update_flags(session, business_id, conversation_id, muted=True)
    conversation.blocked_at, conversation.muted_by_block = at, not was_muted
    session.flush()
    return conversation


def unblock(session: Session, business_id: int, conversation_id: int) -> Conversation:
    """Bring a blocked conversation back to the inbox (and the badge, unless it was muted
    before it was blocked)."""
    conversation = _locked(session, business_id, conversation_id)
    if conversation.blocked_at is None:
        return conversation
    unmute = conversation.muted_by_block
    conversation.blocked_at, conversation.muted_by_block = None, False
    session.flush()
    if unmute:
        update_flags(session, business_id, conversation_id, muted=False)
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


def write_outbound(
    session: Session,
    business_id: int,
    written: Sequence[tuple[str, int | None, str]],
    at: datetime,
    *,
    answered: bool,
    locked: dict[str, ConversationState] | None = None,
) -> dict[str, int]:
    """Messages to these phones are being written, in order, as (phone, the client they are
    for or None, body): each phone's conversation id, the conversation created where new.
    `locked`: lock_for_writing's answer for these phones, when the caller locked them first.

    Each conversation ends with its last message's preview and names the client where it
    named none. With `answered` (a person or their API key wrote them) each is read and in
    Replied (an archived one stays archived unless it had unread texts), and the business's
    unread badge moves once for the batch, each emptied conversation announced with the
    total. New conversations are inserted as they end; the others change in one executemany.
    """
    last: dict[str, str] = {}
    clients: dict[str, int] = {}
    for phone, client_id, body in written:
        last[phone] = body
        if client_id is not None:
            clients.setdefault(phone, client_id)
    if locked is None:
        locked = lock_for_writing(session, business_id, last)
    states = {phone: locked[phone] for phone in last if phone in locked}
    ids = {phone: state.id for phone, state in states.items()}
    new = [phone for phone in last if phone not in states]
    ids.update(queries.insert_conversations(session, [
        {
            "business_id": business_id,
            "phone": phone,
            "client_id": clients.get(phone),
            "folder": FOLDER_REPLIED if answered else FOLDER_READ,
            "unread_count": 0,
            "pinned": False,
            "muted": False,
            "last_message_at": at,
            "last_message_preview": preview(last[phone]),
            "last_read_at": at if answered else None,
            "created_at": at,
        }
        for phone in new
    ]))  # fmt: skip
    raced = [phone for phone in new if phone not in ids]  # another transaction made it first
    if raced:
        states.update(queries.lock_conversations(session, business_id, raced))
        ids.update({phone: states[phone].id for phone in raced})
    changes: list[dict[str, object]] = []
    emptied: list[ConversationState] = []
    delta = 0
    for phone, state in states.items():
        change = {
            "conversation_id": state.id,
            "at": at,
            "preview": preview(last[phone]),
            "client_id": clients.get(phone),
        }
        if answered:
            replied = state.folder != FOLDER_ARCHIVED or state.unread_count
            change["folder"] = FOLDER_REPLIED if replied else state.folder
            if state.unread_count:
                emptied.append(state)
                delta -= 0 if state.muted else state.unread_count
        changes.append(change)
    queries.note_written(session, changes, answered=answered)
    _expire_loaded(session, [state.id for state in states.values()])
    if emptied:
        total = queries.adjust_business_unread(session, business_id, delta)
        for state in emptied:
            announce_unread(session, business_id, total, state.id, 0, FOLDER_REPLIED)
    return ids


# The newer messages a refused send answers with (the API's 409; the page shows them).
NEWER_SHOWN = 50


class ConversationChanged(Conflict):
    """Someone wrote in the conversation after the message the sender last saw: nothing was
    sent, and the newer messages go back with the refusal."""

    code = "conversation_changed"

    def __init__(self, newer: list[Message]) -> None:
        count = f"{len(newer)} newer message" + ("s" if len(newer) != 1 else "")
        super().__init__(
            f"This conversation has {count} since the one you last saw: nothing was sent. "
            "Read them, then send again with last_seen_message_id set to the newest.",
            field="last_seen_message_id",
        )
        self.newer = newer


def ensure_seen_through(session: Session, conversation: Conversation, message_id: int) -> None:
    """Refuse a send (ConversationChanged) when the conversation has a message newer than
    `message_id`, the newest its sender saw (0: none). The conversation is locked first, so of two
    staff answering from the same message one sends and the other is refused (the lock is
    held until the send commits)."""
    lock_for_writing(session, conversation.business_id, [conversation.phone])
    # 0: the sender saw the conversation empty (the page's composer on a new one).
    if message_id != 0 and not queries.holds_message(session, conversation.id, message_id):
        raise InvalidInput(
            "last_seen_message_id is not a message of this conversation.",
            field="last_seen_message_id",
        )
    newer = queries.messages_after(
        session, conversation.business_id, conversation.id, message_id, limit=NEWER_SHOWN
    )
    if newer:
        raise ConversationChanged(newer)


def lock_for_writing(
    session: Session, business_id: int, phones: Iterable[str]
) -> dict[str, ConversationState]:
    """The conversations of these phones that exist, locked (in id order) for messages to
    be written into them, as they are now."""
    session.flush()  # the session's own pending changes land before the rows are read
    return queries.lock_conversations(session, business_id, phones)


def _expire_loaded(session: Session, conversation_ids: Sequence[int]) -> None:
    """Conversations this session has loaded read anew after a statement changed them."""
    for conversation_id in conversation_ids:
        loaded = session.identity_map.get(session.identity_key(Conversation, conversation_id))
        if loaded is not None:
            session.expire(loaded)


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

"""Assignment: who answers a conversation (an active staff member of its business, or nobody),
each change kept as an event the thread shows and announced live to the new assignee; and each
staff member's own read marker ("new since I last looked"), apart from the shared unread state.

Services take a Session and never commit; the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.conversations import queries, service
from messagecenter.errors import InvalidInput
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.models import Conversation, ConversationEvent, StaffMember
from messagecenter.models.conversation_event import EVENT_ASSIGNED
from messagecenter.models.staff import BADGE_MINE

# The thread shows at most this many of a conversation's newest events.
EVENTS_SHOWN = 50


@dataclass(frozen=True)
class ChangedBy:
    """Who changed the assignee: a staff member on the page, or an API key."""

    staff_id: int | None = None
    api_key_id: int | None = None


def assign(
    session: Session,
    business_id: int,
    conversation_id: int,
    assignee_id: int | None,
    *,
    by: ChangedBy,
    at: datetime,
) -> Conversation:
    """Assign the conversation to `assignee_id` (None: leave it unassigned). Only an active
    staff member of the conversation's business can be; anyone else is refused and nothing
    changes. A change is kept as an event and reaches the new assignee live; assigning the
    one already assigned changes nothing."""
    conversation = service.get_conversation(session, business_id, conversation_id)
    assignee = None
    if assignee_id is not None:
        assignee = queries.business_staff_member(session, business_id, assignee_id)
        if assignee is None:
            raise InvalidInput(
                "No such staff member in this business: choose one from the staff list, "
                "or null to leave the conversation unassigned.",
                field="assignee_id",
            )
        if not assignee.active:
            raise InvalidInput(
                f"{assignee.name} is deactivated: assign the conversation to an active staff "
                "member.",
                field="assignee_id",
            )
    session.refresh(conversation, with_for_update=True)
    if conversation.assignee_id == assignee_id:
        return conversation
    previous = conversation.assignee_id
    conversation.assignee_id = assignee_id
    queries.add_event(
        session,
        ConversationEvent(
            business_id=business_id,
            conversation_id=conversation_id,
            kind=EVENT_ASSIGNED,
            assignee_id=assignee_id,
            staff_member_id=by.staff_id,
            api_key_id=by.api_key_id,
            created_at=at,
        ),
    )
    by_name = (
        queries.staff_names(session, [by.staff_id]).get(by.staff_id, "") if by.staff_id else ""
    )
    queue_event_on_commit(
        session,
        LiveEvent(
            business_id,
            "conversation.assigned",
            {
                "conversation_id": conversation_id,
                "assignee_id": assignee_id,
                "assignee_name": assignee.name if assignee else None,
                "previous_assignee_id": previous,
                "by_staff_id": by.staff_id,
                "by_name": by_name,
            },
        ),
    )
    return conversation


@dataclass(frozen=True)
class EventLine:
    """An event as the thread shows it."""

    id: int
    created_at: datetime
    text: str


def event_lines(session: Session, business_id: int, conversation_id: int) -> list[EventLine]:
    """The conversation's newest events, oldest first, in words."""
    events = queries.conversation_events(session, business_id, conversation_id, limit=EVENTS_SHOWN)
    names = queries.staff_names(
        session,
        [e.assignee_id for e in events if e.assignee_id]
        + [e.staff_member_id for e in events if e.staff_member_id],
    )
    lines = []
    for event in events:
        who = names.get(event.staff_member_id or 0) or ("the API" if event.api_key_id else "")
        text = (
            f"Assigned to {names.get(event.assignee_id, 'a staff member')}"
            if event.assignee_id
            else "Left unassigned"
        )
        lines.append(EventLine(event.id, event.created_at, f"{text}{f' by {who}' if who else ''}"))
    return lines


def assignee_names(session: Session, conversations: Iterable[Conversation]) -> dict[int, str]:
    """The assignees' names, by conversation id."""
    assigned = {c.id: c.assignee_id for c in conversations if c.assignee_id}
    names = queries.staff_names(session, assigned.values())
    return {cid: names[sid] for cid, sid in assigned.items() if sid in names}


# ---------------------------------------------------------------------------- read markers


def mark_seen(session: Session, staff_id: int, conversation: Conversation) -> None:
    """The staff member opened the conversation: its messages so far are seen by them."""
    newest = queries.newest_message_ids(session, [conversation.id]).get(conversation.id)
    if newest is not None:
        queries.move_read_marker(session, staff_id, conversation.id, newest)


def new_among(marks: Mapping[int, queries.RowMarks]) -> set[int]:
    """Among these conversations (their row marks, queries.row_marks), those with a message
    newer than the staff member last saw (bold for them)."""
    return {
        cid
        for cid, mark in marks.items()
        if mark.newest_message_id is not None and mark.newest_message_id > mark.seen_message_id
    }


def badge_count(session: Session, staff: StaffMember, business_unread: int) -> int:
    """What the staff member's top-bar badge shows: the business's unread client messages
    (the shared rule), or only those of the conversations assigned to them."""
    if staff.badge_counts == BADGE_MINE:
        return queries.assigned_unread(session, staff.business_id, staff.id)
    return business_unread

"""SQL for internal notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, bindparam, select, update
from sqlalchemy.orm import Session

from messagecenter.models import Note, NoteMention, StaffMember


def notes_between(
    session: Session,
    conversation_id: int,
    *,
    since: datetime | None = None,
    before: datetime | None = None,
) -> list[Note]:
    """The conversation's notes written at or after `since` and before `before`, oldest first
    (None: no bound)."""
    query = select(Note).where(Note.conversation_id == conversation_id)
    if since is not None:
        query = query.where(Note.created_at >= since)
    if before is not None:
        query = query.where(Note.created_at < before)
    return list(session.scalars(query.order_by(Note.created_at, Note.id)))


def active_staff(session: Session, business_id: int) -> list[StaffMember]:
    """Who a note can mention: the business's active staff."""
    return list(
        session.scalars(
            select(StaffMember)
            .where(StaffMember.business_id == business_id, StaffMember.active.is_(True))
            .order_by(StaffMember.id)
        )
    )


def add_mentions(session: Session, note: Note, staff_ids: list[int]) -> None:
    session.add_all(
        NoteMention(
            business_id=note.business_id,
            note_id=note.id,
            conversation_id=note.conversation_id,
            staff_member_id=staff_id,
            created_at=note.created_at,
        )
        for staff_id in staff_ids
    )


_UNSEEN_MENTIONS = (  # built once: every staff page reads it
    select(NoteMention, Note)
    .join(Note, Note.id == NoteMention.note_id)
    .where(
        NoteMention.staff_member_id == bindparam("staff_id"),
        NoteMention.seen_at.is_(None),
        NoteMention.business_id == bindparam("business_id"),
    )
    .order_by(NoteMention.id.desc())
    .limit(bindparam("limit", type_=Integer))
)


def unseen_mentions(
    session: Session, business_id: int, staff_id: int, *, limit: int
) -> list[tuple[NoteMention, Note]]:
    """The staff member's mentions they have not yet seen, newest first, with their notes."""
    rows = session.execute(
        _UNSEEN_MENTIONS, {"staff_id": staff_id, "business_id": business_id, "limit": limit}
    )
    return [(mention, note) for mention, note in rows]


def mark_mentions_seen(session: Session, staff_id: int, conversation_id: int, at: datetime) -> None:
    session.execute(
        update(NoteMention)
        .where(
            NoteMention.staff_member_id == staff_id,
            NoteMention.seen_at.is_(None),
            NoteMention.conversation_id == conversation_id,
        )
        .values(seen_at=at)
    )

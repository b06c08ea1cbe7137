"""SQL for internal notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.models import Note, StaffMember


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

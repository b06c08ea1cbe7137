"""SQL for saved replies."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.models import SavedReply


def saved_replies(session: Session, business_id: int) -> list[SavedReply]:
    return list(
        session.scalars(
            select(SavedReply)
            .where(SavedReply.business_id == business_id)
            .order_by(SavedReply.name)
        )
    )


def saved_reply(session: Session, business_id: int, reply_id: int) -> SavedReply | None:
    return session.scalar(
        select(SavedReply).where(SavedReply.business_id == business_id, SavedReply.id == reply_id)
    )


def named(session: Session, business_id: int, name: str) -> SavedReply | None:
    return session.scalar(
        select(SavedReply).where(SavedReply.business_id == business_id, SavedReply.name == name)
    )

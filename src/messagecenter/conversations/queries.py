"""SQL for conversations and messages. Every read is scoped by business: tenant isolation
lives here, so no caller can reach another business's rows by id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from messagecenter.db import insert_ignore
from messagecenter.models import Business, Client, Conversation, Message
from messagecenter.models.conversation import FOLDER_READ


def get_conversation(
    session: Session, business_id: int, conversation_id: int, *, for_update: bool = False
) -> Conversation | None:
    stmt = select(Conversation).where(
        Conversation.id == conversation_id, Conversation.business_id == business_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def conversation_for_phone(
    session: Session, business_id: int, phone: str, *, for_update: bool = False
) -> Conversation | None:
    stmt = select(Conversation).where(
        Conversation.business_id == business_id, Conversation.phone == phone
    )
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def ensure_conversation(
    session: Session, business_id: int, phone: str, client_id: int | None, at: datetime
) -> Conversation:
    """The conversation for this business and phone, created if new, locked for update."""
    insert_ignore(
        session,
        Conversation.__table__,  # type: ignore[arg-type]
        {
            "business_id": business_id,
            "phone": phone,
            "client_id": client_id,
            "folder": FOLDER_READ,
            "unread_count": 0,
            "pinned": False,
            "muted": False,
            "last_message_at": at,
            "last_message_preview": "",
            "created_at": at,
        },
        ["business_id", "phone"],
    )
    conversation = conversation_for_phone(session, business_id, phone, for_update=True)
    assert conversation is not None
    session.refresh(conversation)
    return conversation


def adjust_business_unread(session: Session, business_id: int, delta: int) -> int:
    """Move the business's unread badge counter; returns the new total."""
    if delta == 0:
        return business_unread(session, business_id)
    total = session.execute(
        update(Business)
        .where(Business.id == business_id)
        .values(unread_messages=Business.unread_messages + delta)
        .returning(Business.unread_messages)
    ).scalar_one()
    return int(total)


def business_unread(session: Session, business_id: int) -> int:
    total = session.scalar(select(Business.unread_messages).where(Business.id == business_id))
    return int(total or 0)


def client_for_phone(session: Session, business_id: int, phone: str) -> Client | None:
    return session.scalar(
        select(Client)
        .where(Client.business_id == business_id, Client.cell_phone == phone)
        .order_by(Client.id)
        .limit(1)
    )


@dataclass(frozen=True)
class ConversationFilter:
    folder: str | None = None
    client_id: int | None = None
    search: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


def list_conversations(
    session: Session, business_id: int, flt: ConversationFilter
) -> tuple[list[tuple[Conversation, Client | None]], int]:
    stmt = (
        select(Conversation, Client)
        .outerjoin(Client, Client.id == Conversation.client_id)
        .where(Conversation.business_id == business_id)
    )
    if flt.folder:
        stmt = stmt.where(Conversation.folder == flt.folder)
    if flt.client_id is not None:
        stmt = stmt.where(Conversation.client_id == flt.client_id)
    if flt.since is not None:
        stmt = stmt.where(Conversation.last_message_at >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Conversation.last_message_at < flt.until)
    if flt.search and flt.search.strip():
        term = contains_pattern(flt.search.lower())
        stmt = stmt.where(
            or_(
                Conversation.phone.like(contains_pattern(flt.search), escape="\\"),
                func.lower(Client.first_name + " " + Client.last_name).like(term, escape="\\"),
                func.lower(Conversation.last_message_preview).like(term, escape="\\"),
            )
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.execute(
        stmt.order_by(
            Conversation.pinned.desc(), Conversation.last_message_at.desc(), Conversation.id.desc()
        )
        .limit(flt.limit)
        .offset(flt.offset)
    ).all()
    return [(row[0], row[1]) for row in rows], int(total)


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, with the user's own % and _ taken literally."""
    escaped = text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def get_message(session: Session, business_id: int, message_id: int) -> Message | None:
    return session.scalar(
        select(Message).where(Message.id == message_id, Message.business_id == business_id)
    )


def list_messages(
    session: Session, business_id: int, conversation_id: int, *, limit: int, before_id: int | None
) -> list[Message]:
    stmt = select(Message).where(
        Message.business_id == business_id, Message.conversation_id == conversation_id
    )
    if before_id is not None:
        stmt = stmt.where(Message.id < before_id)
    rows = session.scalars(stmt.order_by(Message.id.desc()).limit(limit))
    return list(reversed(list(rows)))


def last_inbound_body(session: Session, conversation_id: int) -> str | None:
    return session.scalar(
        select(Message.body)
        .where(Message.conversation_id == conversation_id, Message.direction == "inbound")
        .order_by(Message.id.desc())
        .limit(1)
    )


def sender_names(
    session: Session, staff_ids: set[int], api_key_ids: set[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """Display names of the staff members and API keys that sent messages."""
    from messagecenter.models import ApiKey, StaffMember

    staff: dict[int, str] = {}
    keys: dict[int, str] = {}
    if staff_ids:
        rows = session.execute(
            select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(staff_ids))
        )
        staff = {row.id: row.name for row in rows}
    if api_key_ids:
        rows = session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(api_key_ids)))
        keys = {row.id: row.name for row in rows}
    return staff, keys

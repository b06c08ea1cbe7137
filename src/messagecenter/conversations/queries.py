"""SQL for conversations and messages. Every read is scoped by business: tenant isolation
lives here, so no caller can reach another business's rows by id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from messagecenter.db import insert_ignore
from messagecenter.models import (
    Business,
    Client,
    Conversation,
    Message,
    Plan,
    SmsNumber,
    UsagePeriod,
)
from messagecenter.models.base import UTCDateTime
from messagecenter.models.conversation import FOLDER_READ, FOLDER_UNREAD
from messagecenter.models.sms_number import NUMBER_ACTIVE


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
    total = session.connection().execute(
        _ADJUST_UNREAD, {"business_id": business_id, "delta": delta}
    )
    return int(total.scalar_one())


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
    conditions: list[ColumnElement[bool]] = [Conversation.business_id == business_id]
    if flt.folder:
        conditions.append(Conversation.folder == flt.folder)
    if flt.client_id is not None:
        conditions.append(Conversation.client_id == flt.client_id)
    if flt.since is not None:
        conditions.append(Conversation.last_message_at >= flt.since)
    if flt.until is not None:
        conditions.append(Conversation.last_message_at < flt.until)
    searching = bool(flt.search and flt.search.strip())
    if searching:
        assert flt.search is not None
        term = contains_pattern(flt.search.lower())
        conditions.append(
            or_(
                Conversation.phone.like(contains_pattern(flt.search), escape="\\"),
                func.lower(Client.first_name + " " + Client.last_name).like(term, escape="\\"),
                func.lower(Conversation.last_message_preview).like(term, escape="\\"),
            )
        )
    stmt = (
        select(Conversation, Client)
        .outerjoin(Client, Client.id == Conversation.client_id)
        .where(*conditions)
    )
    # Without a search the count needs no client names: it counts off the inbox index.
    counting = select(func.count()).select_from(Conversation)
    if searching:
        counting = counting.outerjoin(Client, Client.id == Conversation.client_id)
    total = session.scalar(counting.where(*conditions)) or 0
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


# ---------------------------------------------------------------------------- inbound hot path
# Every client text runs these, so they are built once (with bind parameters) for each
# dialect and touch each row once: route, duplicate check, conversation upsert, message insert.


class Route(NamedTuple):
    business_id: int
    timezone: str
    allowance: int
    sms_number_id: int
    sms_number: str


class InboundConversation(NamedTuple):
    id: int
    client_id: int | None
    muted: bool
    unread_count: int
    created_at: datetime  # equal to the text's time when this text started it


# Core statements on the tables (not the mapped classes): they skip the ORM's own layer.
_businesses = cast(Table, Business.__table__)
_numbers = cast(Table, SmsNumber.__table__)
_plans = cast(Table, Plan.__table__)
_clients = cast(Table, Client.__table__)
_conversations = cast(Table, Conversation.__table__)
_messages = cast(Table, Message.__table__)
# A literal, so SQLite can use the partial unique index on active numbers.
_IS_ACTIVE = _numbers.c.status == literal_column(f"'{NUMBER_ACTIVE}'")
_ROUTES = (
    select(
        _businesses.c.id,
        _businesses.c.timezone,
        _plans.c.monthly_allowance,
        _numbers.c.id,
        _numbers.c.phone_number,
    )
    .select_from(
        _numbers.join(_businesses, _numbers.c.business_id == _businesses.c.id).join(
            _plans, _plans.c.id == _businesses.c.plan_id
        )
    )
    .where(_numbers.c.phone_number.in_(bindparam("to_phones", expanding=True)), _IS_ACTIVE)
)
_STORED_SIDS = select(_messages.c.carrier_sid).where(
    _messages.c.carrier_sid.in_(bindparam("sids", expanding=True))
)
_CLIENTS_FOR_PHONES = (
    select(_clients.c.business_id, _clients.c.cell_phone, func.min(_clients.c.id))
    .where(
        tuple_(_clients.c.business_id, _clients.c.cell_phone).in_(
            bindparam("business_phones", expanding=True)
        )
    )
    .group_by(_clients.c.business_id, _clients.c.cell_phone)
)
_ADJUST_UNREAD = (
    update(_businesses)
    .where(_businesses.c.id == bindparam("business_id"))
    .values(unread_messages=_businesses.c.unread_messages + bindparam("delta"))
    .returning(_businesses.c.unread_messages)
)
_SET_CLIENT = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(client_id=bindparam("client_id"))
)


def _conversation_upsert(dialect_insert: Any) -> Any:
    table = Conversation.__table__
    values = {
        "business_id": bindparam("business_id"),
        "phone": bindparam("phone"),
        "client_id": None,
        "folder": FOLDER_UNREAD,
        "unread_count": bindparam("texts"),
        "pinned": False,
        "muted": False,
        "last_message_at": bindparam("last_at", type_=UTCDateTime()),
        "last_message_preview": bindparam("preview"),
        "created_at": bindparam("first_at", type_=UTCDateTime()),
    }
    stmt = dialect_insert(table).values(values)
    return stmt.on_conflict_do_update(
        index_elements=["business_id", "phone"],
        set_={
            "folder": FOLDER_UNREAD,  # a client's text brings it back, archived or not
            "unread_count": table.c.unread_count + stmt.excluded.unread_count,
            "last_message_at": stmt.excluded.last_message_at,
            "last_message_preview": stmt.excluded.last_message_preview,
        },
    ).returning(
        table.c.business_id,
        table.c.phone,
        table.c.id,
        table.c.client_id,
        table.c.muted,
        table.c.unread_count,
        table.c.created_at,
    )


def _message_insert(dialect_insert: Any) -> Any:
    table = Message.__table__
    # Columns with a server default keep it (body_had_nul: the intake sets it for the texts
    # that held a NUL; carrier_sid_from_lookup: an outbound message's).
    columns = [c.name for c in table.columns if c.name != "id" and c.server_default is None]
    values = {name: bindparam(name, type_=table.c[name].type) for name in columns}
    return (
        dialect_insert(table)
        .values(values)
        .on_conflict_do_nothing(index_elements=["carrier_sid"])
        .returning(table.c.carrier_sid, table.c.id)
    )


def _usage_upsert(dialect_insert: Any) -> Any:
    table = UsagePeriod.__table__
    stmt = dialect_insert(table).values(
        business_id=bindparam("business_id"),
        period_start=bindparam("period_start"),
        units_used=bindparam("units"),
        inbound_units=bindparam("units"),
        outbound_units=0,
    )
    return stmt.on_conflict_do_update(
        index_elements=["business_id", "period_start"],
        set_={
            "units_used": table.c.units_used + stmt.excluded.units_used,
            "inbound_units": table.c.inbound_units + stmt.excluded.inbound_units,
        },
    ).returning(table.c.units_used)


_BY_DIALECT = {
    name: {
        "conversation": _conversation_upsert(insert),
        "message": _message_insert(insert),
        "usage": _usage_upsert(insert),
    }
    for name, insert in (("sqlite", sqlite.insert), ("postgresql", postgresql.insert))
}


def _statements(session: Session) -> dict[str, Any]:
    return _BY_DIALECT[session.get_bind().dialect.name]


def routes_for(session: Session, to_phones: Collection[str]) -> dict[str, Route]:
    """For each of these numbers that is a business's active number: that business, with what
    the intake needs of it (one query for a whole batch of texts)."""
    rows = session.connection().execute(_ROUTES, {"to_phones": list(to_phones)})
    return {route.sms_number: route for route in (Route(*row) for row in rows)}


def stored_carrier_sids(session: Session, carrier_sids: Collection[str]) -> set[str]:
    """Which of these carrier sids a message already has (retried webhooks)."""
    rows = session.connection().execute(_STORED_SIDS, {"sids": list(carrier_sids)})
    return {sid for (sid,) in rows}


class ConversationTexts(NamedTuple):
    """Texts from one phone to one business, arriving in one batch."""

    business_id: int
    phone: str
    texts: int
    first_at: datetime
    last_at: datetime
    preview: str  # the last text's


def upsert_inbound_conversations(
    session: Session, arrivals: Sequence[ConversationTexts]
) -> dict[tuple[int, str], InboundConversation]:
    """Create each conversation, or bring it back to Unread with its new texts added to its
    unread count, in one statement; by (business id, phone). The rows stay locked until
    commit, taken in (business, phone) order so that concurrent statements cannot deadlock
    on them."""
    if not arrivals:
        return {}
    params = [a._asdict() for a in sorted(arrivals)]
    rows = session.connection().execute(_statements(session)["conversation"], params)
    return {(row[0], row[1]): InboundConversation(*row[2:]) for row in rows}


def insert_message_rows(session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert messages in one statement; their ids by carrier sid. A sid already stored is
    left out of the answer."""
    if not rows:
        return {}
    inserted = session.connection().execute(_statements(session)["message"], list(rows))
    return {sid: int(new_id) for sid, new_id in inserted}


def count_inbound_units(session: Session, business_id: int, period: date, units: int) -> int:
    """Add inbound units to the period (creating it), returning the new total."""
    total = (
        session.connection()
        .execute(
            _statements(session)["usage"],
            {"business_id": business_id, "period_start": period, "units": units},
        )
        .scalar_one()
    )
    return int(total)


def client_ids_for_phones(
    session: Session, business_phones: Collection[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """The client (the first, if several) whose cell phone each (business id, phone) is."""
    if not business_phones:
        return {}
    rows = session.connection().execute(
        _CLIENTS_FOR_PHONES, {"business_phones": list(business_phones)}
    )
    return {(business_id, phone): int(client_id) for business_id, phone, client_id in rows}


def link_conversations_to_client(
    session: Session, business_id: int, phone: str, client_id: int
) -> None:
    """An unidentified sender turns out to be this client: their conversation says so."""
    session.execute(
        update(_conversations)
        .where(
            _conversations.c.business_id == business_id,
            _conversations.c.phone == phone,
            _conversations.c.client_id.is_(None),
        )
        .values(client_id=client_id)
    )


def set_conversation_clients(session: Session, links: Sequence[tuple[int, int]]) -> None:
    """Attach conversations to clients: (conversation id, client id) pairs."""
    if links:
        session.connection().execute(
            _SET_CLIENT,
            [{"conversation_id": c, "client_id": client_id} for c, client_id in links],
        )

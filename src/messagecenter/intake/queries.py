"""SQL for the intake: the inbound queue, and the hot path that records a batch of texts.

Every client text runs the recording statements, so they are built once (with bind
parameters) for each dialect and touch each row once: route, duplicate check, conversation
upsert, message insert, and for a whole batch one statement for the businesses' unread
badges (the batch form of conversations/queries.adjust_business_unread, whose rule it
follows: the badge moved by the texts of conversations that are not muted). Usage is counted
by businesses/queries.add_inbound_units_many.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    Text,
    bindparam,
    delete,
    exists,
    func,
    literal,
    literal_column,
    null,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.types import TypeEngine

from messagecenter.db import (
    as_arrays,
    insert_ignore,
    insert_ignore_many,
    insert_selected,
    unnested,
    unnested_insert_ignore,
)
from messagecenter.models import (
    Business,
    BusinessHours,
    Client,
    Conversation,
    InboundQueueItem,
    Message,
    Plan,
    SmsNumber,
    UnroutedMessage,
    WebhookEndpoint,
    status,
)
from messagecenter.models.base import UTCDateTime
from messagecenter.models.conversation import FOLDER_UNREAD
from messagecenter.models.message import DIRECTION_INBOUND, DISPATCH_NONE, SENDER_CLIENT
from messagecenter.models.sms_number import NUMBER_ACTIVE

# ---------------------------------------------------------------------------- the queue


_QUEUE: Table = InboundQueueItem.__table__  # type: ignore[assignment]


def insert_queued(session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Queue texts in one idempotent insert; the carrier sids that were new."""
    return insert_ignore_many(session, _QUEUE, _by_sid(rows), ["carrier_sid"])


def queue_insert(rows: Sequence[dict[str, Any]]) -> tuple[ReturningInsert[Any], dict[str, Any]]:
    """PostgreSQL: `insert_queued` as its statement and parameters, for the webhook's async
    connection (intake/queue.py); it returns the new sids too."""
    return unnested_insert_ignore(_QUEUE, _by_sid(rows), ["carrier_sid"])


def _by_sid(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    # Two processes inserting the same retried texts lock the unique index's entries in one
    # order.
    return sorted(rows, key=lambda row: row["carrier_sid"])


def claim_queued(session: Session, limit: int, max_attempts: int) -> list[InboundQueueItem]:
    """The oldest queued texts not parked, locked until commit. SKIP LOCKED: several worker
    processes share the queue on PostgreSQL."""
    return list(
        session.scalars(
            select(InboundQueueItem)
            .where(InboundQueueItem.attempts < max_attempts)
            .order_by(InboundQueueItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def wait_for_queued(session: Session, carrier_sid: str) -> bool:
    """Whether the text `carrier_sid` is still queued, once no one is processing it: a
    worker's claim holds its row locked until that batch commits (and removes it)."""
    found = session.scalar(
        select(InboundQueueItem.id)
        .where(InboundQueueItem.carrier_sid == carrier_sid)
        .with_for_update()
    )
    return found is not None


def remove_queued(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(delete(InboundQueueItem).where(InboundQueueItem.id.in_(ids)))


def count_failure(session: Session, item_id: int, error: str) -> int | None:
    """One more failed attempt for a queued text; its attempts so far (None: gone)."""
    return session.scalar(
        update(InboundQueueItem)
        .where(InboundQueueItem.id == item_id)
        .values(attempts=InboundQueueItem.attempts + 1, last_error=error)
        .returning(InboundQueueItem.attempts)
    )


def parked(session: Session, max_attempts: int) -> list[InboundQueueItem]:
    return list(
        session.scalars(
            select(InboundQueueItem)
            .where(InboundQueueItem.attempts >= max_attempts)
            .order_by(InboundQueueItem.id)
        )
    )


def unpark(session: Session, max_attempts: int) -> int:
    result = session.execute(
        update(InboundQueueItem)
        .where(InboundQueueItem.attempts >= max_attempts)
        .values(attempts=0)
        .returning(InboundQueueItem.id)
    )
    return len(result.all())


def flag_nul(session: Session, carrier_sids: Collection[str]) -> None:
    """Mark the stored texts (message or unrouted) whose body held a NUL."""
    if not carrier_sids:
        return
    for table in (Message, UnroutedMessage):
        session.execute(
            update(table).where(table.carrier_sid.in_(carrier_sids)).values(body_had_nul=True)
        )


def insert_unrouted(session: Session, row: dict[str, Any]) -> bool:
    """Keep a text no business can take; False when that sid is already kept."""
    new_id = insert_ignore(
        session,
        UnroutedMessage.__table__,  # type: ignore[arg-type]
        row,
        ["carrier_sid"],
    )
    return new_id is not None


# ---------------------------------------------------------------------------- recording


class Route(NamedTuple):
    business_id: int
    timezone: str
    allowance: int
    sms_number_id: int
    sms_number: str
    # The rest of the plan's terms: with a spending cap, the warnings count toward it.
    overage_policy: str
    overage_price_per_unit: Decimal
    monthly_spending_cap: Decimal | None
    # Whether the business has said its opening hours: only then may a text be out of hours
    # (intake/after_hours.py), so a batch for businesses without them skips that query.
    keeps_hours: bool
    # Whether it has a live outgoing-webhook endpoint: only then is a message.received event
    # worth building (integrations/ would find no endpoint for it), read with the route.
    has_endpoints: bool


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
_hours = cast(Table, BusinessHours.__table__)
_endpoints = cast(Table, WebhookEndpoint.__table__)
# A literal, so SQLite can use the partial unique index on active numbers.
_IS_ACTIVE = _numbers.c.status == literal_column(f"'{NUMBER_ACTIVE}'")
_ROUTES = (
    select(
        _businesses.c.id,
        _businesses.c.timezone,
        _plans.c.monthly_allowance,
        _numbers.c.id,
        _numbers.c.phone_number,
        _plans.c.overage_policy,
        _plans.c.overage_price_per_unit,
        _plans.c.monthly_spending_cap,
        exists().where(_hours.c.business_id == _businesses.c.id),
        exists().where(
            _endpoints.c.business_id == _businesses.c.id, _endpoints.c.deleted_at.is_(None)
        ),
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
)
_UNREAD = select(_businesses.c.id, _businesses.c.unread_messages).where(
    _businesses.c.id.in_(bindparam("ids", expanding=True))
)
_SET_CLIENT = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(client_id=bindparam("client_id"))
)


_CONVERSATION_TEXTS: dict[str, TypeEngine[Any]] = {  # what ConversationTexts binds
    "business_id": Integer(),
    "phone": String(),
    "texts": Integer(),
    "first_at": UTCDateTime(),
    "last_at": UTCDateTime(),
    "preview": Text(),
}


def _conversation_upsert(dialect: str) -> Any:
    table = cast(Table, Conversation.__table__)
    constants = {"client_id": None, "folder": FOLDER_UNREAD, "pinned": False, "muted": False}
    takes = {  # column: the ConversationTexts field it is written from
        "business_id": "business_id",
        "phone": "phone",
        "unread_count": "texts",
        "last_message_at": "last_at",
        "last_message_preview": "preview",
        "created_at": "first_at",
    }
    stmt: Any
    if dialect == "postgresql":
        incoming = unnested("incoming", _CONVERSATION_TEXTS)
        values: dict[str, Any] = {
            **{name: literal(value, table.c[name].type) for name, value in constants.items()},
            **{name: incoming.c[field] for name, field in takes.items()},
        }
        stmt = insert_selected(table, values)
    else:
        stmt = sqlite.insert(table).values(
            {
                **constants,
                **{
                    name: bindparam(field, type_=_CONVERSATION_TEXTS[field])
                    for name, field in takes.items()
                },
            }
        )
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


# What every client text's message row holds alike: written into the INSERT's SQL, so only
# the columns that differ from text to text are bound (and converted) row by row.
INBOUND_CONSTANTS: dict[str, str | int | None] = {
    "direction": DIRECTION_INBOUND,
    "sender_type": SENDER_CLIENT,
    "staff_member_id": None,
    "api_key_id": None,
    "status": status.RECEIVED,
    "error_code": None,
    "error_message": None,
    "category": None,
    "bulk_send_id": None,
    "dispatch_state": DISPATCH_NONE,
    "attempts": 0,
    "next_attempt_at": None,
    "claimed_at": None,
    "quiet_until": None,  # quiet hours hold outbound texts only
    "quiet_zone": None,
    "quiet_open_until": None,
}


def _sql_constant(value: str | int | None) -> Any:
    if value is None:
        return null()
    if isinstance(value, int):
        return literal_column(str(int(value)))
    assert "'" not in value  # our own words, never input
    return literal_column(f"'{value}'")


# Columns with a server default keep it (body_had_nul: the intake sets it for the texts that
# held a NUL; carrier_sid_from_lookup: an outbound message's).
_MESSAGE_COLUMNS = [
    c.name for c in Message.__table__.columns if c.name != "id" and c.server_default is None
]
MESSAGE_ROW_COLUMNS = [name for name in _MESSAGE_COLUMNS if name not in INBOUND_CONSTANTS]


def _message_insert(dialect: str) -> Any:
    table = cast(Table, Message.__table__)
    constants: dict[str, Any] = {
        name: _sql_constant(INBOUND_CONSTANTS[name]) for name in INBOUND_CONSTANTS
    }
    stmt: Any
    if dialect == "postgresql":
        incoming = unnested("incoming", {name: table.c[name].type for name in MESSAGE_ROW_COLUMNS})
        values = {
            name: constants[name] if name in constants else incoming.c[name]
            for name in _MESSAGE_COLUMNS
        }
        stmt = insert_selected(table, values)
    else:
        stmt = sqlite.insert(table).values(
            {
                name: constants[name]
                if name in constants
                else bindparam(name, type_=table.c[name].type)
                for name in _MESSAGE_COLUMNS
            }
        )
    return stmt.on_conflict_do_nothing(index_elements=["carrier_sid"]).returning(
        table.c.carrier_sid, table.c.id
    )


_BY_DIALECT = {
    name: {"conversation": _conversation_upsert(name), "message": _message_insert(name)}
    for name in ("sqlite", "postgresql")
}


def _statements(session: Session) -> dict[str, Any]:
    return _BY_DIALECT[session.get_bind().dialect.name]


def routes_for(session: Session, to_phones: Collection[str]) -> dict[str, Route]:
    """For each of these numbers that is a business's active number: that business, with what
    the intake needs of it (one query for a whole batch of texts)."""
    rows = session.connection().execute(_ROUTES, {"to_phones": list(to_phones)})
    return {
        route.sms_number: route._replace(
            keeps_hours=bool(route.keeps_hours), has_endpoints=bool(route.has_endpoints)
        )
        for route in (Route(*row) for row in rows)
    }


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
    params: Any = [a._asdict() for a in sorted(arrivals)]
    if session.get_bind().dialect.name == "postgresql":
        params = as_arrays(params, _CONVERSATION_TEXTS)
    rows = session.connection().execute(_statements(session)["conversation"], params)
    return {(row[0], row[1]): InboundConversation(*row[2:]) for row in rows}


def insert_message_rows(session: Session, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert client texts' messages in one statement; their ids by carrier sid. A sid
    already stored is left out of the answer. Each row holds the columns that are not
    INBOUND_CONSTANTS."""
    if not rows:
        return {}
    params: Any = list(rows)
    if session.get_bind().dialect.name == "postgresql":
        params = as_arrays(rows, MESSAGE_ROW_COLUMNS)
    inserted = session.connection().execute(_statements(session)["message"], params)
    return {sid: int(new_id) for sid, new_id in inserted}


def adjust_unread_many(session: Session, deltas: dict[int, int]) -> dict[int, int]:
    """Move each business's unread badge by its delta (0 leaves it as it is); the new totals
    by business id. One executemany of a prebuilt UPDATE, in business order (the order its
    rows are locked in), and one SELECT of the totals: both statements cached, where one
    UPDATE with a CASE per batch was built and keyed anew each time (0.8 ms a batch)."""
    if not deltas:
        return {}
    moved = [{"business_id": i, "delta": deltas[i]} for i in sorted(deltas) if deltas[i]]
    if moved:
        session.connection().execute(_ADJUST_UNREAD, moved)
    rows = session.connection().execute(_UNREAD, {"ids": sorted(deltas)})
    return {int(business_id): int(total) for business_id, total in rows}


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


def set_conversation_clients(session: Session, links: Sequence[tuple[int, int]]) -> None:
    """Attach conversations to clients: (conversation id, client id) pairs."""
    if links:
        session.connection().execute(
            _SET_CLIENT,
            [{"conversation_id": c, "client_id": client_id} for c, client_id in links],
        )

"""SQL for conversations and messages. Every read is scoped by business: tenant isolation
lives here, so no caller can reach another business's rows by id."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    ScalarSelect,
    Select,
    Table,
    bindparam,
    case,
    false,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from messagecenter.conversations.search import SearchQuery
from messagecenter.conversations.search_queries import search_hits
from messagecenter.db import among_ids, insert_ignore
from messagecenter.models import (
    ApiKey,
    Business,
    Client,
    Conversation,
    ConversationEvent,
    Message,
    PhoneConsent,
    StaffMember,
    StaffReadMarker,
)
from messagecenter.models.conversation import FOLDER_READ
from messagecenter.models.ids import MAX_ID
from messagecenter.models.message import SENDER_AUTOMATED

_conversations = cast(Table, Conversation.__table__)
_messages = cast(Table, Message.__table__)

# The inbox pages' reads (the _UPPER_CASE statements below) are built once, as module
# constants whose values are bound at each run: building a statement costs more CPU than
# running it (about 0.2 ms against 0.05 ms on SQLite, measured), and a page makes a dozen.


def get_conversation(
    session: Session, business_id: int, conversation_id: int, *, for_update: bool = False
) -> Conversation | None:
    stmt = select(Conversation).where(
        Conversation.id == conversation_id, Conversation.business_id == business_id
    )
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


class ShownConversation(NamedTuple):
    """A conversation as its page shows it: with its client and its phone's consent."""

    conversation: Conversation
    client: Client | None
    consent: PhoneConsent | None


_SHOWN = (
    select(Conversation, Client, PhoneConsent)
    .outerjoin(
        Client,
        (Client.id == Conversation.client_id) & (Client.business_id == bindparam("business_id")),
    )
    .outerjoin(
        PhoneConsent,
        (PhoneConsent.business_id == bindparam("business_id"))
        & (PhoneConsent.phone == Conversation.phone),
    )
    .where(
        Conversation.id == bindparam("conversation_id"),
        Conversation.business_id == bindparam("business_id"),
    )
)


def conversation_shown(
    session: Session, business_id: int, conversation_id: int
) -> ShownConversation | None:
    """The conversation, its client (None if it has none) and its phone's consent (None if
    the number never opted out or in), in one read."""
    row = session.execute(
        _SHOWN, {"business_id": business_id, "conversation_id": conversation_id}
    ).one_or_none()
    return None if row is None else ShownConversation(row[0], row[1], row[2])


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


@dataclass(frozen=True)
class ConversationState:
    """What sending needs to know of a conversation it writes into (read under its lock)."""

    id: int
    phone: str
    client_id: int | None
    unread_count: int
    folder: str
    muted: bool


def lock_conversations(
    session: Session, business_id: int, phones: Iterable[str]
) -> dict[str, ConversationState]:
    """The conversations of these phones that exist, locked for update in id order (two
    batches lock their common rows in the same order: no deadlock), as they are now."""
    wanted = sorted(set(phones))
    if not wanted:
        return {}
    rows = session.execute(
        select(
            _conversations.c.id,
            _conversations.c.phone,
            _conversations.c.client_id,
            _conversations.c.unread_count,
            _conversations.c.folder,
            _conversations.c.muted,
        )
        .where(_conversations.c.business_id == business_id, _conversations.c.phone.in_(wanted))
        .order_by(_conversations.c.id)
        .with_for_update()
    )
    return {row.phone: ConversationState(*row) for row in rows}


def insert_conversations(session: Session, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Insert new conversations in one statement, in phone order (two transactions inserting
    the same new phones wait for each other in one order): the new ones' ids by phone. A phone
    another transaction has just inserted is left out; its row is the caller's to lock."""
    if not rows:
        return {}
    ordered = sorted(rows, key=lambda row: str(row["phone"]))
    dialect = session.get_bind().dialect.name
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert_into(_conversations)
        .on_conflict_do_nothing(index_elements=["business_id", "phone"])
        .returning(_conversations.c.id, _conversations.c.phone)
    )
    return {phone: conversation_id for conversation_id, phone in session.execute(stmt, ordered)}


# A message was written into these conversations: each shows its last message and, where
# the message answered it (a person wrote it), is read and in Replied.
_NOTE_SENT = (
    update(_conversations)
    .where(_conversations.c.id == bindparam("conversation_id"))
    .values(
        last_message_at=bindparam("at"),
        last_message_preview=bindparam("preview"),
        client_id=func.coalesce(_conversations.c.client_id, bindparam("client_id")),
    )
)
_NOTE_ANSWERED = _NOTE_SENT.values(
    unread_count=0, last_read_at=bindparam("at"), folder=bindparam("folder")
)


def note_written(session: Session, changes: Sequence[Mapping[str, Any]], *, answered: bool) -> None:
    """Each conversation's last message (`conversation_id`, `at`, `preview`, and the
    `client_id` an unidentified one turns out to be), in one executemany; with `answered`,
    also its `folder`, read now."""
    if changes:
        session.connection().execute(_NOTE_ANSWERED if answered else _NOTE_SENT, list(changes))


def conversations_by_id(
    session: Session, business_id: int, ids: Iterable[int]
) -> dict[int, Conversation]:
    """This business's conversations among these ids (another business's are simply absent)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.scalars(
        select(Conversation).where(
            Conversation.business_id == business_id, Conversation.id.in_(wanted)
        )
    )
    return {conversation.id: conversation for conversation in rows}


def insert_messages(session: Session, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert messages in one multi-row INSERT ... RETURNING id; the ids in the rows' order.

    One INSERT's rows take ascending ids in the order of its VALUES on both databases
    (SQLite's next rowid under its single writer, PostgreSQL's sequence called row by row),
    so sorting the returned ids matches them to the rows (SQLAlchemy would order RETURNING
    itself only by sending one row per statement on SQLite). Every row must have the same
    keys (one statement).
    """
    if not rows:
        return []
    ids = sorted(session.execute(insert(_messages).returning(_messages.c.id), list(rows)).scalars())
    assert len(ids) == len(rows)
    return ids


def messages_by_id(session: Session, ids: Sequence[int]) -> list[Message]:
    """These messages, loaded, in the order of `ids` (the caller's: every id must exist)."""
    if not ids:
        return []
    found = {m.id: m for m in session.scalars(select(Message).where(Message.id.in_(sorted(ids))))}
    return [found[message_id] for message_id in ids]


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


# Not a folder of the conversation's own (that stays as it was): the view of blocked numbers.
FOLDER_BLOCKED = "blocked"


@dataclass(frozen=True)
class ConversationFilter:
    folder: str | None = None
    client_id: int | None = None
    search: SearchQuery | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0
    assignee_id: int | None = None  # only the conversations assigned to this staff member
    unassigned: bool = False  # only the conversations nobody is assigned
    # The total counted up to this many (None: exactly): a page need not read all of a
    # 100,000-conversation inbox's index to say there are more.
    count_up_to: int | None = None


# The inbox's order: pinned first, then the newest text (ix_conversations_inbox/_all).
INBOX_ORDER = (
    Conversation.pinned.desc(),
    Conversation.last_message_at.desc(),
    Conversation.id.desc(),
)


def list_conversations(
    session: Session, business_id: int, flt: ConversationFilter
) -> tuple[list[tuple[Conversation, Client | None]], int]:
    filters: list[ColumnElement[bool]] = []
    if flt.folder == FOLDER_BLOCKED:  # blocked numbers are shown there and nowhere else
        filters.append(Conversation.blocked_at.is_not(None))
    else:
        filters.append(Conversation.blocked_at.is_(None))
        if flt.folder:
            filters.append(Conversation.folder == flt.folder)
    if flt.client_id is not None:
        filters.append(Conversation.client_id == flt.client_id)
    if flt.since is not None or flt.until is not None:
        # Both values of `pinned`, which comes before the time in the inbox indexes: each
        # database then reads the range of times of each (else SQLite walks the business's
        # whole inbox and PostgreSQL the table, for a range that matches few).
        filters.append(Conversation.pinned.in_((True, False)))
    if flt.since is not None:
        filters.append(Conversation.last_message_at >= flt.since)
    if flt.until is not None:
        filters.append(Conversation.last_message_at < flt.until)
    if flt.assignee_id is not None:
        filters.append(Conversation.assignee_id == flt.assignee_id)
    if flt.unassigned:
        filters.append(Conversation.assignee_id.is_(None))
    if flt.search is not None:
        found = search_hits(session, business_id, flt.search).conversation_ids
        return _found_conversations(session, business_id, found, filters, flt)
    conditions = [Conversation.business_id == business_id, *filters]
    if flt.count_up_to is not None:
        # One walk of the inbox index in its order, from the page's first row to the count's
        # cap: the page is its first rows, the total the offset plus what it read ("1,025+"
        # at the cap). A count beside the page would walk the same rows again.
        ahead = list(
            session.scalars(
                select(Conversation.id)
                .where(*conditions)
                .order_by(*INBOX_ORDER)
                .offset(flt.offset)
                .limit(max(flt.count_up_to - flt.offset, flt.limit))
            )
        )
        if ahead or not flt.offset:
            total = min(flt.offset + len(ahead), flt.count_up_to)
            return _with_clients(session, ahead[: flt.limit]), total
        # A page past the end: no rows, and how many there are (its caller turns to the last
        # page).
        return [], _count(session, conditions, up_to=flt.count_up_to)
    # The exact total, counted off the inbox index alone, then the page.
    page = session.scalars(
        select(Conversation.id)
        .where(*conditions)
        .order_by(*INBOX_ORDER)
        .limit(flt.limit)
        .offset(flt.offset)
    ).all()
    return _with_clients(session, page), _count(session, conditions)


def _count(
    session: Session, conditions: list[ColumnElement[bool]], *, up_to: int | None = None
) -> int:
    """How many conversations meet the conditions, counted up to `up_to` (None: all)."""
    counted: Select[tuple[Any]] = (
        select(literal_column("1")).select_from(Conversation).where(*conditions)
    )
    if up_to is not None:
        counted = counted.limit(up_to)
    return int(session.scalar(select(func.count()).select_from(counted.subquery())) or 0)


def _found_conversations(
    session: Session,
    business_id: int,
    found: Collection[int],
    filters: list[ColumnElement[bool]],
    flt: ConversationFilter,
) -> tuple[list[tuple[Conversation, Client | None]], int]:
    """A search's page: the found conversations that pass the other filters, in the inbox's
    order, and how many pass. They are read by id and sorted by the database (a search finds
    at most a few thousand), so no index of the business's whole inbox is walked for its
    order; the count is taken over them in the same statement, and only the page comes back."""
    if not found:
        return [], 0
    conditions = [
        # The business as an expression, so neither database prefers its inbox index.
        Conversation.business_id + 0 == business_id,
        among_ids(session, Conversation.id, found),
        *filters,
    ]
    rows = session.execute(
        select(Conversation.id, func.count().over())
        .where(*conditions)
        .order_by(*INBOX_ORDER)
        .offset(flt.offset)
        .limit(flt.limit)
    ).all()
    if rows:
        total = int(rows[0][1])
    elif flt.offset:  # a page past the end: how many there are, for the last page
        total = _count(session, conditions)
    else:
        total = 0
    return _with_clients(session, [row[0] for row in rows]), total


_WITH_CLIENTS = (
    select(Conversation, Client)
    .outerjoin(Client, Client.id == Conversation.client_id)
    .where(Conversation.id.in_(bindparam("ids", expanding=True)))
)


def _with_clients(
    session: Session, page: Sequence[int]
) -> list[tuple[Conversation, Client | None]]:
    """The conversations of a page, in its order, each with its client (if any)."""
    if not page:
        return []
    rows = session.execute(_WITH_CLIENTS, {"ids": list(page)}).all()
    by_id = {row[0].id: (row[0], row[1]) for row in rows}
    return [by_id[conversation_id] for conversation_id in page]


FOLDER_COUNT_CAP = 1000  # a folder's count stops here ("999+"): each count stays an index peek


def folder_counts(
    session: Session, business_id: int, folders: Iterable[str], *, staff_id: int | None = None
) -> dict[str, int]:
    """How many conversations each folder holds ("all": every one), and with a staff member
    the Mine and Unassigned views, each counted up to FOLDER_COUNT_CAP (reading a
    100,000-conversation inbox's index whole for every refresh of the list would cost more
    than the list): one statement, one round trip."""
    wanted = tuple(folders)
    names = ["all", *wanted, *(ASSIGNMENT_COUNTS if staff_id is not None else ())]
    row = session.execute(
        _counts_statement(wanted, staff_id is not None),
        {"business_id": business_id, "staff_id": staff_id, "cap": FOLDER_COUNT_CAP},
    ).one()
    return {name: int(row[i] or 0) for i, name in enumerate(names)}


ASSIGNMENT_COUNTS = ("mine", "unassigned")


@cache
def _counts_statement(folders: tuple[str, ...], assignment: bool) -> Select[Any]:
    """The counts' statement, built once per shape (building it cost more than running it),
    its business, staff member and cap bound at each run: a count per view, each of the
    rows its index yields first."""
    business_id, cap = bindparam("business_id", type_=Integer), bindparam("cap", type_=Integer)
    not_blocked = Conversation.blocked_at.is_(None)  # blocked numbers are in Blocked only
    views: dict[str, list[ColumnElement[bool]]] = {"all": [not_blocked]}
    for folder in folders:
        views[folder] = (
            [Conversation.blocked_at.is_not(None)]
            if folder == FOLDER_BLOCKED
            else [not_blocked, Conversation.folder == folder]
        )
    if assignment:
        views["mine"] = [Conversation.assignee_id == bindparam("staff_id"), not_blocked]
        views["unassigned"] = [Conversation.assignee_id.is_(None), not_blocked]
    counts = []
    for name, conditions in views.items():
        capped = (
            select(literal_column("1"))
            .where(Conversation.business_id == business_id, *conditions)
            .limit(cap)
            .subquery()
        )
        counts.append(select(func.count()).select_from(capped).scalar_subquery().label(name))
    return select(*counts)


def newest_matches(
    session: Session, business_id: int, conversation_ids: Sequence[int], search: SearchQuery
) -> dict[int, Message]:
    """Each of these conversations' newest message whose text holds the search's (among the
    business's newest MATCH_CAP such messages), by conversation."""
    written = search_hits(session, business_id, search).newest_message
    hits = {c: written[c] for c in conversation_ids if c in written}
    if not hits:
        return {}
    found = session.scalars(select(Message).where(Message.id.in_(sorted(hits.values()))))
    return {message.conversation_id: message for message in found}


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


_THREAD_NEWEST = (
    select(Message)
    .where(
        Message.business_id == bindparam("business_id"),
        Message.conversation_id == bindparam("conversation_id"),
    )
    .order_by(Message.id.desc())
    .limit(bindparam("limit", type_=Integer))
)
_THREAD_BEFORE = _THREAD_NEWEST.where(Message.id < bindparam("before_id"))


def thread_page(
    session: Session, business_id: int, conversation_id: int, *, limit: int, before_id: int | None
) -> tuple[list[Message], bool]:
    """Up to `limit` of the conversation's messages older than `before_id` (the newest when
    None), oldest first, and whether older ones remain. Keyset on the id (ids grow with
    time), so a page deep in a long thread costs what the first one does."""
    values = {"business_id": business_id, "conversation_id": conversation_id, "limit": limit + 1}
    if before_id is None:
        rows = list(session.scalars(_THREAD_NEWEST, values))
    else:
        rows = list(session.scalars(_THREAD_BEFORE, values | {"before_id": before_id}))
    return list(reversed(rows[:limit])), len(rows) > limit


def messages_after(
    session: Session, business_id: int, conversation_id: int, after_id: int, *, limit: int
) -> list[Message]:
    """The conversation's messages newer than `after_id`, oldest first (a live thread's
    new arrivals)."""
    stmt = select(Message).where(
        Message.business_id == business_id,
        Message.conversation_id == conversation_id,
        Message.id > after_id,
    )
    return list(session.scalars(stmt.order_by(Message.id).limit(limit)))


_RECENT_AUTOMATED = _THREAD_NEWEST.where(Message.sender_type == SENDER_AUTOMATED)


def recent_automated(
    session: Session, business_id: int, conversation_id: int, *, limit: int
) -> list[Message]:
    """The conversation's newest automated messages (reminders, confirmations), newest first."""
    values = {"business_id": business_id, "conversation_id": conversation_id, "limit": limit}
    return list(session.scalars(_RECENT_AUTOMATED, values))


def holds_message(session: Session, conversation_id: int, message_id: int) -> bool:
    found = session.scalar(
        select(Message.id).where(
            Message.id == message_id, Message.conversation_id == conversation_id
        )
    )
    return found is not None


def messages_around(
    session: Session, business_id: int, conversation_id: int, message_id: int, *, limit: int
) -> list[Message]:
    """Up to `limit` messages of the conversation with `message_id` in their middle, oldest
    first (a search result opens the thread here, however old the message)."""
    in_thread = select(Message).where(
        Message.business_id == business_id, Message.conversation_id == conversation_id
    )
    older = session.scalars(
        in_thread.where(Message.id <= message_id)
        .order_by(Message.id.desc())
        .limit((limit + 1) // 2)
    )
    before = list(reversed(list(older)))
    after = session.scalars(
        in_thread.where(Message.id > message_id).order_by(Message.id).limit(limit - len(before))
    )
    return before + list(after)


def messages_with_phone(
    session: Session, business_id: int, phone: str, *, limit: int
) -> list[Message]:
    """The business's newest `limit` texts to or from this phone, oldest first."""
    stmt = select(Message).where(
        Message.business_id == business_id,
        or_(Message.to_phone == phone, Message.from_phone == phone),
    )
    newest = list(session.scalars(stmt.order_by(Message.id.desc()).limit(limit)))
    return newest[::-1]


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


_businesses = cast(Table, Business.__table__)
_ADJUST_UNREAD = (
    update(_businesses)
    .where(_businesses.c.id == bindparam("business_id"))
    .values(unread_messages=_businesses.c.unread_messages + bindparam("delta"))
    .returning(_businesses.c.unread_messages)
)


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


# ---------------------------------------------------------------------------- SMS history

HistoryRow = Row[Message, str, str, str, str]  # names are None through the outer joins


@dataclass(frozen=True)
class HistoryFilter:
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    direction: str | None = None  # inbound / outbound
    status: str | None = None
    sender: str | None = None  # "staff:<id>", "api_key:<id>", "automated", "client", "carrier"
    client_id: int | None = None
    conversation_id: int | None = None


def _history(business_id: int, flt: HistoryFilter) -> Select[Message, str, str, str, str]:
    """Each message with its client's names, its staff sender's and its API key's."""
    stmt = (
        select(
            Message,
            Client.first_name,
            Client.last_name,
            StaffMember.name.label("staff_name"),
            ApiKey.name.label("key_name"),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Client, Client.id == Conversation.client_id)
        .outerjoin(StaffMember, StaffMember.id == Message.staff_member_id)
        .outerjoin(ApiKey, ApiKey.id == Message.api_key_id)
        .where(Message.business_id == business_id)
    )
    conditions: list[ColumnElement[bool]] = []
    if flt.since is not None:
        conditions.append(Message.created_at >= flt.since)
    if flt.until is not None:
        conditions.append(Message.created_at < flt.until)
    if flt.direction:
        conditions.append(Message.direction == flt.direction)
    if flt.status:
        conditions.append(Message.status == flt.status)
    if flt.client_id is not None:
        conditions.append(_id_is(Conversation.client_id, flt.client_id))
    if flt.conversation_id is not None:
        conditions.append(_id_is(Message.conversation_id, flt.conversation_id))
    if flt.sender:
        kind, _, ident = flt.sender.partition(":")
        conditions.append(Message.sender_type == kind)
        if kind == "staff" and ident.isdigit():
            conditions.append(_id_is(Message.staff_member_id, int(ident)))
        elif kind == "api_key" and ident.isdigit():
            conditions.append(_id_is(Message.api_key_id, int(ident)))
    return stmt.where(*conditions)


def _id_is(column: Any, ident: int) -> ColumnElement[bool]:
    """Ids are 32-bit in the database: a larger one (typed into a filter's URL) would make
    PostgreSQL refuse the query, a 500. No row has it, so it matches nothing."""
    return column == ident if 1 <= ident <= MAX_ID else false()


def history_rows(
    session: Session, business_id: int, flt: HistoryFilter, *, limit: int, offset: int
) -> list[HistoryRow]:
    """One page of the filtered history, newest first."""
    stmt = _history(business_id, flt).order_by(Message.created_at.desc(), Message.id.desc())
    return list(session.execute(stmt.limit(limit).offset(offset)))


def history_counts(session: Session, business_id: int, flt: HistoryFilter) -> tuple[int, int, int]:
    """The filtered history's messages, units and inbound messages."""
    inner = _history(business_id, flt).subquery()
    row = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(inner.c.units), 0),
            func.coalesce(func.sum(case((inner.c.direction == "inbound", 1), else_=0)), 0),
        ).select_from(inner)
    ).one()
    count, units, inbound = (int(v or 0) for v in row)
    return count, units, inbound


def history_stream(session: Session, business_id: int, flt: HistoryFilter) -> Iterable[HistoryRow]:
    """Every filtered row, oldest first, fetched from the database in chunks of 1,000."""
    stmt = _history(business_id, flt).order_by(Message.created_at, Message.id)
    return session.execute(stmt.execution_options(yield_per=1000))


def phones_in_touch(session: Session, business_id: int, phones: Iterable[str]) -> set[str]:
    """The phones among these whose conversation with the business has a message either way:
    the client texted the business, or the business has texted them."""
    wanted = sorted(set(phones))
    if not wanted:
        return set()
    rows = session.scalars(
        select(Conversation.phone)
        .where(Conversation.business_id == business_id, Conversation.phone.in_(wanted))
        .where(select(Message.id).where(Message.conversation_id == Conversation.id).exists())
    )
    return set(rows)


# ---------------------------------------------------------------------------- assignment


def business_staff_member(session: Session, business_id: int, staff_id: int) -> StaffMember | None:
    return session.scalar(
        select(StaffMember).where(
            StaffMember.id == staff_id, StaffMember.business_id == business_id
        )
    )


_ACTIVE_STAFF = (
    select(StaffMember)
    .where(StaffMember.business_id == bindparam("business_id"), StaffMember.active.is_(True))
    .order_by(StaffMember.name, StaffMember.id)
)


def active_staff(session: Session, business_id: int) -> list[StaffMember]:
    """Who a conversation can be assigned to, by name."""
    return list(session.scalars(_ACTIVE_STAFF, {"business_id": business_id}))


def add_event(session: Session, event: ConversationEvent) -> None:
    session.add(event)
    session.flush()


_EVENTS = (
    select(ConversationEvent)
    .where(
        ConversationEvent.business_id == bindparam("business_id"),
        ConversationEvent.conversation_id == bindparam("conversation_id"),
    )
    .order_by(ConversationEvent.id.desc())
    .limit(bindparam("limit", type_=Integer))
)


def conversation_events(
    session: Session, business_id: int, conversation_id: int, *, limit: int
) -> list[ConversationEvent]:
    """The conversation's newest `limit` events, oldest first."""
    values = {"business_id": business_id, "conversation_id": conversation_id, "limit": limit}
    return list(reversed(list(session.scalars(_EVENTS, values))))


def staff_names(session: Session, staff_ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted(set(staff_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(StaffMember.id, StaffMember.name).where(StaffMember.id.in_(wanted))
    )
    return {row.id: row.name for row in rows}


# ---------------------------------------------------------------------------- read markers


def newest_message_ids(session: Session, conversation_ids: Iterable[int]) -> dict[int, int]:
    """Each of these conversations' newest message id (those with a message), each found by
    one step down the conversation's message index."""
    wanted = sorted(set(conversation_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Conversation.id, _newest_message_id()).where(Conversation.id.in_(wanted))
    )
    return {conversation_id: message_id for conversation_id, message_id in rows if message_id}


def _newest_message_id() -> ScalarSelect[int]:
    return (
        select(Message.id)
        .where(Message.conversation_id == Conversation.id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
        .scalar_subquery()
    )


class RowMarks(NamedTuple):
    """What a listed conversation's row shows beyond the conversation: its newest message's
    id (None without one), the one the staff member last saw there (0: none), and its
    phone's consent (None if the number never opted out or in)."""

    newest_message_id: int | None
    seen_message_id: int
    consent: PhoneConsent | None


_ROW_MARKS = (
    select(
        Conversation.id,
        _newest_message_id(),
        StaffReadMarker.last_read_message_id,
        PhoneConsent,
    )
    .outerjoin(
        StaffReadMarker,
        (StaffReadMarker.conversation_id == Conversation.id)
        & (StaffReadMarker.staff_member_id == bindparam("staff_id")),
    )
    .outerjoin(
        PhoneConsent,
        (PhoneConsent.business_id == Conversation.business_id)
        & (PhoneConsent.phone == Conversation.phone),
    )
    .where(Conversation.id.in_(bindparam("ids", expanding=True)))
)


def row_marks(
    session: Session, staff_id: int, conversation_ids: Iterable[int]
) -> dict[int, RowMarks]:
    """Each of these conversations' row marks (RowMarks), for this staff member, in one
    statement."""
    wanted = sorted(set(conversation_ids))
    if not wanted:
        return {}
    rows = session.execute(_ROW_MARKS, {"staff_id": staff_id, "ids": wanted})
    return {
        conversation_id: RowMarks(newest, seen or 0, consent)
        for conversation_id, newest, seen, consent in rows
    }


def move_read_marker(
    session: Session, staff_id: int, conversation_id: int, message_id: int
) -> None:
    """The staff member has seen the conversation up to `message_id`: their marker moves
    there, never back (two tabs of theirs may post in either order)."""
    dialect = session.get_bind().dialect.name
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
    markers = cast(Table, StaffReadMarker.__table__)
    stmt = insert_into(markers).values(
        staff_member_id=staff_id, conversation_id=conversation_id, last_read_message_id=message_id
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["staff_member_id", "conversation_id"],
        set_={
            "last_read_message_id": case(
                (
                    markers.c.last_read_message_id < stmt.excluded.last_read_message_id,
                    stmt.excluded.last_read_message_id,
                ),
                else_=markers.c.last_read_message_id,
            )
        },
    )
    session.execute(stmt)


def assigned_unread(session: Session, business_id: int, staff_id: int) -> int:
    """The unread client messages of the (unmuted) conversations assigned to this staff
    member: their badge when it counts only theirs."""
    total = session.scalar(
        select(func.coalesce(func.sum(Conversation.unread_count), 0)).where(
            Conversation.business_id == business_id,
            Conversation.assignee_id == staff_id,
            Conversation.muted.is_(False),
        )
    )
    return int(total or 0)

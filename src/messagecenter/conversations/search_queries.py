"""The inbox search's SQL: which conversations a search finds, each way through its own index.

A conversation is found by any of its messages' text, its client's full name, or its phone's
digits (conversations.search reads what was typed). Each way asks its trigram index (SQLite
FTS5, PostgreSQL pg_trgm: see models/search_index) for ids, newest first and at most
MATCH_CAP of them, and the inbox then lists the union of those ids: one OR across three
tables would walk every conversation of the business instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, Text, bindparam, column, func, literal_column, select, table
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.elements import ColumnElement

from messagecenter.conversations.search import SearchQuery
from messagecenter.db import among_ids, contains_pattern
from messagecenter.models import Client, Conversation, Message
from messagecenter.models.search_index import (
    FOLDED_BODY,
    FOLDED_NAME,
    FTS_TABLE,
    NAME_FTS_TABLE,
    PHONE_FTS_TABLE,
)

# Each way a search matches stops at its newest this many rows: a rare word, name or number
# is found however old; one in every other row lists its latest uses, and the search stays as
# fast as a rare one's.
MATCH_CAP = 1000
TRIGRAM = 3  # characters: shorter text cannot use either database's index
# PostgreSQL's lowercased copies of each message's text and each client's full name
# (migration 0027), not in the models.
_folded_body = literal_column(f"messages.{FOLDED_BODY}", Text)
_folded_name = literal_column(f"clients.{FOLDED_NAME}", Text)
# CLIENT_NAME_SQL as a column (SQLite, for a name shorter than a trigram).
_client_name = Client.first_name.op("||")(literal_column("' '")).op("||")(Client.last_name)


@dataclass(frozen=True)
class SearchHits:
    """The conversations a search found; for those found by a message's text, the newest
    such message's id."""

    conversation_ids: frozenset[int]
    newest_message: dict[int, int]


def search_hits(session: Session, business_id: int, search: SearchQuery) -> SearchHits:
    """What the search finds, worked out once for the query (one request's): the list, its
    count and each result's highlighted message all ask for it."""
    memo = search.found
    if business_id not in memo:
        written = (
            text_matches(session, business_id, search.body_text)
            if search.body_text is not None
            else {}
        )
        found = set(written)
        found.update(named_conversations(session, business_id, search.text))
        if search.phone_digits is not None:
            found.update(phone_matches(session, business_id, search.phone_digits))
        memo[business_id] = SearchHits(frozenset(found), written)
    hits: SearchHits = memo[business_id]
    return hits


def text_matches(session: Session, business_id: int, text: str) -> dict[int, int]:
    """The conversations among the business's newest MATCH_CAP messages whose text holds
    `text` (any case), each with its newest such message's id, newest first."""
    if _is_postgresql(session):
        # pg_trgm's GIN index finds a rare text; a common one is met walking ids backwards.
        # Both test the stored lowercased text with LIKE (ILIKE would lowercase every row).
        stmt = newest(
            select(Message.id, Message.conversation_id).where(
                Message.business_id == business_id,
                _folded_body.like(_folded_pattern(text), escape="\\"),
            ),
            Message.id,
        )
    else:
        stmt = _newest_through_fts(
            FTS_TABLE, text, Message, business_id, Message.id, Message.conversation_id
        )
    found: dict[int, int] = {}
    for message_id, conversation_id in session.execute(stmt):
        found.setdefault(conversation_id, message_id)
    return found


def named_conversations(session: Session, business_id: int, text: str) -> list[int]:
    """The conversations of the business's newest MATCH_CAP clients whose full name holds
    `text` (any case)."""
    if _is_postgresql(session):
        # pg_trgm's index serves the stored lowercased name, as the messages' text above.
        named = newest(
            select(Client.id).where(
                Client.business_id == business_id,
                _folded_name.like(_folded_pattern(text), escape="\\"),
            ),
            Client.id,
        )
    elif len(text) < TRIGRAM:  # shorter than a trigram: looked for along the clients
        named = newest(
            select(Client.id).where(
                Client.business_id == business_id,
                _client_name.ilike(contains_pattern(text), escape="\\"),
            ),
            Client.id,
        )
    else:
        named = _newest_through_fts(NAME_FTS_TABLE, text, Client, business_id, Client.id)
    client_ids = list(session.scalars(named))
    if not client_ids:
        return []
    return list(
        session.scalars(
            # The business as an expression, so the client index serves (the clients are
            # the business's already) rather than a walk of the business's conversations.
            select(Conversation.id).where(
                Conversation.business_id + 0 == business_id,
                among_ids(session, Conversation.client_id, client_ids),
            )
        )
    )


def phone_matches(session: Session, business_id: int, digits: str) -> list[int]:
    """The business's newest MATCH_CAP conversations whose phone holds `digits`."""
    if _is_postgresql(session):
        stmt = newest(
            select(Conversation.id).where(
                Conversation.business_id == business_id, Conversation.phone.like(f"%{digits}%")
            ),
            Conversation.id,
        )
    else:
        stmt = _newest_through_fts(
            PHONE_FTS_TABLE, digits, Conversation, business_id, Conversation.id
        )
    return list(session.scalars(stmt))


_Rows = TypeVar("_Rows", bound=Select[*tuple[Any, ...]])


def _folded_pattern(text: str) -> ColumnElement[str]:
    """A LIKE pattern for the folded copies: `text` anywhere, lowercased the database's way."""
    return func.lower(bindparam("pattern", contains_pattern(text), type_=Text))


def newest(stmt: _Rows, id_column: QueryableAttribute[int]) -> _Rows:
    """The statement's newest MATCH_CAP rows (ids grow with time)."""
    return stmt.order_by(id_column.desc()).limit(MATCH_CAP)


def _newest_through_fts(
    fts_table: str,
    text: str,
    model: type[Client] | type[Conversation] | type[Message],
    business_id: int,
    *columns: QueryableAttribute[Any],
) -> Select[*tuple[Any, ...]]:
    """The business's newest MATCH_CAP rows of `model` whose indexed text holds `text`: the
    FTS5 index hands its rows out newest first (by rowid, the row's id), so the cap stops
    the walk early."""
    fts = table(fts_table, column("rowid"))
    return (
        select(*columns)
        .select_from(fts)
        .join(model, model.id == fts.c.rowid)
        .where(_fts_match(fts_table, text), model.business_id == business_id)
        .order_by(fts.c.rowid.desc())
        .limit(MATCH_CAP)
    )


def _fts_match(fts_table: str, text: str) -> ColumnElement[bool]:
    """An FTS5 phrase: the trigram tokenizer matches it anywhere in the text, any case."""
    phrase = '"' + text.replace('"', '""') + '"'
    return literal_column(fts_table).op("MATCH")(phrase)


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"

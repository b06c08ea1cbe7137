"""SQLite's plans for the inbox's reads at scale: without statistics its planner once walked a
million messages backwards for a thread's newest page, and a business's whole inbox index
for a search's few results. Each read here must go through the index made for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, insert
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import queries, search_queries
from messagecenter.conversations.queries import ConversationFilter
from messagecenter.conversations.search import read_query
from messagecenter.models import Client, Conversation
from tests.conftest import BACKEND
from tests.factories import SetUp, make_business, text_from

pytestmark = pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite's planner, without ANALYZE")


@contextmanager
def plans(session: Session) -> Iterator[list[str]]:
    """Every plan line of the SELECTs run inside the block."""
    lines: list[str] = []
    connection = session.connection()

    def explain(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            raw = conn.connection.driver_connection
            for row in raw.execute("EXPLAIN QUERY PLAN " + statement, parameters):
                lines.append(row[-1])

    event.listen(connection, "before_cursor_execute", explain)
    try:
        yield lines
    finally:
        event.remove(connection, "before_cursor_execute", explain)


MANY = 300  # found rows: with a long IN list the planner weighs indexes as at scale


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now())
    business_id, now = setup.business.id, clock.now()
    text_from(session, setup.number, "+12125550142", "a hot stone massage?", now)
    client_ids = session.scalars(
        insert(Client).returning(Client.id),
        [{"business_id": business_id, "first_name": "Ada", "last_name": "Okafor",
          "cell_phone": f"+1646555{n:04d}", "created_at": now, "updated_at": now}
         for n in range(MANY)],
    ).all()  # fmt: skip
    session.execute(
        insert(Conversation),
        [{"business_id": business_id, "phone": f"+1646555{n:04d}", "client_id": client_id,
          "folder": "read", "unread_count": 0, "pinned": False, "muted": False,
          "last_message_at": now, "last_message_preview": "hi", "created_at": now}
         for n, client_id in enumerate(client_ids)],
    )  # fmt: skip
    return setup


def plan_of(session: Session, read: Callable[[], object]) -> str:
    with plans(session) as lines:
        read()
    return "\n".join(lines)


def test_a_threads_newest_page_reads_the_conversations_messages_by_id(
    session: Session, shop: SetUp
) -> None:
    conversation = queries.conversation_for_phone(session, shop.business.id, "+12125550142")
    assert conversation is not None
    plan = plan_of(
        session,
        lambda: queries.thread_page(
            session, shop.business.id, conversation.id, limit=50, before_id=None
        ),
    )
    assert "USING INDEX ix_messages_conversation_id (conversation_id=?)" in plan


def test_a_search_reads_each_index_and_fetches_what_it_found_by_id(
    session: Session, shop: SetUp
) -> None:
    search = read_query("okafor", "US")
    assert search is not None
    plan = plan_of(
        session,
        lambda: queries.list_conversations(
            session, shop.business.id, ConversationFilter(search=search)
        ),
    )
    assert "client_name_search VIRTUAL TABLE" in plan
    assert "USING INDEX ix_conversations_client_id (client_id=?)" in plan
    assert "ix_conversations_all" not in plan and "ix_conversations_inbox" not in plan
    assert "SEARCH conversations USING INTEGER PRIMARY KEY (rowid=?)" in plan

    phone = read_query("0142", "US")
    assert phone is not None
    assert "conversation_phone_search VIRTUAL TABLE" in plan_of(
        session, lambda: search_queries.search_hits(session, shop.business.id, phone)
    )


def test_counts_read_the_inbox_indexes_alone(session: Session, shop: SetUp) -> None:
    plan = plan_of(
        session,
        lambda: queries.folder_counts(session, shop.business.id, ["unread", "blocked"]),
    )
    assert "COVERING INDEX ix_conversations_inbox" in plan
    assert "COVERING INDEX ix_conversations_blocked" in plan
    total = plan_of(
        session, lambda: queries.list_conversations(session, shop.business.id, ConversationFilter())
    )
    assert "SCAN conversations" not in total


def test_a_date_range_reads_its_range_of_the_inbox_index(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    # `pinned` comes before the time in the index: without both its values named, the count
    # and the page walked the business's whole inbox to find a day's conversations.
    since = clock.now() - timedelta(days=2)
    plan = plan_of(
        session,
        lambda: queries.list_conversations(
            session, shop.business.id, ConversationFilter(since=since, count_up_to=1025)
        ),
    )
    assert "ix_conversations_all (business_id=? AND pinned=? AND last_message_at>?)" in plan
    assert "(business_id=?)\n" not in plan + "\n"

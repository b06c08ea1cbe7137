"""The intake's set-based writes: every value of every text arrives, and on PostgreSQL a
batch of any size is one and the same statement (its rows sent as arrays)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event, select
from sqlalchemy.orm import Session

from messagecenter.carriers.base import InboundSms
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.intake.record import record_inbound_batch
from messagecenter.models import Conversation, InboundQueueItem, Message
from tests.factories import make_business

MEDIA = ["https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"]


def _texts(number: str, first: int, count: int) -> list[InboundSms]:
    return [
        InboundSms(
            f"SMu{first + i:030d}",
            f"+1212555{1000 + (first + i) % 7:04d}",  # several texts a conversation
            number,
            f"Text {first + i}: café ☕",
            MEDIA if i % 3 == 0 else [],
        )
        for i in range(count)
    ]


@contextmanager
def _inserts_into(target: Connection | Engine, *tables: str) -> Iterator[list[str]]:
    """The INSERT statements into these tables that `target` runs meanwhile, as sent."""
    prefixes = tuple(f"INSERT INTO {table}" for table in tables)
    statements: list[str] = []

    def seen(_conn: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith(prefixes):
            statements.append(statement)

    event.listen(target, "before_cursor_execute", seen)
    try:
        yield statements
    finally:
        event.remove(target, "before_cursor_execute", seen)


def test_batches_of_any_size_store_every_value_and_on_postgresql_share_one_statement(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    number = make_business(session, context.carrier, clock.now()).number.phone_number
    session.flush()
    one, many = _texts(number, 0, 1), _texts(number, 1, 20)
    with _inserts_into(session.connection(), "messages", "conversations") as statements:
        record_inbound_batch(session, [(text, clock.now()) for text in one])
        record_inbound_batch(session, [(text, clock.now()) for text in many])

    session.expire_all()
    stored = {
        m.carrier_sid: (m.from_phone, m.to_phone, m.body, m.media_urls, m.created_at)
        for m in session.scalars(select(Message))
    }
    assert stored == {
        text.carrier_sid: (text.from_phone, number, text.body, text.media_urls, clock.now())
        for text in one + many
    }
    unread = dict(session.execute(select(Conversation.phone, Conversation.unread_count)).all())
    assert sum(unread.values()) == 21 and len(unread) == 7
    assert len(statements) == 4  # conversations and messages, for each batch
    if session.get_bind().dialect.name == "postgresql":
        assert len(set(statements)) == 2  # one statement each, whatever the batch's size


def test_queued_texts_keep_every_value_and_on_postgresql_share_one_statement(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """The webhook's queue insert (db.insert_ignore_many) for batches of 1 and 10."""
    number = make_business(session, context.carrier, clock.now()).number.phone_number
    session.commit()
    one, many = _texts(number, 100, 1), _texts(number, 101, 10)
    with _inserts_into(context.engine, "inbound_queue") as statements:
        assert context.intake.enqueue_inbound_batch(one) == [True]
        assert context.intake.enqueue_inbound_batch([*many, one[0]]) == [True] * 10 + [False]

    session.expire_all()
    queued = {
        q.carrier_sid: (q.from_phone, q.to_phone, q.body, q.media_urls, q.attempts)
        for q in session.scalars(select(InboundQueueItem))
    }
    assert queued == {
        t.carrier_sid: (t.from_phone, number, t.body, t.media_urls, 0) for t in one + many
    }
    assert len(statements) == 2
    if session.get_bind().dialect.name == "postgresql":
        assert statements[0] == statements[1]

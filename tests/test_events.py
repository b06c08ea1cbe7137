"""Live events leave only on commit, reach subscribers of their business only, and travel
between processes through PostgreSQL LISTEN/NOTIFY."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import event as sqlalchemy_event
from sqlalchemy import text
from sqlalchemy.orm import Session

from messagecenter.apikeys.service import authenticate, revoke_api_key
from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.events import (
    _QUEUE_LIMIT,
    ACCESS_ENDED,
    CHANNEL,
    EventBus,
    LiveEvent,
    PostgresListener,
    access_ended,
    libpq_dsn,
    pending_events,
    queue_event_on_commit,
)
from tests.factories import make_business
from tests.live_server import serve


def _collect(
    bus: EventBus, business_id: int, action: Callable[[], None], wait: float = 2.0
) -> list[LiveEvent]:
    """Subscribe, run `action` in a thread, and gather what arrives within `wait` seconds."""

    async def run() -> list[LiveEvent]:
        received: list[LiveEvent] = []
        timeout = wait
        async with bus.subscribe(business_id) as queue:
            await asyncio.to_thread(action)
            try:
                while True:
                    received.append(await asyncio.wait_for(queue.get(), timeout))
                    timeout = 0.3  # after the first event, only gather what is already coming
            except TimeoutError:
                return received

    return asyncio.run(run())


def test_event_is_published_after_commit_only(committed_context: AppContext) -> None:
    context = committed_context
    if context.engine.dialect.name == "postgresql":
        listener = PostgresListener(libpq_dsn(context.settings.database_url), context.bus)
        listener.start()
        assert listener.ready.wait(5)
    else:
        listener = None
    try:

        def commit_one_and_roll_back_one() -> None:
            with context.sessions() as session:
                queue_event_on_commit(session, LiveEvent(1, "kept", {"n": 1}))
                session.commit()
                queue_event_on_commit(session, LiveEvent(1, "dropped", {"n": 2}))
                session.rollback()

        received = _collect(context.bus, 1, commit_one_and_roll_back_one)
    finally:
        if listener is not None:
            listener.stop()
    assert [e.type for e in received] == ["kept"]


def test_subscribers_of_another_business_get_nothing() -> None:
    bus = EventBus()
    received = _collect(bus, 2, lambda: bus.publish(LiveEvent(1, "x", {})), wait=0.3)
    assert received == []
    assert bus.subscriber_count() == 0


def test_the_listener_decodes_no_event_while_no_stream_is_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A malformed payload shows whether the listener decoded it: ignored unread with no
    stream open in the process, decoded (and reported) once one is."""
    bus = EventBus()
    listener = PostgresListener("postgresql://unused", bus)
    with caplog.at_level(logging.WARNING, logger="messagecenter.events"):
        listener._publish("not json")
        assert "malformed" not in caplog.text

        async def with_a_stream_open() -> None:
            async with bus.subscribe(1):
                listener._publish("not json")

        asyncio.run(with_a_stream_open())
    assert "ignored a malformed live event" in caplog.text
    assert bus.subscriber_count() == 0


@pytest.mark.postgres_only
def test_event_raised_in_one_process_reaches_a_listener_of_another(
    committed_context: AppContext,
) -> None:
    """Two contexts stand for two processes: each has its own bus; only the database links
    them."""
    other = build_context(committed_context.settings, engine=committed_context.engine)
    listener = PostgresListener(libpq_dsn(other.settings.database_url), other.bus)
    listener.start()
    assert listener.ready.wait(5)
    try:

        def raise_in_first_process() -> None:
            with session_scope(committed_context.sessions) as session:
                queue_event_on_commit(session, LiveEvent(7, "message.created", {"id": 1}))
                session.execute(text("SELECT 1"))

        received = _collect(other.bus, 7, raise_in_first_process)
    finally:
        listener.stop()
    assert [(e.type, e.data) for e in received] == [("message.created", {"id": 1})]


@pytest.fixture
def live_app(committed_context: AppContext) -> Iterator[tuple[str, AppContext]]:
    with serve(create_app(context=committed_context, run_dispatcher=False)) as base_url:
        yield base_url, committed_context


def _read_events(lines: Iterator[str], count: int) -> list[tuple[str, dict[str, object]]]:
    events: list[tuple[str, dict[str, object]]] = []
    name = None
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: ") and name is not None:
            events.append((name, json.loads(line[len("data: ") :])))
            name = None
            if len(events) == count:
                break
    return events


def test_sse_stream_pushes_a_new_text_and_the_unread_count(
    live_app: tuple[str, AppContext],
) -> None:
    base_url, context = live_app
    with session_scope(context.sessions) as session:
        setup = make_business(session, context.carrier, context.clock.now())
    business_number = setup.number.phone_number
    with (
        httpx.Client(base_url=base_url, timeout=10) as http,
        http.stream("GET", "/api/v1/events", headers=setup.auth) as stream,
    ):
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        first = _read_events(lines, 1)
        assert first == [("unread.changed", {"unread": 0})]

        def text_the_business() -> None:
            with httpx.Client(base_url=base_url, timeout=10) as other:
                reply = other.post(
                    "/simulator/messages",
                    json={"from_phone": "+12125550177", "to_phone": business_number, "body": "Hi"},
                    headers=setup.auth,
                )
                assert reply.status_code == 201
            # This app runs no worker: on PostgreSQL the text waits in the inbound queue, so
            # process it as the worker would (on SQLite it was recorded already).
            context.intake.process_queued()

        sender = threading.Thread(target=text_the_business)
        sender.start()
        events = _read_events(lines, 2)
        sender.join()
    assert [name for name, _ in events] == ["message.created", "unread.changed"]
    assert events[1][1]["unread"] == 1


def test_sse_stream_refuses_a_missing_key(live_app: tuple[str, AppContext]) -> None:
    base_url, _ = live_app
    reply = httpx.get(f"{base_url}/api/v1/events", timeout=5)
    assert reply.status_code == 401
    assert reply.json()["error"]["code"] == "missing_api_key"


def test_access_ended_reaches_even_a_subscriber_that_fell_behind() -> None:
    """A full queue drops new events, but not the one that must close the stream."""
    bus = EventBus()

    async def run() -> list[LiveEvent]:
        async with bus.subscribe(1) as queue:
            for n in range(_QUEUE_LIMIT + 5):
                bus.publish(LiveEvent(1, "message.created", {"n": n}))
            bus.publish(access_ended(1, api_key_id=3))
            await asyncio.sleep(0)  # one turn of the loop runs the offers already scheduled
            return [queue.get_nowait() for _ in range(queue.qsize())]

    received = asyncio.run(run())
    assert len(received) == _QUEUE_LIMIT
    assert received[-1] == LiveEvent(1, ACCESS_ENDED, {"api_key_id": 3})


def test_revoking_a_key_raises_access_ended_once(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    key = authenticate(session, setup.api_key)
    session.commit()
    revoke_api_key(session, setup.business.id, key.id, clock.now())
    revoke_api_key(session, setup.business.id, key.id, clock.now())  # already revoked
    assert pending_events(session) == [
        LiveEvent(setup.business.id, ACCESS_ENDED, {"api_key_id": key.id})
    ]


@pytest.mark.postgres_only
def test_a_commit_with_thousands_of_events_notifies_them_all_in_one_statement(
    committed_context: AppContext,
) -> None:
    """A bulk send raises an event per message: they all leave, in order, in one statement
    (their payloads one array), which is the same statement for any number of events."""
    import psycopg

    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "pg_notify" in statement:
            statements.append(statement)

    engine = committed_context.engine
    listening = psycopg.connect(libpq_dsn(committed_context.settings.database_url), autocommit=True)
    sqlalchemy_event.listen(engine, "before_cursor_execute", seen)
    try:
        listening.execute(f"LISTEN {CHANNEL}")
        for count in (1, 2001):
            with session_scope(committed_context.sessions) as session:
                for n in range(count):
                    queue_event_on_commit(session, LiveEvent(7, "message.created", {"id": n}))
                session.execute(text("SELECT 1"))
        received = []
        for notify in listening.notifies(timeout=30, stop_after=2002):
            received.append(LiveEvent.from_json(notify.payload).data["id"])
    finally:
        sqlalchemy_event.remove(engine, "before_cursor_execute", seen)
        listening.close()
    assert received == [0, *range(2001)]
    assert len(statements) == 2 and statements[0] == statements[1]

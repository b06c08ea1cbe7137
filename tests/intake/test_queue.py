"""The inbound queue's writer on PostgreSQL: the webhook's texts inserted on the event loop, on
a connection of its own that commits for real (committed_context)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from messagecenter import db
from messagecenter.app import create_app
from messagecenter.carriers.base import InboundSms
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.intake import queries
from messagecenter.intake.queue import CONNECTION_NAME, which_new
from messagecenter.models import InboundQueueItem
from tests.carriers.twilio.test_endpoints import INBOUND, signed_post
from tests.factories import make_business

NUMBER = "+12125550100"


def _text(sid: str, body: str = "Hello") -> InboundSms:
    return InboundSms(sid, "+12125550142", NUMBER, body, [])


def _queued(context: AppContext) -> dict[str, InboundQueueItem]:
    with session_scope(context.sessions) as session:
        return {i.carrier_sid: i for i in session.scalars(select(InboundQueueItem))}


@pytest.fixture
def writer_connections(committed_context: AppContext) -> Callable[[], int]:
    """How many connections the webhook's writer holds now, of those opened since the test
    began (an app another test served without its shutdown may have left one open)."""
    with session_scope(committed_context.sessions) as session:
        started = session.scalar(text("SELECT clock_timestamp()"))

    def count() -> int:
        with session_scope(committed_context.sessions) as session:
            found = session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
                    " AND datname = current_database() AND backend_start >= :since"
                ),
                {"name": CONNECTION_NAME, "since": started},
            )
        return int(found or 0)

    return count


def _until_none(count: Callable[[], int]) -> int:
    """The count once it reaches zero, or what it is after 10 s: a closed connection's server
    process leaves pg_stat_activity when it has exited, which a loaded machine may delay."""
    deadline = time.monotonic() + 10
    while (found := count()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _drop_writer_connections(context: AppContext) -> None:
    """The server ends the writer's connection (a restart, a failover, an idle timeout)."""
    with session_scope(context.sessions) as session:
        session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": CONNECTION_NAME},
        )


def _accept_together(context: AppContext, *texts: InboundSms) -> list[bool | BaseException]:
    """The texts submitted at one moment (one batch), each one's answer."""

    async def together() -> list[bool | BaseException]:
        answers = await asyncio.gather(
            *(context.intake.accept_inbound(t) for t in texts), return_exceptions=True
        )
        await context.intake.aclose()
        return list(answers)

    return asyncio.run(together())


def test_each_text_hears_whether_it_was_new() -> None:
    texts = [_text("SMb"), _text("SMa"), _text("SMb")]
    assert which_new(texts, {"SMa", "SMb"}) == [True, True, False]  # twice in one batch
    assert which_new([_text("SM\x00")], {"SM\ufffd"}) == [True]  # stored without its NUL


@pytest.mark.postgres_only
def test_texts_submitted_together_are_one_insert_and_each_hears_if_it_was_new(
    committed_context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _accept_together(committed_context, _text("SMa")) == [True]
    inserts: list[int] = []
    real = queries.queue_insert

    def counted(rows: Any) -> Any:
        inserts.append(len(rows))
        return real(rows)

    monkeypatch.setattr(queries, "queue_insert", counted)

    answers = _accept_together(
        committed_context, _text("SMa"), _text("SMb"), _text("SMc"), _text("SMc")
    )
    assert answers == [False, True, True, False]  # SMa was queued; SMc twice in the batch
    assert inserts == [4]
    assert sorted(_queued(committed_context)) == ["SMa", "SMb", "SMc"]


@pytest.mark.postgres_only
def test_a_text_that_cannot_be_stored_fails_only_its_own_request(
    committed_context: AppContext,
) -> None:
    unstorable = _text("SMx", "\ud800")  # a lone surrogate: no UTF-8 for the driver to send
    answers = _accept_together(committed_context, _text("SMa"), unstorable, _text("SMb"))
    assert answers[0] is True and answers[2] is True
    assert isinstance(answers[1], UnicodeEncodeError)
    assert sorted(_queued(committed_context)) == ["SMa", "SMb"]


@pytest.mark.postgres_only
def test_a_nul_is_replaced_and_remembered(committed_context: AppContext) -> None:
    assert _accept_together(committed_context, _text("SMa", "a\x00b")) == [True]
    item = _queued(committed_context)["SMa"]
    assert (item.body, item.body_had_nul, item.attempts) == ("a\ufffdb", True, 0)
    assert item.received_at == committed_context.clock.now()


@pytest.mark.postgres_only
def test_a_connection_the_server_dropped_fails_the_batch_and_each_text_goes_on_a_new_one(
    committed_context: AppContext,
    writer_connections: Callable[[], int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    intake = committed_context.intake

    async def scenario() -> list[bool | BaseException]:
        assert await intake.accept_inbound(_text("SMa"))
        assert writer_connections() == 1
        _drop_writer_connections(committed_context)
        answers = await asyncio.gather(
            intake.accept_inbound(_text("SMb")),
            intake.accept_inbound(_text("SMc")),
            return_exceptions=True,
        )
        await intake.aclose()
        return list(answers)

    with caplog.at_level(logging.WARNING, logger="messagecenter.intake.batching"):
        assert asyncio.run(scenario()) == [True, True]
    assert "a batch of 2 failed; writing each alone" in caplog.messages  # on the dead one
    assert sorted(_queued(committed_context)) == ["SMa", "SMb", "SMc"]


@pytest.mark.postgres_only
def test_an_idle_connection_the_server_dropped_is_replaced_before_a_lone_text_uses_it(
    committed_context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool pings a connection idle for IDLE_PING_AFTER_SECONDS before handing it out (a
    restart or failover in a quiet spell): here every checkout, so no test waits."""
    monkeypatch.setattr(db, "IDLE_PING_AFTER_SECONDS", 0.0)
    intake = committed_context.intake

    async def scenario() -> bool:
        assert await intake.accept_inbound(_text("SMa"))
        _drop_writer_connections(committed_context)
        try:
            return await intake.accept_inbound(_text("SMb"))  # alone: no batch to retry
        finally:
            await intake.aclose()

    assert asyncio.run(scenario()) is True
    assert sorted(_queued(committed_context)) == ["SMa", "SMb"]


@pytest.mark.postgres_only
def test_each_event_loop_gets_its_own_connection_and_close_ends_it(
    committed_context: AppContext, writer_connections: Callable[[], int]
) -> None:
    """A process's server has one loop; a test client starts one per client."""
    intake = committed_context.intake

    def in_a_new_loop(step: Callable[[], Awaitable[bool]]) -> bool:
        return asyncio.run(step())  # the loop ends without closing the writer

    assert in_a_new_loop(lambda: intake.accept_inbound(_text("SMa")))
    assert in_a_new_loop(lambda: intake.accept_inbound(_text("SMb")))
    asyncio.run(intake.aclose())
    assert sorted(_queued(committed_context)) == ["SMa", "SMb"]
    assert _until_none(writer_connections) == 0


@pytest.mark.postgres_only
def test_the_webhook_queues_on_the_writer_and_shutdown_closes_its_connection(
    committed_context: AppContext, writer_connections: Callable[[], int]
) -> None:
    context = committed_context
    with session_scope(context.sessions) as session:
        created = make_business(session, context.carrier, context.clock.now())
        number = created.number.phone_number
    form = {
        "MessageSid": "SM" + "d" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": "+12125550142",
        "To": number,
        "Body": "Hello",
        "NumMedia": "0",
    }
    app = create_app(context=context, run_dispatcher=False)
    with TestClient(app) as client:
        response = signed_post(client, INBOUND, form)
        assert response.status_code == 200  # type: ignore[attr-defined]
        assert writer_connections() == 1  # it went through the writer
    assert list(_queued(context)) == ["SM" + "d" * 32]
    assert _until_none(writer_connections) == 0

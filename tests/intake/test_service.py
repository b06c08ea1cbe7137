"""The inbound queue: the webhook's texts are processed in batches, and one text that cannot
be processed neither blocks the others nor disappears."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from messagecenter import cli
from messagecenter.carriers.base import InboundSms
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.db import make_engine
from messagecenter.intake import queries as intake_queries
from messagecenter.intake import service as intake_module
from messagecenter.migrate import upgrade
from messagecenter.models import Conversation, InboundQueueItem, Message, UnroutedMessage
from tests.conftest import START
from tests.factories import make_business


def _texts(number: str, count: int) -> list[InboundSms]:
    return [
        InboundSms(f"SMq{i:030d}", f"+1212555{100 + i:04d}", number, f"text {i}")
        for i in range(count)
    ]


def _stored(session: Session) -> tuple[int, list[tuple[str, int]]]:
    session.expire_all()
    messages = session.scalar(select(func.count()).select_from(Message)) or 0
    queued = session.execute(
        select(InboundQueueItem.carrier_sid, InboundQueueItem.attempts).order_by(
            InboundQueueItem.id
        )
    ).all()
    return messages, [(sid, attempts) for sid, attempts in queued]


def _fail_on(bad: InboundSms, monkeypatch: pytest.MonkeyPatch) -> None:
    """Any unit of work that holds `bad` fails, as a bug would."""
    original = intake_module.record.record_inbound_batch

    def failing(db: Session, texts: list[tuple[InboundSms, object]]) -> object:
        if any(inbound.carrier_sid == bad.carrier_sid for inbound, _ in texts):
            raise RuntimeError("simulated bug")
        return original(db, texts)  # type: ignore[arg-type]

    monkeypatch.setattr(intake_module.record, "record_inbound_batch", failing)


@pytest.fixture
def number(session: Session, context: AppContext, clock: FrozenClock) -> str:
    """A business's SMS number, committed (the queue's units of work are separate)."""
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    return setup.number.phone_number


def test_queued_texts_become_messages_in_one_batch(
    session: Session, context: AppContext, number: str
) -> None:
    texts = _texts(number, 5)
    assert all(context.intake.enqueue_inbound(t) for t in texts)
    assert not context.intake.enqueue_inbound(texts[0])  # a retried webhook
    assert context.intake.process_queued() == (5, False, False)
    assert _stored(session) == (5, [])


def test_an_empty_queue_is_one_claim_and_nothing_more(
    context: AppContext, number: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored: list[object] = []
    monkeypatch.setattr(intake_module, "_store", lambda *args: stored.append(args) or [])
    assert context.intake.process_queued() == (0, False, False)
    assert stored == []  # no batch of nothing written (it was a query per worker pass)


def test_a_text_that_fails_is_kept_and_does_not_hold_up_the_rest(
    session: Session, context: AppContext, number: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _texts(number, 3)
    for text in texts:
        context.intake.enqueue_inbound(text)
    _fail_on(texts[1], monkeypatch)
    assert context.intake.process_queued()[0] == 2
    assert _stored(session) == (2, [(texts[1].carrier_sid, 1)])
    for _ in range(intake_module.MAX_ATTEMPTS):
        context.intake.process_queued()
    # Retried up to the limit, then left for the operator with the error; never deleted.
    messages, queued = _stored(session)
    assert messages == 2 and queued == [(texts[1].carrier_sid, intake_module.MAX_ATTEMPTS)]
    item = session.scalars(select(InboundQueueItem)).one()
    assert "simulated bug" in (item.last_error or "")
    monkeypatch.undo()
    assert context.intake.process_queued() == (0, False, False)  # parked, not picked up again


def test_a_webhook_batch_stores_every_text_and_a_bad_one_fails_alone(
    session: Session, context: AppContext, number: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _texts(number, 3)
    _fail_on(texts[1], monkeypatch)
    first, second, third = context.intake.receive_inbound_batch(texts)
    # The batch's transaction failed, so each text was stored alone: only the bad one fails
    # (its webhook answers 500 and Twilio sends it again).
    assert isinstance(second, RuntimeError)
    assert not isinstance(first, Exception) and first.message_id is not None
    assert not isinstance(third, Exception) and third.message_id is not None
    assert _stored(session) == (2, [])


def test_a_text_twice_in_one_batch_is_stored_once(
    session: Session, context: AppContext, number: str
) -> None:
    text = _texts(number, 1)[0]
    outcomes = context.intake.receive_inbound_batch([text, text])
    assert [getattr(o, "duplicate", None) for o in outcomes] == [False, True]
    assert _stored(session) == (1, [])


def test_queueing_a_batch_says_which_texts_were_new(
    session: Session, context: AppContext, number: str
) -> None:
    a, b, c = _texts(number, 3)
    assert context.intake.enqueue_inbound(a)
    assert context.intake.enqueue_inbound_batch([a, b, c, b]) == [False, True, True, False]
    assert [sid for sid, _ in _stored(session)[1]] == [a.carrier_sid, b.carrier_sid, c.carrier_sid]


@pytest.mark.parametrize("queue_inbound", [False, True], ids=["process-at-once", "queue"])
def test_accepting_a_webhook_text_commits_it_before_answering(
    session: Session,
    context: AppContext,
    number: str,
    queue_inbound: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(context.intake, "queue_inbound", queue_inbound)
    help_text, hello = (
        InboundSms("SM" + "h" * 32, "+12125550100", number, "HELP"),
        InboundSms("SM" + "e" * 32, "+12125550101", number, "Hello"),
    )

    async def accept_all() -> list[bool]:
        return await asyncio.gather(
            context.intake.accept_inbound(help_text), context.intake.accept_inbound(hello)
        )

    woken = asyncio.run(accept_all())
    messages, queued = _stored(session)
    if queue_inbound:
        # Both queued (new work for the worker), nothing processed yet.
        assert woken == [True, True] and (messages, len(queued)) == (0, 2)
    else:
        # Both stored; only HELP queued a reply for the worker to send.
        assert woken == [True, False] and (messages, queued) == (3, [])
    context.intake.close()


@pytest.mark.parametrize("queue_inbound", [False, True], ids=["process-at-once", "queue"])
def test_accepting_a_text_from_a_plain_thread_takes_the_same_path(
    session: Session,
    context: AppContext,
    number: str,
    queue_inbound: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The simulated phone's (sync) path: the batch thread writes it, queued or recorded as
    a webhook's text would be, committed before the call returns."""
    monkeypatch.setattr(context.intake, "queue_inbound", queue_inbound)
    writers: list[str] = []
    for name in ("enqueue_inbound_batch", "receive_inbound_batch"):
        original = getattr(context.intake, name)

        def write(inbounds: object, original: Any = original) -> object:
            writers.append(threading.current_thread().name)
            return original(inbounds)

        monkeypatch.setattr(context.intake, name, write)

    woken = context.intake.accept_inbound_sync(
        InboundSms("SM" + "h" * 32, "+12125550100", number, "HELP")
    )

    assert writers == ["intake"]  # the batcher's thread, not the caller's
    messages, queued = _stored(session)
    if queue_inbound:
        assert woken is True and (messages, len(queued)) == (0, 1)
    else:
        assert woken is True and (messages, queued) == (2, [])  # HELP and its reply
    context.intake.close()


def test_a_text_the_queue_cannot_take_fails_only_its_own_webhook(
    session: Session, context: AppContext, number: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _texts(number, 3)
    original = intake_queries.insert_ignore_many

    def refusing(db: Session, table: object, rows: list[dict[str, object]], *a: object) -> object:
        if any(row["carrier_sid"] == texts[1].carrier_sid for row in rows):
            raise RuntimeError("value too long for type character varying(64)")
        return original(db, table, rows, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(intake_queries, "insert_ignore_many", refusing)
    first, second, third = context.intake.enqueue_inbound_batch(texts)
    assert (first, third) == (True, True) and isinstance(second, RuntimeError)
    assert [sid for sid, _ in _stored(session)[1]] == [texts[0].carrier_sid, texts[2].carrier_sid]


def test_a_parked_text_raises_an_alert_and_the_operator_can_list_and_retry_it(
    session: Session,
    context: AppContext,
    number: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bad = _texts(number, 1)[0]
    context.intake.enqueue_inbound(bad)
    _fail_on(bad, monkeypatch)
    with caplog.at_level(logging.ERROR, logger="messagecenter.intake.service"):
        for attempt in range(1, intake_module.MAX_ATTEMPTS + 1):
            caplog.clear()
            context.intake.process_queued()
            alerts = [r for r in caplog.records if "parked" in r.getMessage()]
            # One alert, when the last attempt fails; none before.
            assert len(alerts) == (attempt == intake_module.MAX_ATTEMPTS)
    item_id = session.scalars(select(InboundQueueItem.id)).one()
    assert alerts[0].levelno == logging.ERROR
    assert str(item_id) in alerts[0].getMessage() and "simulated bug" in alerts[0].getMessage()
    with context.sessions() as db:
        assert [item.id for item in intake_module.parked_texts(db)] == [item_id]
        assert intake_module.retry_parked(db) == 1
        db.commit()
    monkeypatch.undo()  # the bug is fixed: the retried text is stored
    assert context.intake.process_queued() == (1, False, False)
    assert _stored(session) == (1, [])


def test_the_inbound_parked_command_lists_and_retries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'parked.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            insert(InboundQueueItem).values(
                carrier_sid="SMparked",
                from_phone="+12125550142",
                to_phone="+12125550100",
                body="lost?",
                media_urls=[],
                received_at=START,
                attempts=intake_module.MAX_ATTEMPTS,
                last_error="RuntimeError('simulated bug')",
            )
        )
    monkeypatch.setenv("MESSAGECENTER_DATABASE_URL", url)
    monkeypatch.setenv("MESSAGECENTER_SECRET_KEY", "cli-test")
    assert cli.main(["inbound", "parked"]) == 0
    listed = capsys.readouterr().out
    assert "SMparked" in listed and "simulated bug" in listed and "1 parked text(s)." in listed
    assert cli.main(["inbound", "parked", "--retry"]) == 0
    assert "1 parked text(s) put back" in capsys.readouterr().out
    with engine.connect() as connection:
        assert connection.scalar(select(InboundQueueItem.attempts)) == 0
    engine.dispose()


@pytest.mark.parametrize("path", ["processed at once", "queued"])
def test_a_text_is_routed_by_its_to_whatever_its_sender_up_to_64_characters(
    session: Session, context: AppContext, number: str, path: str
) -> None:
    senders = ["whatsapp:+447700900123", "whatsapp:+" + "4" * 30, "whatsapp:+" + "4" * 54]
    long_sender = "whatsapp:+" + "4" * 55  # 65 characters: no carrier address is as long
    texts = [
        InboundSms(f"SMw{i:031d}", sender, number, "hi")
        for i, sender in enumerate([*senders, long_sender])
    ]
    if path == "queued":
        assert context.intake.enqueue_inbound_batch(texts) == [True] * 4
        assert context.intake.process_queued() == (4, False, False)
    else:
        outcomes = context.intake.receive_inbound_batch(texts)
        assert [getattr(o, "unrouted", None) for o in outcomes] == [False, False, False, True]
    session.expire_all()
    assert [len(s) for s in senders] == [22, 40, 64]
    routed = session.execute(select(Conversation.phone, Conversation.client_id)).all()
    assert sorted(tuple(row) for row in routed) == sorted((s, None) for s in senders)
    unrouted = session.scalars(select(UnroutedMessage.from_phone)).all()
    assert unrouted == [long_sender]
    assert _stored(session) == (3, [])

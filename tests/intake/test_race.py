"""Two workers on PostgreSQL draining queued batches that hold keywords: no deadlock, and the
same final state as one worker taking the same texts one batch at a time. These tests commit
for real (committed_context)."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

import pytest
from psycopg.errors import DeadlockDetected
from sqlalchemy import select
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from messagecenter.carriers.base import InboundSms
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.intake import keywords, queries, record
from messagecenter.models import Business, Conversation, Message, PhoneConsent, UsagePeriod
from tests.factories import make_business

FIRST, SECOND = "+12125550142", "+12125550143"  # two clients, each texting both businesses
WAIT = 30.0  # seconds: only reached when something is already wrong

pytestmark = pytest.mark.postgres_only


def _batches(one: str, two: str) -> list[InboundSms]:
    """Worker 1's batch writes business two, answers a STOP there, then writes business one;
    worker 2's batch the other way round (HELP). Answered mid-transaction, each keyword let
    the text after it lock the other business's rows while the other worker held them."""

    def text(sender: str, number: str, body: str) -> InboundSms:
        return InboundSms("SM" + uuid.uuid4().hex, sender, number, body, [])

    return [
        text(FIRST, two, "Hello"),
        text(FIRST, two, "STOP"),
        text(FIRST, one, "Hi there"),
        text(SECOND, one, "Hello"),
        text(SECOND, one, "HELP"),
        text(SECOND, two, "Hi there"),
    ]


def _enqueue(context: AppContext, texts: list[InboundSms]) -> None:
    """Queued one by one, so they are claimed in this order (a batch insert goes by sid)."""
    for text in texts:
        assert context.intake.enqueue_inbound(text)


def _businesses(context: AppContext, phones: tuple[str, str]) -> tuple[int, int, str, str]:
    with session_scope(context.sessions) as session:
        made = [
            make_business(session, context.carrier, context.clock.now(), business_phone=phone)
            for phone in phones
        ]
        return made[0].business.id, made[1].business.id, *(m.number.phone_number for m in made)  # type: ignore[return-value]


def _state(context: AppContext, business_ids: tuple[int, int]) -> list[object]:
    """What each business holds, without ids: threads, usage, badge, consent."""
    state: list[object] = []
    with session_scope(context.sessions) as session:
        for business_id in business_ids:
            threads = {
                conversation.phone: (
                    conversation.unread_count,
                    conversation.folder,
                    conversation.last_message_preview,
                    [
                        (m.direction, m.sender_type, m.body, m.units, m.status)
                        for m in session.scalars(
                            select(Message)
                            .where(Message.conversation_id == conversation.id)
                            .order_by(Message.id)
                        )
                    ],
                )
                for conversation in session.scalars(
                    select(Conversation).where(Conversation.business_id == business_id)
                )
            }
            usage = session.execute(
                select(UsagePeriod.inbound_units, UsagePeriod.outbound_units).where(
                    UsagePeriod.business_id == business_id
                )
            ).all()
            badge = session.scalar(
                select(Business.unread_messages).where(Business.id == business_id)
            )
            consent = session.execute(
                select(PhoneConsent.phone, PhoneConsent.opted_out).where(
                    PhoneConsent.business_id == business_id
                )
            ).all()
            state.append((threads, sorted(usage), badge, sorted(consent)))
    return state


def test_two_workers_on_batches_with_keywords_do_not_deadlock(
    committed_context: AppContext,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    context = committed_context
    # One worker at a time: the state the race must leave.
    alone = _businesses(context, ("+14155550100", "+16175550100"))
    _enqueue(context, _batches(alone[2], alone[3]))
    while context.intake.process_queued(limit=3)[0]:
        pass
    expected = _state(context, alone[:2])

    raced = _businesses(context, ("+12125550100", "+13125550100"))
    _enqueue(context, _batches(raced[2], raced[3]))

    # Each worker, at its first keyword (its first business's rows locked), waits for the
    # other to get there too; the second starts once the first holds its batch.
    first_at_keyword = threading.Event()
    both_at_keywords = threading.Barrier(2, timeout=WAIT)
    waited: set[int] = set()
    answer = keywords.answer_keyword

    def answer_when_both_are_there(*args: object, **kwargs: object) -> list[int]:
        if threading.get_ident() not in waited:
            waited.add(threading.get_ident())
            first_at_keyword.set()
            both_at_keywords.wait()
        return answer(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(record, "answer_keyword", answer_when_both_are_there)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while context.intake.process_queued(limit=3)[0]:
                pass
        except BaseException as exc:  # reported below
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(2)]
    with caplog.at_level(logging.WARNING, logger="messagecenter.intake.service"):
        workers[0].start()
        assert first_at_keyword.wait(WAIT)
        workers[1].start()
        for worker in workers:
            worker.join(WAIT * 2)
    assert not any(w.is_alive() for w in workers) and errors == []
    assert len(waited) == 2, "both workers answered a keyword while holding their batch"
    stopped = [
        record
        for record in caplog.records
        if (record.exc_info and isinstance(record.exc_info[1], DeadlockDetected))
        or "failed" in record.getMessage()
    ]
    assert stopped == [], "a batch was stopped (deadlock) and its texts went one by one"
    assert _state(context, raced[:2]) == expected


def test_process_queued_through_waits_for_the_worker_that_holds_the_text(
    committed_context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The simulated phone's page records its text before it redirects: when the worker has
    claimed that text first, the page's request waits for the worker's commit (it used to
    find nothing to claim and show the thread without the text)."""
    context = committed_context
    _, _, number, _ = _businesses(context, ("+14155550100", "+16175550100"))
    sms = InboundSms("SM" + uuid.uuid4().hex, FIRST, number, "STOP", [])
    assert context.intake.enqueue_inbound(sms)

    worker_holds_it, release_worker = threading.Event(), threading.Event()
    remove = queries.remove_queued

    def remove_then_hold(*args: object, **kwargs: object) -> None:
        remove(*args, **kwargs)  # type: ignore[arg-type]
        if threading.current_thread().name == "worker":
            worker_holds_it.set()
            assert release_worker.wait(WAIT)

    monkeypatch.setattr(queries, "remove_queued", remove_then_hold)
    worker = threading.Thread(target=context.intake.process_queued, name="worker")
    worker.start()
    assert worker_holds_it.wait(WAIT)

    seen: list[bool] = []

    def page() -> None:
        context.intake.process_queued_through(sms.carrier_sid)
        with session_scope(context.sessions) as session:
            seen.append(_recorded(session, sms.carrier_sid))

    caller = threading.Thread(target=page)
    caller.start()
    _until(lambda: not caller.is_alive() or _waiting_on_a_lock(context))
    release_worker.set()
    for thread in (worker, caller):
        thread.join(WAIT)
    assert seen == [True], "the page's request returned before the text was recorded"


def _recorded(session: Session, carrier_sid: str) -> bool:
    return session.scalar(select(Message.id).where(Message.carrier_sid == carrier_sid)) is not None


def _waiting_on_a_lock(context: AppContext) -> bool:
    with context.engine.connect() as connection:
        waiting = connection.scalar(
            sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        )
    return bool(waiting)


def _until(condition: Callable[[], bool]) -> None:
    """Poll a condition another thread brings about; fails only if it never comes."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the condition never came about"
        time.sleep(0.01)

"""Status reports arriving together are written in one transaction, with the service's rules
intact inside it: forward only, the first final status standing, replays adding nothing; a
report that cannot be stored fails alone; a waiting callback is answered after the commit."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from messagecenter.carriers.base import StatusReport
from messagecenter.carriers.twilio.errors import explain
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import Message, MessageStatusEvent
from messagecenter.models.message import DISPATCH_ACCEPTED
from messagecenter.sending.compose import Sender, send_message
from messagecenter.sending.reports import BATCH_SIZE, StatusReports
from tests.factories import make_business, make_client

WAIT = 10  # seconds; reached only when the test fails


def accepted_messages(
    session: Session, context: AppContext, clock: FrozenClock, count: int
) -> list[Message]:
    """`count` outbound messages handed to the (simulated) carrier, which gave each a sid."""
    setup = make_business(session, context.carrier, clock.now(), allowance=1000)
    client = make_client(session, setup.business, clock.now())
    ids = [
        send_message(
            session,
            setup.business,
            body=f"Class {n}",
            sender=Sender.automated(),
            at=clock.now(),
            client=client,
        ).id
        for n in range(count)
    ]
    session.commit()
    assert context.dispatcher.run_once() == count
    messages = [load(session, message_id) for message_id in ids]
    assert all(m.carrier_sid and m.dispatch_state == DISPATCH_ACCEPTED for m in messages)
    return messages


def load(session: Session, message_id: int) -> Message:
    message = session.scalar(
        select(Message).where(Message.id == message_id).execution_options(populate_existing=True)
    )
    assert message is not None
    return message


def report(message: Message, word: str, code: int | None = None) -> StatusReport:
    assert message.carrier_sid is not None
    payload = {"MessageSid": message.carrier_sid, "MessageStatus": word}
    if code is not None:
        payload["ErrorCode"] = str(code)
    failure = explain(code) if code is not None else None
    return StatusReport(message.carrier_sid, word, message.id, failure, payload, word)


def events(session: Session, message_id: int) -> list[str]:
    return list(
        session.scalars(
            select(MessageStatusEvent.status)
            .where(MessageStatusEvent.message_id == message_id)
            .order_by(MessageStatusEvent.id)
        )
    )


@pytest.fixture
def commits(context: AppContext) -> Iterator[list[int]]:
    """One entry per transaction committed through the context's sessions."""
    seen: list[int] = []

    def committed(_session: Session) -> None:
        seen.append(1)

    event.listen(context.sessions, "after_commit", committed)
    yield seen
    event.remove(context.sessions, "after_commit", committed)


def test_reports_that_arrive_together_are_written_in_one_transaction(
    session: Session, context: AppContext, clock: FrozenClock, commits: list[int]
) -> None:
    messages = accepted_messages(session, context, clock, 3)
    batch = [report(m, "sent") for m in messages] + [report(m, "delivered") for m in messages]
    commits.clear()

    assert context.reports.record_reports(batch) == [True] * 6

    assert len(commits) == 1
    for message in messages:
        assert load(session, message.id).status == "delivered"
        assert events(session, message.id) == ["sent", "delivered"]


def test_a_long_list_is_written_a_batch_at_a_time(
    session: Session, context: AppContext, clock: FrozenClock, commits: list[int]
) -> None:
    """A simulator tick's backlog: BATCH_SIZE reports to a transaction, none lost."""
    [message] = accepted_messages(session, context, clock, 1)
    replays = [report(message, "sent")] * (BATCH_SIZE + 1)
    commits.clear()

    outcomes = context.reports.record_reports(replays)

    assert outcomes == [True] + [False] * BATCH_SIZE
    assert len(commits) == 2
    assert events(session, message.id) == ["sent"]


def test_a_bad_report_fails_alone_and_the_others_are_recorded(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    first, second, third = accepted_messages(session, context, clock, 3)
    bad = report(second, "delivered")
    # A payload no JSON column can hold: its insert fails, and with it the batch.
    bad.payload["Unstorable"] = object()  # type: ignore[assignment]

    outcomes = context.reports.record_reports(
        [report(first, "delivered"), bad, report(third, "delivered")]
    )

    assert outcomes[0] is True and outcomes[2] is True
    assert isinstance(outcomes[1], Exception)
    assert load(session, first.id).status == "delivered"
    assert load(session, third.id).status == "delivered"
    assert load(session, second.id).status == "queued"
    assert events(session, second.id) == []


def test_a_replay_in_the_same_batch_as_its_original_adds_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Two identical reports in one transaction: the second meets the status event the first
    inserted (the unique key on message and word) and is a replay."""
    [message] = accepted_messages(session, context, clock, 1)
    sent = report(message, "sent")

    assert context.reports.record_reports([sent, sent, report(message, "delivered"), sent]) == [
        True,
        False,
        True,
        False,
    ]

    assert events(session, message.id) == ["sent", "delivered"]
    assert load(session, message.id).status == "delivered"


def test_delivered_before_sent_in_one_batch_ends_delivered(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    [message] = accepted_messages(session, context, clock, 1)

    outcomes = context.reports.record_reports(
        [report(message, "delivered"), report(message, "sent")]
    )

    assert outcomes == [True, True]  # both kept in the history
    assert load(session, message.id).status == "delivered"
    assert events(session, message.id) == ["delivered", "sent"]


def test_the_first_final_status_in_a_batch_stands(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    failed_first, delivered_first = accepted_messages(session, context, clock, 2)

    context.reports.record_reports(
        [
            report(failed_first, "undelivered", 30003),
            report(delivered_first, "delivered"),
            report(failed_first, "delivered"),
            report(delivered_first, "undelivered", 30003),
        ]
    )

    failed = load(session, failed_first.id)
    assert (failed.status, failed.error_code) == ("undelivered", 30003)
    delivered = load(session, delivered_first.id)
    assert (delivered.status, delivered.error_code) == ("delivered", None)


def test_reports_for_messages_unknown_or_not_ours_are_not_new(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    [message] = accepted_messages(session, context, clock, 1)
    unknown = StatusReport("SM" + "0" * 32, "delivered", 10**9, None, {}, "delivered")
    contradicting = StatusReport("SM" + "1" * 32, "delivered", message.id, None, {}, "delivered")

    outcomes = context.reports.record_reports([unknown, contradicting, report(message, "sent")])

    assert outcomes == [False, False, True]  # a forged sid for our id changes nothing
    assert load(session, message.id).status == "sent"


class HeldCommit:
    """Holds the batch thread's commit until released (no other thread may commit meanwhile)."""

    def __init__(self, context: AppContext) -> None:
        self.sessions = context.sessions
        self.commits = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def __enter__(self) -> HeldCommit:
        event.listen(self.sessions, "before_commit", self._hold)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release.set()
        event.remove(self.sessions, "before_commit", self._hold)

    def _hold(self, session: Session) -> None:
        self.commits += 1
        self.entered.set()
        assert self.release.wait(WAIT)


def test_a_callback_is_answered_only_after_the_commit_holding_its_report(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    messages = accepted_messages(session, context, clock, 4)

    async def callbacks(held: HeldCommit) -> list[bool]:
        first = asyncio.ensure_future(context.reports.receive(report(messages[0], "sent")))
        assert await asyncio.to_thread(held.entered.wait, WAIT)
        rest = [
            asyncio.ensure_future(context.reports.receive(report(m, "sent"))) for m in messages[1:]
        ]
        await asyncio.sleep(0)  # each has handed over its report
        assert not first.done()  # its transaction has not committed yet
        assert not any(r.done() for r in rest)
        held.release.set()
        return await asyncio.gather(first, *rest)

    with HeldCommit(context) as held:
        answers = asyncio.run(callbacks(held))

    assert answers == [True] * 4
    assert held.commits == 2  # the first alone, then the three that waited behind it
    assert [load(session, m.id).status for m in messages] == ["sent"] * 4
    context.reports.close()


def test_a_plain_thread_waits_for_its_commit_too(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    [message] = accepted_messages(session, context, clock, 1)
    reports = StatusReports(context.sessions, context.clock)
    answers: list[bool] = []
    with HeldCommit(context) as held:
        thread = threading.Thread(
            target=lambda: answers.append(reports.receive_blocking(report(message, "sent")))
        )
        thread.start()
        assert held.entered.wait(WAIT)
        assert answers == []
        held.release.set()
        thread.join(WAIT)
    assert answers == [True]
    assert load(session, message.id).status == "sent"


def test_a_batch_for_businesses_without_endpoints_runs_no_endpoints_query(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Whether a business has a webhook endpoint is read with the messages' lock, so the
    common batch (no endpoints) spends no round trip looking them up."""
    messages = accepted_messages(session, context, clock, 2)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(context.engine, "before_cursor_execute", seen)
    try:
        assert context.reports.record_reports([report(m, "sent") for m in messages]) == [True] * 2
    finally:
        event.remove(context.engine, "before_cursor_execute", seen)
    endpoint_reads = [s for s in statements if "webhook_endpoints" in s]
    assert len(endpoint_reads) == 1 and "has_endpoints" in endpoint_reads[0]  # the lock's
    assert [load(session, m.id).status for m in messages] == ["sent", "sent"]

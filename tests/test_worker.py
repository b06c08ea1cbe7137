"""The background worker's pass: once told to stop (SIGTERM), it starts nothing more."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter import worker as worker_module
from messagecenter.carriers.base import InboundSms
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.intake.service import Processed
from messagecenter.integrations import service as integrations
from messagecenter.models import InboundQueueItem, Message
from messagecenter.models.message import DIRECTION_OUTBOUND, DISPATCH_PENDING
from messagecenter.sending.compose import Sender, send_message
from tests.factories import make_business, make_client


def _queued_texts(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboundQueueItem)) or 0


def _pending_message(session: Session, context: AppContext, clock: FrozenClock) -> tuple[int, str]:
    """A message queued for sending (by another process: no wake here); its id, and the
    business's number for texts."""
    setup = make_business(session, context.carrier, clock.now())
    client = make_client(session, setup.business, clock.now(), cell_phone="+12125550142")
    message = send_message(
        session,
        setup.business,
        body="Hello",
        sender=Sender.automated(),
        at=clock.now(),
        client=client,
    )
    session.commit()
    return message.id, setup.number.phone_number


def test_a_stopped_worker_processes_no_queued_text(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    text = InboundSms("SM" + "q" * 32, "+12125550142", setup.number.phone_number, "hello")
    assert context.intake.enqueue_inbound(text)
    stop = threading.Event()
    stop.set()

    assert context.worker.run_once(stop) == 0
    assert _queued_texts(session) == 1  # left for another process, or the next start

    assert context.worker.run_once() == 1
    assert _queued_texts(session) == 0


def test_a_stop_during_the_queued_texts_dispatches_nothing(
    session: Session, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    message_id, _ = _pending_message(session, context, clock)
    stop = threading.Event()
    process_queued = context.intake.process_queued

    def stopped_meanwhile() -> Processed:
        result = process_queued()
        stop.set()  # SIGTERM arrives while the texts are processed
        return result

    monkeypatch.setattr(context.intake, "process_queued", stopped_meanwhile)

    assert context.worker.run_once(stop) == 0
    session.expire_all()
    assert _state(session, message_id) == DISPATCH_PENDING


class WakeCounter:
    """Stands in for the outgoing-webhook deliverer: counts its wake-ups."""

    def __init__(self) -> None:
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1


def test_queued_texts_wake_the_deliverer_once_processed_not_when_queued(
    session: Session, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    integrations.create_endpoint(
        session,
        setup.business.id,
        url="https://93.184.216.34/hooks",
        events=["message.received"],
        description="",
        at=clock.now(),
        allow_private=False,
    )
    session.commit()
    deliverer = WakeCounter()
    monkeypatch.setattr(context.worker, "_webhooks", deliverer)
    text = InboundSms("SM" + "w" * 32, "+12125550142", setup.number.phone_number, "hello")
    assert context.intake.enqueue_inbound(text)

    context.worker.wake_for_queued_texts()
    assert deliverer.wakes == 0  # its events do not exist yet

    assert context.worker.run_once() == 1
    assert deliverer.wakes == 1  # processed: their deliveries are committed
    context.worker.run_once()
    assert deliverer.wakes == 1  # nothing processed, nothing to wake it for


def test_texts_to_a_business_without_endpoints_leave_the_deliverer_asleep(
    session: Session, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No delivery can be due: no claim for the deliverer to make (5% of a loaded server)."""
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    deliverer = WakeCounter()
    monkeypatch.setattr(context.worker, "_webhooks", deliverer)
    text = InboundSms("SM" + "n" * 32, "+12125550142", setup.number.phone_number, "hello")
    assert context.intake.enqueue_inbound(text)

    assert context.worker.run_once() == 1
    assert deliverer.wakes == 0


def _state(session: Session, message_id: int) -> str:
    session.expire_all()
    message = session.get(Message, message_id)
    assert message is not None
    return message.dispatch_state


def test_a_pass_woken_for_texts_leaves_the_outbox_until_its_next_look(
    session: Session, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream of inbound texts does not run the outbox's lookups with every batch; what
    another process queued is found at the next look (OUTBOX_LOOK_SECONDS), and a wake()
    from this process is answered at once."""
    monkeypatch.setattr(worker_module, "OUTBOX_LOOK_SECONDS", 3600.0)
    stop = threading.Event()
    assert context.worker.run_due(stop) == 0  # the first pass looks at everything
    message_id, number = _pending_message(session, context, clock)
    text = InboundSms("SM" + "t" * 32, "+12125550199", number, "See you at 9")
    assert context.intake.enqueue_inbound(text)
    context.worker.wake_for_queued_texts()

    assert context.worker.run_due(stop) == 1  # the text
    assert _queued_texts(session) == 0
    assert _state(session, message_id) == DISPATCH_PENDING  # not looked for

    context.worker.wake()  # a message was queued in this process
    assert context.worker.run_due(stop) == 1
    assert _state(session, message_id) != DISPATCH_PENDING


def test_the_outbox_is_looked_at_once_its_last_look_is_old_enough(
    session: Session, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = threading.Event()
    monkeypatch.setattr(worker_module, "OUTBOX_LOOK_SECONDS", 3600.0)
    context.worker.run_due(stop)
    message_id, _ = _pending_message(session, context, clock)
    context.worker.run_due(stop)
    assert _state(session, message_id) == DISPATCH_PENDING

    monkeypatch.setattr(worker_module.time, "monotonic", lambda: 1e12)  # much later
    assert context.worker.run_due(stop) == 1
    assert _state(session, message_id) != DISPATCH_PENDING


def test_a_text_that_queued_a_reply_sends_it_in_the_same_pass(
    session: Session, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HELP is answered at once (the app's own wording), even on a pass woken for texts."""
    monkeypatch.setattr(worker_module, "OUTBOX_LOOK_SECONDS", 3600.0)
    stop = threading.Event()
    setup = make_business(session, context.carrier, clock.now())
    setup.number.carrier_handles_keywords = False  # the app answers keywords itself
    session.commit()
    context.worker.run_due(stop)
    text = InboundSms("SM" + "h" * 32, "+12125550142", setup.number.phone_number, "HELP")
    assert context.intake.enqueue_inbound(text)
    context.worker.wake_for_queued_texts()

    assert context.worker.run_due(stop) == 2  # the text, and its answer handed over
    session.expire_all()
    answer = session.scalars(
        select(Message).where(
            Message.business_id == setup.business.id, Message.direction == DIRECTION_OUTBOUND
        )
    ).one()
    assert answer.dispatch_state != DISPATCH_PENDING


class _WaitLog(threading.Event):
    """A stop event that notes each wait instead of waiting."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return self.is_set()


def _texts(number: str, count: int, tag: str) -> list[InboundSms]:
    return [
        InboundSms(f"SM{tag}{i:030d}", "+12125550142", number, f"Text {i}") for i in range(count)
    ]


def test_a_pass_that_drained_a_part_batch_gathers_before_the_next(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Texts streaming in are recorded a batch at a time, not a few per transaction: after a
    pass that took less than a full batch, the next waits GATHER_SECONDS. A full batch (more
    may be queued) and a pass that found no text go on at once."""
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    stop = _WaitLog()
    context.worker.run_due(stop)
    assert stop.waits == []  # no text: nothing to gather

    context.intake.enqueue_inbound_batch(_texts(setup.number.phone_number, 3, "a"))
    assert context.worker.run_due(stop) == 3
    assert stop.waits == [worker_module.GATHER_SECONDS]

    full = worker_module.BATCH_SIZE
    context.intake.enqueue_inbound_batch(_texts(setup.number.phone_number, full + 1, "b"))
    assert context.worker.run_due(stop) == full
    assert stop.waits == [worker_module.GATHER_SECONDS]  # more is queued: no wait
    assert context.worker.run_due(stop) == 1
    assert stop.waits == [worker_module.GATHER_SECONDS] * 2


def test_a_pass_that_also_sent_goes_on_at_once(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """While the outbox has work (a bulk send), a pass hands over one claim: waiting after it
    for texts to gather would slow the sending, so it does not."""
    _, number = _pending_message(session, context, clock)
    context.intake.enqueue_inbound_batch(_texts(number, 3, "c"))
    stop = _WaitLog()
    assert context.worker.run_due(stop) == 4  # the texts, and the message handed over
    assert stop.waits == []

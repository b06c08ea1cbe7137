"""The background worker's pass: once told to stop (SIGTERM), it starts nothing more."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.carriers.base import InboundSms
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import InboundQueueItem, Message
from messagecenter.models.message import DISPATCH_PENDING
from messagecenter.sending.compose import Sender, send_message
from tests.factories import make_business, make_client


def _queued_texts(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboundQueueItem)) or 0


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
    stop = threading.Event()
    process_queued = context.intake.process_queued

    def stopped_meanwhile() -> tuple[int, bool]:
        result = process_queued()
        stop.set()  # SIGTERM arrives while the texts are processed
        return result

    monkeypatch.setattr(context.intake, "process_queued", stopped_meanwhile)

    assert context.worker.run_once(stop) == 0
    session.expire_all()
    assert session.get(Message, message.id).dispatch_state == DISPATCH_PENDING  # type: ignore[union-attr]


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

"""The inbound queue: the webhook's texts are processed in batches, and one text that cannot
be processed neither blocks the others nor disappears."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter import intake as intake_module
from messagecenter.carriers.base import InboundSms
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import InboundQueueItem, Message
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


def test_queued_texts_become_messages_in_one_batch(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    texts = _texts(setup.number.phone_number, 5)
    assert all(context.intake.enqueue_inbound(t) for t in texts)
    assert not context.intake.enqueue_inbound(texts[0])  # a retried webhook
    assert context.intake.process_queued() == (5, False)
    assert _stored(session) == (5, [])


def test_a_text_that_fails_is_kept_and_does_not_hold_up_the_rest(
    session: Session, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    texts = _texts(setup.number.phone_number, 3)
    for text in texts:
        context.intake.enqueue_inbound(text)
    original = intake_module.conversations.record_inbound

    def fail_on_the_second(db: Session, inbound: InboundSms, at: object) -> object:
        if inbound.carrier_sid == texts[1].carrier_sid:
            raise RuntimeError("simulated bug")
        return original(db, inbound, at)  # type: ignore[arg-type]

    monkeypatch.setattr(intake_module.conversations, "record_inbound", fail_on_the_second)
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
    assert context.intake.process_queued() == (0, False)  # parked, not picked up again

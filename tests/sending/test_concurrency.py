"""Many dispatchers racing over one outbox (DESIGN.md §2 "Never sent twice", §3 Sending):
every message is sent exactly once, none is lost. These tests commit for real."""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import select

from messagecenter.businesses import usage
from messagecenter.carriers.base import CarrierAccepted, OutboundSms
from messagecenter.carriers.simulator.carrier import SimulatedCarrier
from messagecenter.clock import Clock
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.models import Business, Message
from messagecenter.models.message import DISPATCH_ACCEPTED
from messagecenter.sending.compose import Sender, send_message
from messagecenter.sending.dispatcher import Dispatcher
from tests.factories import make_business, make_client


class CountingCarrier(SimulatedCarrier):
    """Thread-safe: records the id of every message it is asked to send."""

    name = "counting"

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock, deliver_inbound=lambda _: None, deliver_status=lambda _: None)
        self._guard = threading.Lock()
        self.sent: list[int] = []

    def send(self, sms: OutboundSms) -> CarrierAccepted:
        with self._guard:
            self.sent.append(sms.message_id)
        return CarrierAccepted("SM" + uuid.uuid4().hex, "queued")

    def find_sent(self, sms: OutboundSms, attempted_at: datetime) -> list[CarrierAccepted]:
        return []

    def tick(self) -> None:
        return None


def queue_outbox(context: AppContext, clients: int, per_client: int) -> tuple[int, list[int]]:
    """Committed: one business with a large allowance and clients * per_client queued
    messages. Returns the business id and the message ids."""
    now = context.clock.now()
    ids: list[int] = []
    with session_scope(context.sessions) as session:
        setup = make_business(session, context.carrier, now, allowance=100_000)
        people = [
            make_client(
                session,
                setup.business,
                now,
                first_name=f"Client{n}",
                cell_phone=f"+1646555{n:04d}",
            )
            for n in range(clients)
        ]
        for round_ in range(per_client):
            for person in people:
                message = send_message(
                    session,
                    setup.business,
                    body=f"Hello {person.first_name}, message {round_}",
                    sender=Sender.automated(),
                    at=now,
                    client=person,
                )
                session.flush()
                ids.append(message.id)
        business_id = setup.business.id
    return business_id, ids


def race(context: AppContext, carrier: CountingCarrier, workers: int, batch_size: int) -> None:
    """`workers` dispatchers, each its own instance over the same sessions, released
    together; each drains the outbox until it finds nothing to claim."""
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work(seed: int) -> None:
        dispatcher = Dispatcher(
            context.sessions,
            carrier,
            context.clock,
            context.settings.public_url,
            batch_size=batch_size,
            rng=random.Random(seed),
        )
        try:
            barrier.wait(timeout=30)
            while dispatcher.run_once():
                pass
        except BaseException as exc:  # reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a dispatcher hung"
    assert errors == []


def assert_each_sent_once(context: AppContext, carrier: CountingCarrier, ids: list[int]) -> None:
    duplicates = [i for i, n in Counter(carrier.sent).items() if n > 1]
    assert duplicates == [], f"sent more than once: {duplicates[:10]}"
    missing = sorted(set(ids) - set(carrier.sent))
    assert missing == [], f"never sent: {missing[:10]}"
    assert sorted(carrier.sent) == sorted(ids)
    with session_scope(context.sessions) as session:
        rows = session.execute(
            select(Message.id, Message.dispatch_state, Message.attempts, Message.carrier_sid).where(
                Message.id.in_(ids)
            )
        ).all()
    assert len(rows) == len(ids)
    assert {row.dispatch_state for row in rows} == {DISPATCH_ACCEPTED}
    assert {row.attempts for row in rows} == {1}
    assert len({row.carrier_sid for row in rows}) == len(ids)


@pytest.mark.postgres_only
@pytest.mark.parametrize("round_number", [1, 2, 3])
def test_eight_dispatchers_send_every_message_exactly_once(
    committed_context: AppContext, round_number: int
) -> None:
    business_id, ids = queue_outbox(committed_context, clients=20, per_client=10)
    assert len(ids) == 200
    carrier = CountingCarrier(committed_context.clock)

    race(committed_context, carrier, workers=8, batch_size=7)

    assert_each_sent_once(committed_context, carrier, ids)
    with session_scope(committed_context.sessions) as session:
        business = session.get(Business, business_id)
        assert business is not None
        assert usage.summarize(session, business, committed_context.clock.now()).used == 200


def test_two_dispatchers_share_one_outbox(committed_context: AppContext) -> None:
    """The same race, small, on either database (SQLite serialises the claims)."""
    _, ids = queue_outbox(committed_context, clients=5, per_client=6)
    carrier = CountingCarrier(committed_context.clock)

    race(committed_context, carrier, workers=2, batch_size=4)

    assert_each_sent_once(committed_context, carrier, ids)

"""Pacing and priorities (sending/pacing.py, issue #14): each number sends at most its rate,
in every clock second, across dispatching processes; replies and transactional texts go
before bulk traffic, and one business's bulk send does not hold up another's reply."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update

from messagecenter.clock import FrozenClock, SystemClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.models import Business, Client, Message, SmsNumber, StaffMember
from messagecenter.models.message import DISPATCH_ACCEPTED, DISPATCH_PENDING
from messagecenter.sending import service
from messagecenter.sending.compose import Outgoing, Sender, queue_messages, send_message
from messagecenter.sending.dispatcher import Dispatcher
from messagecenter.sending.pacing import slot_from
from tests.conftest import empty_all_tables
from tests.factories import make_business, make_client
from tests.sending.test_kill import Outbox, outbox, queue  # noqa: F401 (outbox: a fixture)

SECOND = datetime(2026, 11, 16, 15, 0, 7, tzinfo=UTC)


def _url(message_id: int) -> str:
    return f"https://mc.example.test/status/{message_id}"


# --- slots ------------------------------------------------------------------------------


def test_a_seconds_slots_are_its_rate_and_fill_it_exactly() -> None:
    starts, free = [], SECOND
    for _ in range(7):
        slot, free = slot_from(free, 3)
        starts.append(slot.starts)
        assert slot.ends == slot.starts.replace(microsecond=0) + timedelta(seconds=1)
    offsets = [(s - SECOND) / timedelta(microseconds=1) for s in starts]
    assert offsets == [0, 333_333, 666_666, 1_000_000, 1_333_333, 1_666_666, 2_000_000]
    assert Counter(s.second for s in starts) == {7: 3, 8: 3, 9: 1}


def test_a_moment_between_slots_takes_the_next_one() -> None:
    slot, after = slot_from(SECOND + timedelta(milliseconds=1), 10)
    assert slot.starts == SECOND + timedelta(milliseconds=100)
    assert after == SECOND + timedelta(milliseconds=200)
    last, after = slot_from(SECOND + timedelta(milliseconds=950), 10)
    assert last.starts == SECOND + timedelta(seconds=1)  # the next second's first
    slow, _ = slot_from(SECOND + timedelta(milliseconds=1), 1)
    assert slow.starts == SECOND + timedelta(seconds=1)


# --- the claim ----------------------------------------------------------------------------


def _business_with_clients(context: AppContext, clients: int) -> tuple[Business, list[Client]]:
    now = context.clock.now()
    with session_scope(context.sessions) as session:
        setup = make_business(session, context.carrier, now, allowance=100_000)
        people = [
            make_client(
                session, setup.business, now, last_name=str(n), cell_phone=f"+1646555{n:04d}"
            )
            for n in range(clients)
        ]
    return setup.business, people


def _send(context: AppContext, business: Business, client: Client, body: str, **kw: object) -> int:
    with session_scope(context.sessions) as session:
        message = send_message(
            session,
            session.merge(business),
            body=body,
            sender=Sender.automated(),
            at=context.clock.now(),
            client=session.merge(client),
        )
        session.flush()
        if kw:
            session.execute(update(Message).where(Message.id == message.id).values(**kw))
        return message.id


def _set_rate(context: AppContext, business: Business, rate: int | None) -> None:
    with session_scope(context.sessions) as session:
        session.execute(
            update(SmsNumber).where(SmsNumber.business_id == business.id).values(send_rate=rate)
        )


def _claim(context: AppContext, *, paced: bool = True, limit: int = 100) -> list[service.Claimed]:
    with session_scope(context.sessions) as session:
        return service.claim_due(session, context.clock.now(), limit, _url, paced=paced)


def test_a_claim_takes_only_what_the_numbers_rate_lets_go_within_a_second(
    context: AppContext, clock: FrozenClock
) -> None:
    business, people = _business_with_clients(context, 5)
    ids = [_send(context, business, person, f"Hello {n}") for n, person in enumerate(people)]
    first = _claim(context)  # a US long code: 1 a second
    assert [c.message_id for c in first] == ids[:1]
    assert first[0].slot is not None and first[0].slot.starts == clock.now()
    assert _claim(context) == []  # the number's next slot is a second away
    clock.advance(timedelta(seconds=1))
    assert [c.message_id for c in _claim(context)] == ids[1:2]
    _set_rate(context, business, 3)
    clock.advance(timedelta(seconds=1))
    taken = _claim(context)
    assert [c.message_id for c in taken] == ids[2:5]
    assert [c.slot.starts - clock.now() for c in taken if c.slot] == [
        timedelta(0),
        timedelta(microseconds=333_333),
        timedelta(microseconds=666_666),
    ]


def test_unpaced_a_claim_takes_the_whole_batch(context: AppContext) -> None:
    business, people = _business_with_clients(context, 4)
    ids = [_send(context, business, person, f"Hello {n}") for n, person in enumerate(people)]
    claimed = _claim(context, paced=False)
    assert [c.message_id for c in claimed] == ids
    assert {c.slot for c in claimed} == {None}


def test_a_paced_claim_late_in_a_second_takes_what_can_be_called_before_it_ends(
    context: AppContext, clock: FrozenClock
) -> None:
    """A slot not called within its second goes back to the queue: late in a second, the
    dispatcher claims only what it can hand over, at its measured pace, before the second
    ends (and never fewer than its calls in flight)."""
    business, people = _business_with_clients(context, 60)
    _set_rate(context, business, 1000)
    for n, person in enumerate(people):
        _send(context, business, person, f"Hello {n}")
    clock.set(SECOND + timedelta(milliseconds=900))  # a tenth of the second left
    dispatcher = Dispatcher(
        context.sessions,
        context.carrier,
        clock,
        "https://mc.example.test",
        concurrency=4,
        paced=True,
    )
    dispatcher._pace = 200.0  # messages a second, as measured on full batches
    assert dispatcher.run_once() == 20
    clock.set(SECOND + timedelta(milliseconds=999))
    dispatcher._pace = 200.0  # as measured again (the full batch above measured its own)
    assert dispatcher.run_once() == 4  # its calls in flight, at least
    unmeasured = Dispatcher(
        context.sessions, context.carrier, clock, "https://mc.example.test", paced=True
    )
    assert unmeasured.run_once() == 36  # no pace yet: a whole batch


def test_replies_and_transactional_texts_go_before_bulk_traffic(context: AppContext) -> None:
    business, people = _business_with_clients(context, 4)
    # Queued first: marketing texts (a bulk send's carry its id as well; either marks it bulk).
    sale = [_send(context, business, people[n], "Sale today", category="marketing") for n in (0, 1)]
    reminder = _send(context, business, people[2], "Your class is at 9am", category="reminders")
    reply = _send(context, business, people[3], "Yes, see you then")
    claimed = _claim(context, paced=False)
    assert [c.message_id for c in claimed] == [reminder, reply, *sale]
    with session_scope(context.sessions) as session:  # back to the queue
        session.execute(
            update(Message)
            .where(Message.id.in_([c.message_id for c in claimed]))
            .values(dispatch_state=DISPATCH_PENDING, claimed_at=None)
        )
    # Paced, the number's one slot this second goes to the reminder, not to the sale.
    assert [c.message_id for c in _claim(context)] == [reminder]


def test_a_batch_the_replies_leave_room_in_is_filled_with_bulk_traffic(
    context: AppContext,
) -> None:
    """Each priority is claimed by its own query: bulk traffic fills what the others leave of
    the batch, no more."""
    business, people = _business_with_clients(context, 4)
    sale = [_send(context, business, people[n], "Sale today", category="marketing") for n in (0, 1)]
    reminders = [_send(context, business, people[n], "Class at 9am") for n in (2, 3)]
    assert [c.message_id for c in _claim(context, paced=False, limit=3)] == [
        *reminders,
        sale[0],
    ]
    assert [c.message_id for c in _claim(context, paced=False, limit=3)] == [sale[1]]


# --- across processes ---------------------------------------------------------------------


@pytest.mark.postgres_only
def test_two_worker_processes_never_pass_the_numbers_rate_in_any_second(
    outbox: Outbox,  # noqa: F811 (the fixture imported above)
) -> None:
    outbox.env["MESSAGECENTER_PACE_NUMBERS"] = "true"
    queue(outbox, 15)
    with session_scope(outbox.context.sessions) as session:
        session.execute(update(SmsNumber).values(send_rate=3))
    first = outbox.start("worker")
    outbox.start("worker")
    outbox.wait("Twilio took every message", lambda: outbox.fake.created_count() >= 15, first)
    outbox.wait(
        "every answer was recorded",
        lambda: outbox.states() == Counter({DISPATCH_ACCEPTED: 15}),
        first,
    )
    creates = outbox.fake.create_requests()
    per_second = Counter(int(r.received_at) for r in creates)
    assert max(per_second.values()) <= 3, per_second
    assert len(per_second) >= 5  # 15 texts at 3 a second span at least five seconds
    outbox.assert_each_sent_exactly_once()


# --- fairness -----------------------------------------------------------------------------


@pytest.fixture
def live(settings: Settings, engine: Engine) -> Iterator[AppContext]:
    """Committed, on the simulator and the real clock, paced, with a dispatcher running."""
    paced = settings.model_copy(
        update={
            "pace_numbers": True,
            "simulator_sent_after_ms": 0,
            "simulator_delivered_after_ms": 0,
        }
    )
    context = build_context(paced, clock=SystemClock(), engine=engine)
    stop = threading.Event()

    def dispatch() -> None:
        while not stop.is_set():
            if not context.dispatcher.run_once(stop):
                stop.wait(0.05)

    thread = threading.Thread(target=dispatch, daemon=True)
    thread.start()
    try:
        yield context
    finally:
        stop.set()
        thread.join(timeout=30)
        empty_all_tables(engine)


def _bulk(context: AppContext, business: Business, count: int) -> None:
    """`count` marketing texts from the business, queued as a bulk send queues them."""
    now = context.clock.now()
    with session_scope(context.sessions) as session:
        session.add_all(
            Client(
                business_id=business.id,
                first_name="Client",
                last_name=str(n),
                cell_phone=f"+1917{n:07d}",
                created_at=now,
                updated_at=now,
            )
            for n in range(count)
        )
    with session_scope(context.sessions) as session:
        people = session.scalars(select(Client).where(Client.business_id == business.id)).all()
    for start in range(0, count, 500):  # in batches, as a bulk send queues them
        with session_scope(context.sessions) as session:
            queue_messages(
                session,
                session.merge(business),
                [Outgoing(body="Sale today", client=p) for p in people[start : start + 500]],
                sender=Sender.automated(),
                at=now,
            )
    with session_scope(context.sessions) as session:
        session.execute(
            update(Message).where(Message.business_id == business.id).values(category="marketing")
        )


def _dispatch_seconds(context: AppContext, message_id: int) -> float:
    started = time.monotonic()
    deadline = started + 30
    while time.monotonic() < deadline:
        with session_scope(context.sessions) as session:
            state = session.scalar(select(Message.dispatch_state).where(Message.id == message_id))
        if state == DISPATCH_ACCEPTED:
            return time.monotonic() - started
        time.sleep(0.01)
    pytest.fail(f"message {message_id} was not handed to the carrier within 30 s")


def test_a_bulk_send_of_10000_does_not_hold_up_another_businesss_reply(live: AppContext) -> None:
    now = live.clock.now()
    with session_scope(live.sessions) as session:
        busy = make_business(session, live.carrier, now, allowance=20_000).business
        other = make_business(session, live.carrier, now, business_phone="+13125550100").business
        client = make_client(session, other, now, cell_phone="+13125550142")
        staff_id = session.scalar(select(StaffMember.id).where(StaffMember.business_id == other.id))
    _bulk(live, busy, 10_000)
    _set_rate(live, busy, 50)  # draining as fast as its number may
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the bulk send is draining
        with session_scope(live.sessions) as session:
            sent = session.scalar(
                select(func.count()).where(
                    Message.business_id == busy.id, Message.dispatch_state == DISPATCH_ACCEPTED
                )
            )
        if sent:
            break
        time.sleep(0.05)
    with session_scope(live.sessions) as session:
        reply = send_message(
            session,
            session.merge(other),
            body="Yes, 9am works",
            sender=Sender.staff(staff_id),
            at=live.clock.now(),
            client=session.merge(client),
        )
        session.flush()
        reply_id = reply.id
    assert _dispatch_seconds(live, reply_id) < 2.0
    with session_scope(live.sessions) as session:
        waiting = session.scalar(
            select(func.count()).where(
                Message.business_id == busy.id, Message.dispatch_state == DISPATCH_PENDING
            )
        )
    assert waiting > 5000  # it went while the bulk send was still draining

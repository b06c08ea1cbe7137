"""Allowance metering against the real database (DESIGN.md §1 and §2, Allowance)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.businesses import usage
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.db import session_scope
from messagecenter.errors import AllowanceExhausted
from messagecenter.events import LiveEvent, pending_events
from messagecenter.models import Business, Client, Message
from messagecenter.models.message import (
    DIRECTION_INBOUND,
    DIRECTION_OUTBOUND,
    DISPATCH_PENDING,
    SENDER_CARRIER,
)
from messagecenter.sending.compose import Outgoing, Sender, send_message, send_messages
from tests.factories import SetUp, make_business, make_client, text_from

CLIENT_PHONE = "+12125550142"
PICTURE = ["https://media.example.test/picture.jpg"]


def _outbound_count(session: Session, business_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.business_id == business_id, Message.direction == DIRECTION_OUTBOUND)
        )
        or 0
    )


def _send(
    session: Session,
    setup: SetUp,
    client: Client,
    at: datetime,
    *,
    media: list[str] | None = None,
) -> Message:
    return send_message(
        session,
        setup.business,
        body="See you at 4!",
        sender=Sender.automated(),
        at=at,
        client=client,
        media_urls=media,
    )


def _used(session: Session, business: Business, at: datetime) -> int:
    return usage.summarize(session, business, at).used


# ---------------------------------------------------------------------------- hard stop


def test_hard_stop_refuses_the_send_that_would_pass_the_allowance(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=3)
    client = make_client(session, setup.business, clock.now())
    for _ in range(3):
        _send(session, setup, client, clock.now())
    assert _used(session, setup.business, clock.now()) == 3

    with pytest.raises(AllowanceExhausted) as refused:
        _send(session, setup, client, clock.now())

    assert refused.value.status_code == 409
    assert refused.value.code == "allowance_exhausted"
    assert "3 of 3" in refused.value.message
    assert "needs 1" in refused.value.message
    assert "2026-12-01" in refused.value.message  # when it renews
    # Nothing changed: no fourth message, no fourth unit.
    assert _outbound_count(session, setup.business.id) == 3
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.used, summary.outbound_units, summary.remaining) == (3, 3, 0)


def test_an_mms_needs_three_units_and_is_refused_with_two_left(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=3)
    client = make_client(session, setup.business, clock.now())
    _send(session, setup, client, clock.now())

    with pytest.raises(AllowanceExhausted) as refused:
        _send(session, setup, client, clock.now(), media=PICTURE)
    assert "needs 3" in refused.value.message
    assert "1 of 3" in refused.value.message
    assert _used(session, setup.business, clock.now()) == 1

    sms = _send(session, setup, client, clock.now())  # one unit still fits
    assert sms.units == 1
    assert _used(session, setup.business, clock.now()) == 2
    assert _outbound_count(session, setup.business.id) == 2


def test_an_mms_that_exactly_fills_the_allowance_is_sent(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=3)
    client = make_client(session, setup.business, clock.now())
    mms = _send(session, setup, client, clock.now(), media=PICTURE)
    assert mms.units == 3
    assert _used(session, setup.business, clock.now()) == 3
    with pytest.raises(AllowanceExhausted):
        _send(session, setup, client, clock.now())


def test_allowance_zero_with_hard_stop_refuses_every_send(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=0)
    client = make_client(session, setup.business, clock.now())
    with pytest.raises(AllowanceExhausted):
        _send(session, setup, client, clock.now())
    assert _outbound_count(session, setup.business.id) == 0


# ---------------------------------------------------------------------------- overage


def test_allow_overage_lets_sends_go_past_and_bills_the_overage(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(
        session, context.carrier, clock.now(), allowance=2, policy="allow_overage", price="0.05"
    )
    client = make_client(session, setup.business, clock.now())
    for _ in range(4):
        _send(session, setup, client, clock.now())
    _send(session, setup, client, clock.now(), media=PICTURE)
    session.expire_all()  # read the plan's price back from the database

    summary = usage.summarize(session, setup.business, clock.now())
    assert summary.used == 7
    assert summary.remaining == 0
    assert summary.overage_units == 5
    assert isinstance(summary.overage_cost, Decimal)
    assert summary.overage_cost == Decimal("0.25")
    assert summary.overage_policy == "allow_overage"
    assert summary.warning == 100
    assert _outbound_count(session, setup.business.id) == 5


def test_summary_within_the_allowance_has_no_overage(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10)
    client = make_client(session, setup.business, clock.now())
    _send(session, setup, client, clock.now())
    text_from(session, setup.number, CLIENT_PHONE, "Thanks", clock.now())

    summary = usage.summarize(session, setup.business, clock.now())
    assert summary.period_start == date(2026, 11, 1)
    assert summary.period_end == date(2026, 12, 1)
    assert (summary.allowance, summary.used, summary.remaining) == (10, 2, 8)
    assert (summary.inbound_units, summary.outbound_units) == (1, 1)
    assert summary.overage_units == 0
    assert summary.overage_cost == Decimal(0)
    assert summary.warning is None


# ---------------------------------------------------------------------------- inbound


def test_inbound_is_stored_and_counted_even_past_the_allowance(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=2)
    client = make_client(session, setup.business, clock.now())
    _send(session, setup, client, clock.now())
    _send(session, setup, client, clock.now())

    first = text_from(session, setup.number, CLIENT_PHONE, "Can I move to 5?", clock.now())
    second = text_from(session, setup.number, CLIENT_PHONE, "", clock.now(), media=PICTURE)
    assert first.message_id is not None
    assert second.message_id is not None

    summary = usage.summarize(session, setup.business, clock.now())
    assert summary.used == 2 + 1 + 3
    assert summary.inbound_units == 4
    assert summary.outbound_units == 2
    assert summary.overage_units == 4
    inbound = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.business_id == setup.business.id, Message.direction == DIRECTION_INBOUND)
    )
    assert inbound == 2


def test_a_retried_inbound_webhook_is_counted_once(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10)
    text_from(session, setup.number, CLIENT_PHONE, "Hello", clock.now(), sid="SM" + "a" * 32)
    again = text_from(
        session, setup.number, CLIENT_PHONE, "Hello", clock.now(), sid="SM" + "a" * 32
    )
    assert again.duplicate
    assert _used(session, setup.business, clock.now()) == 1


def test_inbound_counts_in_the_period_it_is_received_in_the_business_zone(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(
        session,
        context.carrier,
        clock.now(),
        timezone="America/Los_Angeles",
        business_phone="+14155550100",
    )
    late_november = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # 23:30 on Nov 30 in LA
    text_from(session, setup.number, CLIENT_PHONE, "Still November here", late_november)
    november = usage.summarize(session, setup.business, late_november)
    assert november.period_start == date(2026, 11, 1)
    assert november.used == 1
    december = usage.summarize(session, setup.business, datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert december.period_start == date(2026, 12, 1)
    assert december.used == 0


# ---------------------------------------------------------------------------- force


def test_force_counts_past_a_hard_stop(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=1)
    usage.reserve_outbound(session, setup.business, 1, clock.now())
    with pytest.raises(AllowanceExhausted):
        usage.reserve_outbound(session, setup.business, 1, clock.now())
    usage.reserve_outbound(session, setup.business, 1, clock.now(), force=True)
    assert _used(session, setup.business, clock.now()) == 2


def test_the_apps_own_keyword_confirmation_passes_a_hard_stop(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Where the carrier does not answer keywords, the app's STOP confirmation must go out
    even when the allowance is used up; it still counts."""
    setup = make_business(session, context.carrier, clock.now(), allowance=1)
    setup.number.carrier_handles_keywords = False
    session.flush()
    client = make_client(session, setup.business, clock.now())
    _send(session, setup, client, clock.now())

    outcome = text_from(session, setup.number, CLIENT_PHONE, "STOP", clock.now())

    assert len(outcome.replies) == 1
    reply = session.get(Message, outcome.replies[0])
    assert reply is not None
    assert reply.direction == DIRECTION_OUTBOUND
    assert reply.dispatch_state == DISPATCH_PENDING
    assert reply.units == 1
    assert _used(session, setup.business, clock.now()) == 3  # send + STOP + confirmation


def test_the_carriers_automatic_keyword_reply_counts_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=5)
    assert setup.number.carrier_handles_keywords
    outcome = text_from(session, setup.number, CLIENT_PHONE, "STOP", clock.now())
    assert len(outcome.replies) == 1
    reply = session.get(Message, outcome.replies[0])
    assert reply is not None
    assert reply.sender_type == SENDER_CARRIER
    assert reply.units == 0
    assert _used(session, setup.business, clock.now()) == 1  # the STOP itself


# ---------------------------------------------------------------------------- give back


def test_give_back_returns_units_to_the_period_the_message_was_created_in(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(
        session,
        context.carrier,
        clock.now(),
        timezone="America/Los_Angeles",
        business_phone="+14155550100",
        allowance=10,
    )
    client = make_client(session, setup.business, clock.now())
    created = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # Nov 30 23:30 in Los Angeles
    message = _send(session, setup, client, created, media=PICTURE)
    december = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    _send(session, setup, client, december)
    session.expire(message)  # created_at as the database returns it

    usage.give_back(session, setup.business, message.units, message.created_at)

    november_summary = usage.summarize(session, setup.business, created)
    assert november_summary.period_start == date(2026, 11, 1)
    assert (november_summary.used, november_summary.outbound_units) == (0, 0)
    assert _used(session, setup.business, december) == 1


# ---------------------------------------------------------------------------- periods


def test_usage_starts_at_zero_in_a_new_billing_period(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=2)
    client = make_client(session, setup.business, clock.now())
    _send(session, setup, client, clock.now())
    _send(session, setup, client, clock.now())

    clock.set(datetime(2026, 12, 1, 4, 30, tzinfo=UTC))  # Nov 30 23:30 in New York
    with pytest.raises(AllowanceExhausted):
        _send(session, setup, client, clock.now())

    clock.set(datetime(2026, 12, 1, 5, 0, tzinfo=UTC))  # midnight, Dec 1 in New York
    assert _used(session, setup.business, clock.now()) == 0
    _send(session, setup, client, clock.now())
    december = usage.summarize(session, setup.business, clock.now())
    assert december.period_start == date(2026, 12, 1)
    assert december.period_end == date(2027, 1, 1)
    assert (december.used, december.remaining) == (1, 1)
    november = usage.summarize(session, setup.business, datetime(2026, 11, 20, tzinfo=UTC))
    assert november.used == 2


# ---------------------------------------------------------------------------- warnings


def _warnings(session: Session) -> list[LiveEvent]:
    """The usage warnings waiting in the unit of work (they leave when it commits)."""
    return [e for e in pending_events(session) if e.type == "usage.warning"]


def test_warnings_are_raised_once_on_crossing_80_and_100_percent(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(
        session, context.carrier, clock.now(), allowance=10, policy="allow_overage"
    )
    client = make_client(session, setup.business, clock.now())
    for _ in range(7):
        _send(session, setup, client, clock.now())
    assert _warnings(session) == []

    _send(session, setup, client, clock.now())  # 8 of 10
    assert [(w.data["percent"], w.data["used"]) for w in _warnings(session)] == [(80, 8)]
    _send(session, setup, client, clock.now())  # 9 of 10: still 80, no new warning
    assert len(_warnings(session)) == 1
    text_from(session, setup.number, CLIENT_PHONE, "ok", clock.now())  # 10 of 10, inbound
    assert [(w.data["percent"], w.data["used"]) for w in _warnings(session)] == [
        (80, 8),
        (100, 10),
    ]
    _send(session, setup, client, clock.now())  # 11: past 100, nothing new
    warnings = _warnings(session)
    assert len(warnings) == 2
    assert all(w.business_id == setup.business.id for w in warnings)
    assert all(w.data["allowance"] == 10 for w in warnings)


def test_one_warning_when_an_mms_jumps_past_both_thresholds(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10)
    client = make_client(session, setup.business, clock.now())
    for _ in range(7):
        _send(session, setup, client, clock.now())
    _send(session, setup, client, clock.now(), media=PICTURE)  # 7 -> 10
    assert [w.data["percent"] for w in _warnings(session)] == [100]


def test_a_refused_send_raises_no_warning(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=1)
    client = make_client(session, setup.business, clock.now())
    _send(session, setup, client, clock.now())
    assert len(_warnings(session)) == 1
    with pytest.raises(AllowanceExhausted):
        _send(session, setup, client, clock.now())
    assert len(_warnings(session)) == 1


def test_warnings_are_dropped_when_the_unit_of_work_rolls_back(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=1)
    client = make_client(session, setup.business, clock.now())
    _send(session, setup, client, clock.now())
    assert [w.data["percent"] for w in _warnings(session)] == [100]
    session.rollback()
    assert _warnings(session) == []


def test_on_sqlite_the_warning_reaches_the_bus_when_the_unit_of_work_commits(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("on PostgreSQL the events leave by NOTIFY (tested with the live events)")
    setup = make_business(session, context.carrier, clock.now(), allowance=1)
    client = make_client(session, setup.business, clock.now())

    async def sent_and_committed() -> list[LiveEvent]:
        async with context.bus.subscribe(setup.business.id) as queue:
            _send(session, setup, client, clock.now())
            await asyncio.sleep(0)
            assert queue.empty()  # nothing leaves before the commit
            session.commit()
            received = [await asyncio.wait_for(queue.get(), timeout=2)]
            while not queue.empty():
                received.append(queue.get_nowait())
            return received

    received = asyncio.run(sent_and_committed())
    warnings = [e for e in received if e.type == "usage.warning"]
    assert [(w.data["percent"], w.data["used"]) for w in warnings] == [(100, 1)]
    assert pending_events(session) == []


# ---------------------------------------------------------------------------- concurrency


def _race_round(
    context: AppContext, business_id: int, client_ids: list[int], at: datetime
) -> list[AllowanceExhausted | None]:
    """Every sender waits at the barrier, then opens its own unit of work and sends."""
    barrier = threading.Barrier(len(client_ids))

    def send(client_id: int) -> AllowanceExhausted | None:
        barrier.wait(timeout=30)
        try:
            with session_scope(context.sessions) as session:
                business = session.get(Business, business_id)
                client = session.get(Client, client_id)
                assert business is not None and client is not None
                send_message(
                    session,
                    business,
                    body=f"Race {at:%Y-%m}",
                    sender=Sender.automated(),
                    at=at,
                    client=client,
                )
        except AllowanceExhausted as refused:
            return refused
        return None

    with ThreadPoolExecutor(max_workers=len(client_ids)) as pool:
        return list(pool.map(send, client_ids))


def test_concurrent_sends_never_pass_a_hard_stop(
    committed_context: AppContext, clock: FrozenClock
) -> None:
    """Senders released together by a barrier, each with its own connection: exactly the
    allowance gets through, the rest are refused with the reason, and no unit is lost."""
    context = committed_context
    allowance = 5
    with session_scope(context.sessions) as session:
        setup = make_business(session, context.carrier, clock.now(), allowance=allowance)
        clients = [
            make_client(
                session,
                setup.business,
                clock.now(),
                first_name=f"Racer{i}",
                cell_phone=f"+1646555{100 + i:04d}",
            )
            for i in range(12)
        ]
        business_id = setup.business.id
        client_ids = [c.id for c in clients]

    rounds = [
        (datetime(2027, 1, 15, 15, 0, tzinfo=UTC), client_ids[:8]),  # 8 conversations
        (datetime(2027, 2, 15, 15, 0, tzinfo=UTC), client_ids),  # 12 conversations
        (datetime(2027, 3, 15, 15, 0, tzinfo=UTC), [client_ids[0]] * 8),  # one conversation
        (datetime(2027, 4, 15, 15, 0, tzinfo=UTC), client_ids),
    ]
    for at, senders in rounds:
        results = _race_round(context, business_id, senders, at)

        refusals = [r for r in results if r is not None]
        assert len(results) - len(refusals) == allowance, at
        assert len(refusals) == len(senders) - allowance
        for refused in refusals:
            assert isinstance(refused, AllowanceExhausted)
            assert "allowance is used up" in refused.message
            assert f"{allowance} of {allowance} units used" in refused.message
        with session_scope(context.sessions) as session:
            business = session.get(Business, business_id)
            assert business is not None
            summary = usage.summarize(session, business, at)
            assert summary.used == allowance
            assert summary.outbound_units == allowance
            queued = session.scalar(
                select(func.count())
                .select_from(Message)
                .where(
                    Message.business_id == business_id,
                    Message.direction == DIRECTION_OUTBOUND,
                    Message.dispatch_state == DISPATCH_PENDING,
                    Message.created_at >= at - timedelta(days=1),
                    Message.created_at <= at + timedelta(days=1),
                )
            )
            assert queued == allowance


# ---------------------------------------------------------------------------- batches


def test_a_batch_that_fits_is_counted_whole_and_warns_once(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10)

    refusals = usage.reserve_outbound_many(session, setup.business, [1, 3, 1, 3], clock.now())

    assert refusals == [None, None, None, None]
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.used, summary.outbound_units) == (8, 8)
    assert [(w.data["percent"], w.data["used"]) for w in _warnings(session)] == [(80, 8)]


def test_a_batch_past_a_hard_stop_is_taken_in_order_while_each_fits(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=5)
    usage.reserve_outbound(session, setup.business, 1, clock.now())

    refusals = usage.reserve_outbound_many(session, setup.business, [1, 3, 3, 1, 1], clock.now())

    # 1 (2 used), 3 (5 used), then nothing fits: each refusal says what it saw.
    assert refusals[:2] == [None, None]
    assert all(isinstance(r, AllowanceExhausted) for r in refusals[2:])
    messages = [r.message for r in refusals[2:] if r is not None]
    assert "5 of 5 units used this period and this message needs 3" in messages[0]
    assert "5 of 5 units used this period and this message needs 1" in messages[1]
    assert "2026-12-01" in messages[0]
    assert _used(session, setup.business, clock.now()) == 5
    assert [w.data["percent"] for w in _warnings(session)] == [100]


def test_a_later_smaller_message_still_fits_after_a_refused_picture(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=3)

    refusals = usage.reserve_outbound_many(session, setup.business, [1, 3, 1, 1], clock.now())

    assert [r is None for r in refusals] == [True, False, True, True]
    assert _used(session, setup.business, clock.now()) == 3


def test_allow_overage_counts_a_whole_batch_past_the_allowance(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(
        session, context.carrier, clock.now(), allowance=2, policy="allow_overage", price="0.10"
    )

    refusals = usage.reserve_outbound_many(session, setup.business, [1, 3, 1], clock.now())

    assert refusals == [None, None, None]
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.used, summary.overage_units) == (5, 3)


def test_an_empty_batch_counts_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=2)
    assert usage.reserve_outbound_many(session, setup.business, [], clock.now()) == []
    assert _used(session, setup.business, clock.now()) == 0


def test_concurrent_batches_never_pass_a_hard_stop(
    committed_context: AppContext, clock: FrozenClock
) -> None:
    """Batches released together, each in its own transaction and connection: together they
    queue exactly the allowance, every unit counted is a message queued, and each batch took
    its messages in order (a refused one is never followed by a queued one of the same size)."""
    context = committed_context
    allowance = 10
    at = datetime(2027, 1, 15, 15, 0, tzinfo=UTC)
    with session_scope(context.sessions) as session:
        setup = make_business(session, context.carrier, clock.now(), allowance=allowance)
        clients = [
            make_client(
                session,
                setup.business,
                clock.now(),
                first_name=f"Batch{i}",
                cell_phone=f"+1646555{200 + i:04d}",
            )
            for i in range(16)
        ]
        business_id = setup.business.id
        client_ids = [c.id for c in clients]
    batches = [client_ids[i : i + 4] for i in range(0, 16, 4)]  # 4 batches of 4 texts
    barrier = threading.Barrier(len(batches))

    def send(ids: list[int]) -> list[bool]:
        barrier.wait(timeout=30)
        with session_scope(context.sessions) as session:
            business = session.get(Business, business_id)
            assert business is not None
            found = [session.get(Client, i) for i in ids]
            results = send_messages(
                session,
                business,
                [Outgoing(f"Batch {i}", client=c) for i, c in enumerate(found)],
                sender=Sender.automated(),
                at=at,
            )
        for result in results:
            assert isinstance(result, Message | AllowanceExhausted), result
        return [isinstance(r, Message) for r in results]

    with ThreadPoolExecutor(max_workers=len(batches)) as pool:
        outcomes = list(pool.map(send, batches))

    assert sum(sum(queued) for queued in outcomes) == allowance
    for queued in outcomes:  # in order: all of a batch's texts that went come first
        assert queued == sorted(queued, reverse=True)
    with session_scope(context.sessions) as session:
        business = session.get(Business, business_id)
        assert business is not None
        summary = usage.summarize(session, business, at)
        assert (summary.used, summary.outbound_units) == (allowance, allowance)
        assert _outbound_count(session, business_id) == allowance


def test_sends_left_is_the_summary_s_limit_less_what_is_used(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    hard = make_business(session, context.carrier, clock.now(), allowance=10)
    capped = make_business(session, context.carrier, clock.now(), allowance=10,
                           policy="allow_overage", price="0.10", spending_cap="0.50")  # fmt: skip
    open_ended = make_business(session, context.carrier, clock.now(), policy="allow_overage")
    for setup in (hard, capped, open_ended):
        summary = usage.summarize(session, setup.business, clock.now())
        expected = None if summary.send_limit is None else summary.send_limit - summary.used
        assert usage.sends_left(session, setup.business, clock.now()) == expected
    assert usage.sends_left(session, capped.business, clock.now()) == 15
    assert usage.sends_left(session, open_ended.business, clock.now()) is None

"""The simulated carrier behaves like Twilio: sids, queued -> sent -> delivered reports through
the intake, delivery failures with reasons, STOP/START and invalid numbers refused."""

from __future__ import annotations

import itertools
import random
import re
import threading
from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.businesses import usage
from messagecenter.carriers.base import CarrierRejected, OutboundSms, StatusReport
from messagecenter.carriers.simulator.carrier import (
    DELIVERED_AFTER,
    FAILURE_CODES,
    REMEMBER_AFTER_FINAL,
    SENT_AFTER,
    SimulatedCarrier,
)
from messagecenter.carriers.twilio.errors import REASONS
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.models import Conversation, InboundQueueItem, Message, MessageStatusEvent
from messagecenter.models.message import DISPATCH_REJECTED
from messagecenter.sending.compose import Sender, send_message
from tests.factories import SetUp, make_business, make_client

CLIENT_PHONE = "+12125550142"
BUSINESS_NUMBER = "+12125550101"
SID = re.compile(r"^SM[0-9a-f]{32}$")


def sms(message_id: int = 1, to_phone: str = CLIENT_PHONE, **kw: str) -> OutboundSms:
    return OutboundSms(
        message_id=message_id,
        from_phone=kw.get("from_phone", BUSINESS_NUMBER),
        to_phone=to_phone,
        body=kw.get("body", "Hello"),
        status_callback_url=f"https://mc.example.test/webhooks/twilio/status?message={message_id}",
    )


class Recorder:
    def __init__(self) -> None:
        self.statuses: list[StatusReport] = []
        self.inbound: list[object] = []


def standalone(
    clock: FrozenClock, failure_rate: float = 0.0, seed: int = 1
) -> tuple[SimulatedCarrier, Recorder]:
    recorder = Recorder()
    carrier = SimulatedCarrier(
        clock,
        deliver_inbound=recorder.inbound.append,
        deliver_status=recorder.statuses.extend,
        failure_rate=failure_rate,
        rng=random.Random(seed),
    )
    return carrier, recorder


def load(session: Session, message_id: int) -> Message:
    message = session.scalar(
        select(Message).where(Message.id == message_id).execution_options(populate_existing=True)
    )
    assert message is not None
    return message


def queue_one(session: Session, context: AppContext, clock: FrozenClock) -> tuple[SetUp, int]:
    setup = make_business(session, context.carrier, clock.now())
    client = make_client(session, setup.business, clock.now(), cell_phone=CLIENT_PHONE)
    message = send_message(
        session,
        setup.business,
        body="Your class starts at 6.",
        sender=Sender.automated(),
        at=clock.now(),
        client=client,
    )
    session.commit()
    return setup, message.id


# ---------------------------------------------------------------------------- sending


def test_send_returns_a_twilio_like_sid(clock: FrozenClock) -> None:
    carrier, _ = standalone(clock)
    first = carrier.send(sms(1))
    second = carrier.send(sms(2))
    assert SID.match(first.carrier_sid)
    assert SID.match(second.carrier_sid)
    assert first.carrier_sid != second.carrier_sid
    assert first.status == "queued"
    assert carrier.sent_count() == 2


def test_find_sent_by_our_id(clock: FrozenClock) -> None:
    carrier, _ = standalone(clock)
    accepted = carrier.send(sms(41))
    at = clock.now()
    assert carrier.find_sent(sms(41), at) == [accepted]
    assert carrier.find_sent(sms(41, body="different text"), at) == [accepted]
    assert carrier.find_sent(sms(42), at) == []


def test_the_same_message_id_is_taken_once(clock: FrozenClock) -> None:
    carrier, recorder = standalone(clock)
    first = carrier.send(sms(7))
    again = carrier.send(sms(7))
    assert again == first
    assert carrier.sent_count() == 1
    clock.advance(DELIVERED_AFTER)
    carrier.tick()
    assert [r.status for r in recorder.statuses] == ["sent", "delivered"]


def test_reports_come_due_with_the_clock(clock: FrozenClock) -> None:
    carrier, recorder = standalone(clock)
    accepted = carrier.send(sms(5))

    clock.advance(SENT_AFTER - timedelta(milliseconds=1))
    carrier.tick()
    assert recorder.statuses == []

    clock.advance(timedelta(milliseconds=1))
    carrier.tick()
    assert [r.status for r in recorder.statuses] == ["sent"]

    clock.advance(DELIVERED_AFTER - SENT_AFTER)
    carrier.tick()
    carrier.tick()  # nothing is reported twice
    assert [r.status for r in recorder.statuses] == ["sent", "delivered"]
    for report in recorder.statuses:
        assert report.carrier_sid == accepted.carrier_sid
        assert report.message_id == 5
        assert report.error_code is None
        assert report.payload["MessageSid"] == accepted.carrier_sid
        assert report.payload["MessageStatus"] == report.status


def test_sent_then_delivered_reach_the_database_through_the_intake(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    _, message_id = queue_one(session, context, clock)
    simulator = context.simulator
    assert simulator is not None

    assert context.dispatcher.run_once() == 1
    message = load(session, message_id)
    assert message.carrier_sid is not None
    assert SID.match(message.carrier_sid)
    assert message.status == "queued"

    clock.advance(SENT_AFTER)
    simulator.tick()
    assert load(session, message_id).status == "sent"

    clock.advance(DELIVERED_AFTER - SENT_AFTER)
    simulator.tick()
    assert load(session, message_id).status == "delivered"
    events = session.scalars(
        select(MessageStatusEvent.status)
        .where(MessageStatusEvent.message_id == message_id)
        .order_by(MessageStatusEvent.id)
    ).all()
    assert events == ["sent", "delivered"]


def failing_context(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], clock: FrozenClock
) -> AppContext:
    failing = settings.model_copy(update={"simulator_failure_rate": 1.0})
    return build_context(
        failing, clock=clock, engine=engine, sessions=sessions, rng=random.Random(3)
    )


def test_failure_rate_one_ends_undelivered_with_a_reason_in_words(
    session: Session,
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    context = failing_context(settings, engine, sessions, clock)
    simulator = context.simulator
    assert simulator is not None
    _, message_id = queue_one(session, context, clock)

    assert context.dispatcher.run_once() == 1
    clock.advance(DELIVERED_AFTER)
    simulator.tick()

    message = load(session, message_id)
    assert message.status == "undelivered"
    assert message.error_code in FAILURE_CODES
    assert message.error_message == REASONS[message.error_code]
    assert str(message.error_code) not in message.error_message  # words, not a number


def test_failure_codes_cover_the_list(clock: FrozenClock) -> None:
    carrier, recorder = standalone(clock, failure_rate=1.0, seed=4)
    for n in range(60):
        carrier.send(sms(n))
    clock.advance(DELIVERED_AFTER)
    carrier.tick()
    finals = [r for r in recorder.statuses if r.status != "sent"]
    assert len(finals) == 60
    assert {r.status for r in finals} == {"undelivered"}
    assert {r.error_code for r in finals} == set(FAILURE_CODES)
    assert all(r.payload["ErrorCode"] == str(r.error_code) for r in finals)
    assert all(code in REASONS for code in FAILURE_CODES)


def test_failure_rate_zero_always_delivers(clock: FrozenClock) -> None:
    carrier, recorder = standalone(clock, failure_rate=0.0)
    for n in range(20):
        carrier.send(sms(n))
    clock.advance(DELIVERED_AFTER)
    carrier.tick()
    finals = [r.status for r in recorder.statuses if r.status != "sent"]
    assert finals == ["delivered"] * 20


# ---------------------------------------------------------------------------- refusals


def test_stop_blocks_sending_with_21610_and_start_lifts_it(clock: FrozenClock) -> None:
    carrier, recorder = standalone(clock)
    carrier.receive_from_phone(CLIENT_PHONE, BUSINESS_NUMBER, "STOP")
    assert len(recorder.inbound) == 1

    with pytest.raises(CarrierRejected) as refused:
        carrier.send(sms(1))
    assert refused.value.code == 21610
    assert carrier.find_sent(sms(1), clock.now()) == []
    # The opt-out is from this business number only.
    carrier.send(sms(2, from_phone="+12125550102"))

    carrier.receive_from_phone(CLIENT_PHONE, BUSINESS_NUMBER, "START")
    accepted = carrier.send(sms(3))
    assert SID.match(accepted.carrier_sid)


def test_keyword_matching_is_on_the_whole_message(clock: FrozenClock) -> None:
    carrier, _ = standalone(clock)
    carrier.receive_from_phone(CLIENT_PHONE, BUSINESS_NUMBER, "stop by tomorrow?")
    carrier.send(sms(1))
    carrier.receive_from_phone(CLIENT_PHONE, BUSINESS_NUMBER, "  Stop. ")
    with pytest.raises(CarrierRejected):
        carrier.send(sms(2))


TORONTO_NUMBER = "+14165550101"
TOLL_FREE_NUMBER = "+18885550101"


@pytest.mark.parametrize(
    ("number", "body", "blocked"),
    [
        (BUSINESS_NUMBER, "stop all!", True),
        (BUSINESS_NUMBER, "Opt-out", True),
        (BUSINESS_NUMBER, "Arrêt", False),  # a US number: ordinary text
        (TORONTO_NUMBER, "Arrêt.", True),  # a Canadian number: the French words too
        (TORONTO_NUMBER, "ARRET", True),
        (TOLL_FREE_NUMBER, "STOP ALL", True),
        (TOLL_FREE_NUMBER, "ARRÊT", False),  # toll-free numbers belong to no one country
    ],
)
def test_opt_out_keywords_are_the_apps(
    clock: FrozenClock, number: str, body: str, blocked: bool
) -> None:
    carrier, _ = standalone(clock)
    carrier.receive_from_phone(CLIENT_PHONE, number, body)

    if blocked:
        with pytest.raises(CarrierRejected):
            carrier.send(sms(1, from_phone=number))
    else:
        carrier.send(sms(1, from_phone=number))


def test_the_business_country_can_be_told(clock: FrozenClock) -> None:
    carrier = SimulatedCarrier(
        clock,
        deliver_inbound=lambda _sms: None,
        deliver_status=lambda _reports: None,
        country_of=lambda _number: "CA",  # a Canadian business's toll-free number
    )
    carrier.receive_from_phone(CLIENT_PHONE, TOLL_FREE_NUMBER, "Arrêt")
    with pytest.raises(CarrierRejected):
        carrier.send(sms(1, from_phone=TOLL_FREE_NUMBER))


def test_yes_does_not_lift_a_stop_on_a_toll_free_number(clock: FrozenClock) -> None:
    carrier, _ = standalone(clock)
    carrier.receive_from_phone(CLIENT_PHONE, TOLL_FREE_NUMBER, "STOP")
    carrier.receive_from_phone(CLIENT_PHONE, TOLL_FREE_NUMBER, "YES")
    with pytest.raises(CarrierRejected):
        carrier.send(sms(1, from_phone=TOLL_FREE_NUMBER))

    carrier.receive_from_phone(CLIENT_PHONE, TOLL_FREE_NUMBER, "UNSTOP")
    carrier.send(sms(2, from_phone=TOLL_FREE_NUMBER))
    # On an ordinary number YES does lift it.
    carrier.receive_from_phone(CLIENT_PHONE, BUSINESS_NUMBER, "STOP")
    carrier.receive_from_phone(CLIENT_PHONE, BUSINESS_NUMBER, "yes")
    carrier.send(sms(3))


@pytest.mark.parametrize("to_phone", ["+1212555", "+10000000000", "12345", "not a number", ""])
def test_invalid_to_is_refused_with_21211(clock: FrozenClock, to_phone: str) -> None:
    carrier, recorder = standalone(clock)
    with pytest.raises(CarrierRejected) as refused:
        carrier.send(sms(1, to_phone=to_phone))
    assert refused.value.code == 21211
    assert carrier.sent_count() == 0
    clock.advance(DELIVERED_AFTER)
    carrier.tick()
    assert recorder.statuses == []


def test_a_queued_message_to_a_phone_that_texted_stop_fails_and_gives_units_back(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup, message_id = queue_one(session, context, clock)
    simulator = context.simulator
    assert simulator is not None
    simulator.receive_from_phone(CLIENT_PHONE, setup.number.phone_number, "STOP")
    context.intake.process_queued()  # the worker's step: PostgreSQL queues the text
    used_before = usage.summarize(session, setup.business, clock.now()).used

    assert context.dispatcher.run_once() >= 1

    message = load(session, message_id)
    assert message.status == "failed"
    assert message.dispatch_state == DISPATCH_REJECTED
    assert (message.error_code, message.error_message) == (21610, REASONS[21610])
    session.expire_all()
    assert usage.summarize(session, setup.business, clock.now()).used == used_before - 1


# ---------------------------------------------------------------------------- numbers


def test_suggest_numbers_offers_fictional_local_numbers(clock: FrozenClock) -> None:
    carrier, _ = standalone(clock)
    offered = carrier.suggest_numbers("US", "+13125551234", 5)
    assert [n.phone_number for n in offered] == [f"+131255501{n:02d}" for n in range(5)]
    assert {n.country for n in offered} == {"US"}
    assert carrier.suggest_numbers("FR", None, 5) == []
    assert carrier.acquire_number("+13125550100", "https://x.test/sms").startswith("PN")
    assert carrier.sms_webhook_url("https://x.test/") == "https://x.test/simulator/messages"


def test_receive_from_phone_reaches_the_inbox(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    simulator = context.simulator
    assert simulator is not None

    sid = simulator.receive_from_phone(CLIENT_PHONE, setup.number.phone_number, "Hi there")
    context.intake.process_queued()  # the worker's step: PostgreSQL queues the text

    assert SID.match(sid)
    message = session.scalar(select(Message).where(Message.carrier_sid == sid))
    assert message is not None
    assert (message.direction, message.body, message.business_id) == (
        "inbound",
        "Hi there",
        setup.business.id,
    )
    conversation = session.get(Conversation, message.conversation_id)
    assert conversation is not None
    assert conversation.unread_count == 1


def test_a_text_from_the_phone_takes_the_webhooks_path(
    session: Session, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One inbound path: the batcher's thread writes it; on PostgreSQL it waits in the
    inbound queue for the worker (which is woken), on SQLite it is recorded at once."""
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    simulator = context.simulator
    assert simulator is not None
    woken: list[bool] = []
    monkeypatch.setattr(context.worker, "wake", lambda: woken.append(True))
    batch_threads: list[str] = []
    original = context.intake._accept_batch  # what the batcher runs, on its own thread

    def accept_batch(inbounds: object) -> object:
        batch_threads.append(threading.current_thread().name)
        return original(inbounds)  # type: ignore[arg-type]

    monkeypatch.setattr(context.intake._webhook_batches, "_handle", accept_batch)

    sid = simulator.receive_from_phone(CLIENT_PHONE, setup.number.phone_number, "Hi there")

    assert batch_threads == ["intake"]
    session.expire_all()
    queued = session.scalars(select(InboundQueueItem.carrier_sid)).all()
    stored = session.scalar(select(func.count()).where(Message.carrier_sid == sid))
    if context.intake.queue_inbound:  # PostgreSQL
        assert (list(queued), stored, woken) == ([sid], 0, [True])
        assert context.intake.process_queued() == (1, False, False)
        session.expire_all()
        assert session.scalar(select(func.count()).where(Message.carrier_sid == sid)) == 1
        assert session.scalars(select(InboundQueueItem)).all() == []
    else:  # SQLite: no queue, recorded before the call returned (no reply to send)
        assert (list(queued), stored, woken) == ([], 1, [])


# ---------------------------------------------------------------------------- batched reports


def settings_context(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    **changes: object,
) -> AppContext:
    return build_context(
        settings.model_copy(update=changes),
        clock=clock,
        engine=engine,
        sessions=sessions,
        rng=random.Random(3),
    )


def test_delays_of_zero_report_sent_and_delivered_at_the_next_tick_in_one_transaction(
    session: Session,
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    context = settings_context(
        settings, engine, sessions, clock, simulator_sent_after_ms=0, simulator_delivered_after_ms=0
    )
    simulator = context.simulator
    assert simulator is not None
    _, message_id = queue_one(session, context, clock)
    assert context.dispatcher.run_once() == 1
    batches: list[int] = []
    record = context.reports.record_reports

    def recording(reports: Sequence[StatusReport]) -> list[bool | Exception]:
        batches.append(len(reports))
        return record(reports)

    simulator._deliver_status = recording  # what make_carrier wired, watched

    simulator.tick()  # the clock has not moved

    assert batches == [2]
    assert load(session, message_id).status == "delivered"
    events = session.scalars(
        select(MessageStatusEvent.status)
        .where(MessageStatusEvent.message_id == message_id)
        .order_by(MessageStatusEvent.id)
    ).all()
    assert events == ["sent", "delivered"]


def test_delays_come_from_the_settings(
    session: Session,
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> None:
    context = settings_context(
        settings,
        engine,
        sessions,
        clock,
        simulator_sent_after_ms=50,
        simulator_delivered_after_ms=90,
    )
    simulator = context.simulator
    assert simulator is not None
    _, message_id = queue_one(session, context, clock)
    assert context.dispatcher.run_once() == 1

    clock.advance(timedelta(milliseconds=49))
    simulator.tick()
    assert load(session, message_id).status == "queued"
    clock.advance(timedelta(milliseconds=1))
    simulator.tick()
    assert load(session, message_id).status == "sent"
    clock.advance(timedelta(milliseconds=39))
    simulator.tick()
    assert load(session, message_id).status == "sent"
    clock.advance(timedelta(milliseconds=1))
    simulator.tick()
    assert load(session, message_id).status == "delivered"


class Deliveries:
    """A deliver_status that keeps each call's reports and fails the ones it is told to."""

    def __init__(self) -> None:
        self.calls: list[list[StatusReport]] = []
        self.failing: set[int] = set()  # message ids whose reports are not recorded

    def __call__(self, reports: Sequence[StatusReport]) -> list[bool | Exception]:
        self.calls.append(list(reports))
        return [
            RuntimeError("not stored") if r.message_id in self.failing else True for r in reports
        ]


def batched(
    clock: FrozenClock, lookup_window: timedelta = timedelta(minutes=11)
) -> tuple[SimulatedCarrier, Deliveries]:
    deliveries = Deliveries()
    carrier = SimulatedCarrier(
        clock,
        deliver_inbound=lambda _: None,
        deliver_status=deliveries,
        rng=random.Random(1),
        lookup_window=lookup_window,
    )
    return carrier, deliveries


def test_a_tick_hands_every_due_report_over_at_once_in_the_order_they_came_due(
    clock: FrozenClock,
) -> None:
    carrier, deliveries = batched(clock)
    for n in range(5):
        carrier.send(sms(n))
        clock.advance(timedelta(milliseconds=10))

    clock.advance(DELIVERED_AFTER)
    carrier.tick()
    carrier.tick()  # nothing twice

    [reports] = deliveries.calls
    assert [(r.message_id, r.status) for r in reports] == [
        *((n, "sent") for n in range(5)),
        *((n, "delivered") for n in range(5)),
    ]


def test_sids_are_forgotten_a_minute_after_their_final_report_was_recorded(
    clock: FrozenClock,
) -> None:
    carrier, deliveries = batched(clock)
    deliveries.failing = {2}  # its final report never got stored: it may still be looked up
    accepted = [carrier.send(sms(n)) for n in range(3)]
    clock.advance(DELIVERED_AFTER)
    carrier.tick()
    at = clock.now()
    assert [carrier.find_sent(sms(n), at) for n in range(3)] == [[a] for a in accepted]

    clock.advance(REMEMBER_AFTER_FINAL - timedelta(milliseconds=1))
    carrier.tick()
    at = clock.now()
    assert [carrier.find_sent(sms(n), at) for n in range(3)] == [[a] for a in accepted]

    clock.advance(timedelta(seconds=1))  # forgotten on the whole second after
    carrier.tick()
    at = clock.now()
    assert [carrier.find_sent(sms(n), at) for n in range(3)] == [[], [], [accepted[2]]]
    assert (carrier.remembered_count(), carrier.sent_count()) == (1, 3)


def test_a_sid_is_kept_for_the_lookup_window_after_its_send_and_no_longer(
    clock: FrozenClock,
) -> None:
    window = timedelta(minutes=11)
    carrier, deliveries = batched(clock, lookup_window=window)
    deliveries.failing = {1}
    accepted = carrier.send(sms(1))
    sent_at = clock.now()

    clock.set(sent_at + window - timedelta(milliseconds=1))
    carrier.tick()
    assert carrier.find_sent(sms(1), sent_at) == [accepted]

    clock.set(sent_at + window)
    carrier.tick()
    assert carrier.find_sent(sms(1), sent_at) == []


def test_memory_stays_bounded_over_many_messages(clock: FrozenClock) -> None:
    """50 messages a second for two minutes of simulated time: only about the last minute's
    settled sids are kept (a minute after the final report, one-second buckets), not all."""
    carrier, _ = batched(clock)
    message_ids = itertools.count()
    high_water = 0
    for _tenth in range(1200):
        for _ in range(5):
            carrier.send(sms(next(message_ids)))
        clock.advance(timedelta(milliseconds=100))
        carrier.tick()
        high_water = max(high_water, carrier.remembered_count())
    assert carrier.sent_count() == 6000
    bound = 50 * (DELIVERED_AFTER + REMEMBER_AFTER_FINAL + timedelta(seconds=1)).total_seconds()
    assert high_water <= bound < 6000

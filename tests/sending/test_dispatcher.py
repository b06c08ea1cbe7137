"""The dispatcher with fake carriers (DESIGN.md §2 "Never sent twice"): claimed before the
carrier is called, retried only when the carrier certainly did not take the message, an
ambiguous outcome settled by our id and never by sending again."""

from __future__ import annotations

import contextlib
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.businesses import usage
from messagecenter.carriers.base import (
    AvailableNumber,
    Carrier,
    CarrierAccepted,
    CarrierAmbiguous,
    CarrierError,
    CarrierRejected,
    CarrierRetryLater,
    OutboundSms,
    StatusReport,
)
from messagecenter.carriers.simulator.carrier import (
    DELIVERED_AFTER,
    SimulatedCarrier,
)
from messagecenter.carriers.twilio.errors import REASONS, explain
from messagecenter.clock import Clock, FrozenClock
from messagecenter.config import Settings
from messagecenter.consent.service import set_consent
from messagecenter.context import AppContext, outbox_waits
from messagecenter.db import session_scope
from messagecenter.events import LiveEvent
from messagecenter.models import Conversation, Message, MessageStatusEvent
from messagecenter.models.message import (
    DISPATCH_ACCEPTED,
    DISPATCH_CLAIMED,
    DISPATCH_HELD,
    DISPATCH_PENDING,
    DISPATCH_REJECTED,
    DISPATCH_SENDING,
)
from messagecenter.sending import service
from messagecenter.sending.compose import Sender, queue_outbound, send_message
from messagecenter.sending.dispatcher import (
    UNCONFIRMED_REASON,
    Dispatcher,
    Waits,
)
from messagecenter.sending.service import Claimed
from tests.factories import SetUp, make_business, make_client

CLIENT_PHONE = "+12125550142"
SETTLE_AFTER = Waits().settle_after
GIVE_UP_AFTER = Waits().give_up_after
CLAIM_TIMEOUT = Waits().claim_timeout
TAKE_THEN_TIME_OUT = "take-then-time-out"  # the carrier took it, but our request timed out

Outcome = Exception | str | None


class FakeCarrier(SimulatedCarrier):
    """A scripted carrier: each send takes the next outcome (None accepts). Reuses the
    simulator's number suggestions; sends no status reports."""

    name = "fake"

    def __init__(self, clock: Clock, outcomes: list[Outcome] | None = None) -> None:
        super().__init__(clock, deliver_inbound=lambda _: None, deliver_status=lambda _: None)
        self.outcomes = list(outcomes or [])
        self.sends: list[OutboundSms] = []
        self.accepted: list[OutboundSms] = []
        self.lookups: list[OutboundSms] = []
        self.taken: dict[int, CarrierAccepted] = {}
        self.lookup_error: CarrierError | None = None
        self.observe: Callable[[OutboundSms], None] | None = None
        self._guard = threading.Lock()

    def send(self, sms: OutboundSms) -> CarrierAccepted:
        with self._guard:
            self.sends.append(sms)
            outcome = self.outcomes.pop(0) if self.outcomes else None
        if self.observe is not None:
            self.observe(sms)
        if isinstance(outcome, Exception):
            raise outcome
        accepted = CarrierAccepted("SM" + uuid.uuid4().hex, "queued")
        with self._guard:
            self.taken[sms.message_id] = accepted
            if outcome == TAKE_THEN_TIME_OUT:
                raise CarrierAmbiguous("read timeout after the request was sent")
            self.accepted.append(sms)
        return accepted

    def find_sent(self, sms: OutboundSms, attempted_at: datetime) -> list[CarrierAccepted]:
        self.lookups.append(sms)
        if self.lookup_error is not None:
            raise self.lookup_error
        found = self.taken.get(sms.message_id)
        return [found] if found is not None else []

    def tick(self) -> None:
        return None

    def status_callback_url(self, public_url: str, message_id: int) -> str:
        return fake_callback_url(message_id, public_url)


def fake_callback_url(message_id: int, public_url: str = "https://mc.example.test/cb") -> str:
    """The fake carrier's own status-callback URL (the Twilio adapter's is tested there)."""
    return f"{public_url.rstrip('/')}/fake/status?message={message_id}"


@dataclass
class Queued:
    setup: SetUp
    message_ids: list[int] = field(default_factory=list)


def queue_messages(
    session: Session, context: AppContext, at: datetime, count: int = 1, allowance: int = 100
) -> Queued:
    setup = make_business(session, context.carrier, at, allowance=allowance)
    client = make_client(session, setup.business, at, cell_phone=CLIENT_PHONE)
    queued = Queued(setup)
    for n in range(count):
        message = send_message(
            session,
            setup.business,
            body=f"Message {n}",
            sender=Sender.automated(),
            at=at,
            client=client,
        )
        session.flush()
        queued.message_ids.append(message.id)
    session.commit()
    return queued


def load(session: Session, message_id: int) -> Message:
    message = session.scalar(
        select(Message).where(Message.id == message_id).execution_options(populate_existing=True)
    )
    assert message is not None
    return message


def dispatcher_for(
    context: AppContext,
    carrier: Carrier,
    *,
    seed: int = 1,
    batch_size: int = 20,
    concurrency: int = 1,
) -> Dispatcher:
    return Dispatcher(
        context.sessions,
        carrier,
        context.clock,
        context.settings.public_url,
        batch_size=batch_size,
        concurrency=concurrency,
        rng=random.Random(seed),
    )


def states(session: Session, message_ids: list[int]) -> list[str]:
    return [load(session, message_id).dispatch_state for message_id in message_ids]


# ---------------------------------------------------------------------------- success


def test_success_claims_first_then_records_the_sid(
    session: Session, context: AppContext, clock: FrozenClock, settings: Settings
) -> None:
    queued = queue_messages(session, context, clock.now())
    [message_id] = queued.message_ids
    carrier = FakeCarrier(clock)
    seen_while_sending: list[tuple[str, datetime | None, str | None]] = []

    def observe(_sms: OutboundSms) -> None:
        with session_scope(context.sessions) as look:
            row = load(look, message_id)
            seen_while_sending.append((row.dispatch_state, row.claimed_at, row.carrier_sid))

    carrier.observe = observe

    assert dispatcher_for(context, carrier).run_once() == 1

    assert seen_while_sending == [(DISPATCH_SENDING, clock.now(), None)]
    [sms] = carrier.sends
    assert sms.message_id == message_id
    assert sms.to_phone == CLIENT_PHONE
    assert sms.from_phone == queued.setup.number.phone_number
    assert sms.body == "Message 0"
    assert sms.status_callback_url == (f"{settings.public_url}/fake/status?message={message_id}")
    assert sms.status_callback_url == (f"https://mc.example.test/fake/status?message={message_id}")
    message = load(session, message_id)
    assert message.dispatch_state == DISPATCH_ACCEPTED
    assert message.carrier_sid == carrier.taken[message_id].carrier_sid
    assert message.status == "queued"
    assert message.attempts == 1

    assert dispatcher_for(context, carrier).run_once() == 0
    assert len(carrier.sends) == 1


def test_run_once_handles_one_batch(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    queued = queue_messages(session, context, clock.now(), count=5)
    carrier = FakeCarrier(clock)
    dispatcher = dispatcher_for(context, carrier, batch_size=2)
    assert [dispatcher.run_once() for _ in range(4)] == [2, 2, 1, 0]
    assert sorted(s.message_id for s in carrier.sends) == queued.message_ids


# ---------------------------------------------------------------------------- retry later


def test_retry_later_backs_off_and_sends_once_when_the_carrier_recovers(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    [message_id] = queue_messages(session, context, clock.now()).message_ids
    busy = CarrierRetryLater("Too Many Requests", code=20429, retry_after=30.0)
    carrier = FakeCarrier(clock, [busy])
    dispatcher = dispatcher_for(context, carrier)
    started = clock.now()

    assert dispatcher.run_once() == 1
    message = load(session, message_id)
    assert message.dispatch_state == DISPATCH_PENDING
    assert message.claimed_at is None
    assert message.status == "queued"
    assert message.carrier_sid is None
    assert message.next_attempt_at is not None
    retry_at = message.next_attempt_at
    assert retry_at >= started + timedelta(seconds=30)

    # Not due yet: nothing is sent.
    assert dispatcher.run_once() == 0
    clock.set(retry_at - timedelta(milliseconds=1))
    assert dispatcher.run_once() == 0
    assert len(carrier.sends) == 1

    clock.set(retry_at)
    assert dispatcher.run_once() == 1
    message = load(session, message_id)
    assert message.dispatch_state == DISPATCH_ACCEPTED
    assert message.attempts == 2
    assert message.carrier_sid == carrier.taken[message_id].carrier_sid

    clock.advance(timedelta(hours=1))
    assert dispatcher.run_once() == 0
    assert dispatcher.settle_by_lookup() == 0
    assert [s.message_id for s in carrier.accepted] == [message_id]
    assert len(carrier.sends) == 2


def test_backoff_grows_with_each_attempt(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    [message_id] = queue_messages(session, context, clock.now()).message_ids
    failures: list[Outcome] = [CarrierRetryLater("busy", code=20429) for _ in range(6)]
    carrier = FakeCarrier(clock, failures)
    dispatcher = dispatcher_for(context, carrier, seed=11)

    delays: list[float] = []
    for _ in range(6):
        now = clock.now()
        assert dispatcher.run_once() == 1
        next_at = load(session, message_id).next_attempt_at
        assert next_at is not None
        delays.append((next_at - now).total_seconds())
        clock.set(next_at)

    ceilings = [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert delays == sorted(delays)
    assert delays[-1] > 4 * delays[0]
    assert any(d != c for d, c in zip(delays, ceilings, strict=True))  # jittered

    assert dispatcher.run_once() == 1
    assert load(session, message_id).dispatch_state == DISPATCH_ACCEPTED
    assert len(carrier.accepted) == 1
    assert len(carrier.sends) == 7


def test_retry_jitter_differs_between_dispatchers(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    queued = queue_messages(session, context, clock.now(), count=6)
    carrier = FakeCarrier(clock, [CarrierRetryLater("busy", code=20429) for _ in range(6)])
    dispatcher = dispatcher_for(context, carrier, seed=5)
    assert dispatcher.run_once() == 6
    retry_times = {load(session, i).next_attempt_at for i in queued.message_ids}
    assert len(retry_times) > 1  # spread out, not a thundering herd


# ---------------------------------------------------------------------------- rejected


def test_rejected_fails_gives_units_back_and_is_never_retried(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    queued = queue_messages(session, context, clock.now())
    [message_id] = queued.message_ids
    business = queued.setup.business
    assert usage.summarize(session, business, clock.now()).used == 1
    refused = CarrierRejected(
        "Permission to send an SMS has not been enabled", failure=explain(21408)
    )
    carrier = FakeCarrier(clock, [refused])
    dispatcher = dispatcher_for(context, carrier)

    assert dispatcher.run_once() == 1

    message = load(session, message_id)
    assert message.status == "failed"
    assert message.dispatch_state == DISPATCH_REJECTED
    assert (message.error_code, message.error_message) == (21408, REASONS[21408])
    session.expire_all()
    assert usage.summarize(session, business, clock.now()).used == 0

    clock.advance(GIVE_UP_AFTER * 2)
    assert dispatcher.run_once() == 0
    assert dispatcher.settle_by_lookup() == 0
    assert len(carrier.sends) == 1


# ---------------------------------------------------------------------------- ambiguous


@pytest.mark.parametrize(
    "failure",
    [
        CarrierAmbiguous("read timeout"),
        CarrierAmbiguous("HTTP 503 from the carrier", code=None),
        CarrierError("unexpected reply"),
    ],
    ids=["timeout", "5xx", "other-carrier-error"],
)
def test_ambiguous_outcome_stays_claimed_and_is_not_sent_again(
    session: Session, context: AppContext, clock: FrozenClock, failure: CarrierError
) -> None:
    [message_id] = queue_messages(session, context, clock.now()).message_ids
    carrier = FakeCarrier(clock, [failure])
    dispatcher = dispatcher_for(context, carrier)

    assert dispatcher.run_once() == 1
    message = load(session, message_id)
    assert message.dispatch_state == DISPATCH_SENDING
    assert message.carrier_sid is None
    assert message.status == "queued"

    for _ in range(3):
        clock.advance(timedelta(seconds=30))
        assert dispatcher.run_once() == 0
        assert dispatcher_for(context, carrier, seed=9).run_once() == 0
    assert len(carrier.sends) == 1
    assert load(session, message_id).dispatch_state == DISPATCH_SENDING


def test_settle_finds_the_message_by_our_id_without_sending_again(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    queued = queue_messages(session, context, clock.now())
    [message_id] = queued.message_ids
    carrier = FakeCarrier(clock, [TAKE_THEN_TIME_OUT])
    dispatcher = dispatcher_for(context, carrier)

    assert dispatcher.run_once() == 1
    assert load(session, message_id).dispatch_state == DISPATCH_SENDING

    clock.advance(SETTLE_AFTER - timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 0
    assert carrier.lookups == []  # too early to ask

    clock.advance(timedelta(seconds=2))
    assert dispatcher.settle_by_lookup() == 1

    [lookup] = carrier.lookups
    assert lookup.message_id == message_id
    assert lookup.status_callback_url is not None
    assert lookup.status_callback_url.endswith(f"?message={message_id}")
    message = load(session, message_id)
    assert message.dispatch_state == DISPATCH_ACCEPTED
    assert message.carrier_sid == carrier.taken[message_id].carrier_sid
    assert message.status == "queued"
    assert usage.summarize(session, queued.setup.business, clock.now()).used == 1

    assert dispatcher.settle_by_lookup() == 0
    assert dispatcher.run_once() == 0
    assert len(carrier.sends) == 1


def test_no_trace_after_give_up_fails_without_sending_again(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    [message_id] = queue_messages(session, context, clock.now()).message_ids
    carrier = FakeCarrier(clock, [CarrierAmbiguous("read timeout")])
    dispatcher = dispatcher_for(context, carrier)
    claimed_at = clock.now()
    assert dispatcher.run_once() == 1

    clock.set(claimed_at + SETTLE_AFTER + timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 0  # no trace yet: keep waiting
    assert load(session, message_id).dispatch_state == DISPATCH_SENDING

    clock.set(claimed_at + GIVE_UP_AFTER - timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 0
    assert load(session, message_id).dispatch_state == DISPATCH_SENDING

    clock.set(claimed_at + GIVE_UP_AFTER + timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 1

    message = load(session, message_id)
    assert message.status == "failed"
    assert message.dispatch_state == DISPATCH_REJECTED
    assert message.error_message == UNCONFIRMED_REASON
    assert "not sent again" in UNCONFIRMED_REASON
    assert len(carrier.lookups) == 3
    assert all(s.message_id == message_id for s in carrier.lookups)

    clock.advance(timedelta(hours=1))
    assert dispatcher.run_once() == 0
    assert dispatcher.settle_by_lookup() == 0
    assert len(carrier.sends) == 1


def test_a_given_up_message_the_carrier_reports_on_is_revived_and_charged_again(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Given up as never confirmed (units given back), then a status report by our id proves
    the carrier took it after all: accepted with the reported status, its units count again."""
    queued = queue_messages(session, context, clock.now())
    [message_id] = queued.message_ids
    carrier = FakeCarrier(clock, [CarrierAmbiguous("read timeout")])
    dispatcher = dispatcher_for(context, carrier)
    assert dispatcher.run_once() == 1
    clock.advance(GIVE_UP_AFTER + timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 1
    assert load(session, message_id).dispatch_state == DISPATCH_REJECTED
    assert usage.summarize(session, queued.setup.business, clock.now()).used == 0

    report = StatusReport("SM" + uuid.uuid4().hex, "delivered", message_id=message_id)
    with session_scope(context.sessions) as unit:
        assert service.record_status(unit, report, clock.now())
    message = load(session, message_id)
    assert (message.dispatch_state, message.status, message.carrier_sid) == (
        DISPATCH_ACCEPTED,
        "delivered",
        report.carrier_sid,
    )
    assert (message.error_code, message.error_message) == (None, None)
    assert usage.summarize(session, queued.setup.business, clock.now()).used == 1
    assert len(carrier.sends) == 1


def test_an_unreachable_carrier_leaves_the_message_for_later(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    [message_id] = queue_messages(session, context, clock.now()).message_ids
    carrier = FakeCarrier(clock, [TAKE_THEN_TIME_OUT])
    carrier.lookup_error = CarrierRetryLater("Twilio could not be asked")
    dispatcher = dispatcher_for(context, carrier)
    assert dispatcher.run_once() == 1

    clock.advance(GIVE_UP_AFTER + timedelta(minutes=1))
    assert dispatcher.settle_by_lookup() == 0
    assert load(session, message_id).dispatch_state == DISPATCH_SENDING  # not given up blind
    assert dispatcher.settle_by_lookup() == 0
    assert len(carrier.lookups) == 1  # its next lookup waits

    carrier.lookup_error = None
    clock.advance(service.LOOKUP_BACKOFF_MAX)
    assert dispatcher.settle_by_lookup() == 1
    assert load(session, message_id).dispatch_state == DISPATCH_ACCEPTED
    assert len(carrier.sends) == 1


def test_a_carrier_that_cannot_tell_is_given_up_on_after_the_give_up_time(
    session: Session, context: AppContext, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Any answer but "unreachable" (a 5xx, too many candidates) would repeat for ever."""
    [message_id] = queue_messages(session, context, clock.now()).message_ids
    carrier = FakeCarrier(clock, [CarrierAmbiguous("read timeout")])
    carrier.lookup_error = CarrierAmbiguous("HTTP 500")
    dispatcher = dispatcher_for(context, carrier)
    assert dispatcher.run_once() == 1

    clock.advance(SETTLE_AFTER + timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 0  # before the give-up time: ask again later
    assert load(session, message_id).dispatch_state == DISPATCH_SENDING

    clock.advance(GIVE_UP_AFTER)
    assert dispatcher.settle_by_lookup() == 1
    message = load(session, message_id)
    assert (message.dispatch_state, message.error_message) == (
        DISPATCH_REJECTED,
        UNCONFIRMED_REASON,
    )
    assert [r.levelname for r in caplog.records if "given up" in r.getMessage()] == ["ERROR"]
    assert len(carrier.sends) == 1


def test_lookups_back_off_and_stuck_messages_do_not_block_the_others(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """A batch of messages the carrier cannot be asked about waits its next turn; messages
    behind it are still looked up, and nothing is asked about again on every pass."""
    ids = queue_messages(session, context, clock.now(), count=3).message_ids
    carrier = FakeCarrier(clock, [TAKE_THEN_TIME_OUT] * 3)
    dispatcher = dispatcher_for(context, carrier, batch_size=2)
    assert dispatcher_for(context, carrier).run_once() == 3
    carrier.lookup_error = CarrierRetryLater("Twilio could not be asked")

    clock.advance(SETTLE_AFTER + timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 0
    assert [s.message_id for s in carrier.lookups] == ids[:2]  # a batch at a time
    assert dispatcher.settle_by_lookup() == 0
    assert [s.message_id for s in carrier.lookups] == ids  # the third, not the first two again
    assert dispatcher.settle_by_lookup() == 0
    assert len(carrier.lookups) == 3  # nothing due: no request at all

    carrier.lookup_error = None
    clock.advance(SETTLE_AFTER + timedelta(seconds=2))  # the wait doubled with the age
    assert dispatcher.settle_by_lookup() == 2
    assert dispatcher.settle_by_lookup() == 1
    assert all(load(session, i).dispatch_state == DISPATCH_ACCEPTED for i in ids)


def test_an_unexpected_error_does_not_strand_the_rest_of_the_batch(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """One message's unexpected failure (a bug in an adapter, an unwrapped network error) is
    ambiguous for that message only: the others in the batch were never handed to the
    carrier, so they must still go out, not sit claimed until they are failed as 'never
    confirmed' (DESIGN.md §3: a crash "never loses one")."""
    queued = queue_messages(session, context, clock.now(), count=3)
    first, *others = queued.message_ids
    carrier = FakeCarrier(clock, [RuntimeError("unexpected error in the carrier adapter")])
    dispatcher = dispatcher_for(context, carrier, batch_size=10)

    with contextlib.suppress(RuntimeError):
        dispatcher.run_once()
    with contextlib.suppress(RuntimeError):
        dispatcher.run_once()

    sent = [s.message_id for s in carrier.sends]
    assert sent.count(first) == 1  # ambiguous: never sent again
    assert load(session, first).dispatch_state == DISPATCH_SENDING
    for message_id in others:
        assert sent.count(message_id) == 1, f"message {message_id} was never handed over"
        assert load(session, message_id).dispatch_state == DISPATCH_ACCEPTED


# ---------------------------------------------------------------------------- crash safety


class CountingSends:
    """Wraps a carrier and counts the calls to send (the simulator itself is idempotent by
    our id, so it cannot show a second send)."""

    def __init__(self, inner: SimulatedCarrier) -> None:
        self.inner = inner
        self.name = inner.name
        self.sends: list[int] = []
        self.lookups: list[int] = []

    def send(self, sms: OutboundSms) -> CarrierAccepted:
        self.sends.append(sms.message_id)
        return self.inner.send(sms)

    def find_sent(self, sms: OutboundSms, attempted_at: datetime) -> list[CarrierAccepted]:
        self.lookups.append(sms.message_id)
        return self.inner.find_sent(sms, attempted_at)

    def suggest_numbers(self, country: str, near: str | None, limit: int) -> list[AvailableNumber]:
        return self.inner.suggest_numbers(country, near, limit)

    def acquire_number(self, phone_number: str, sms_webhook_url: str) -> str:
        return self.inner.acquire_number(phone_number, sms_webhook_url)

    def sms_webhook_url(self, public_url: str) -> str:
        return self.inner.sms_webhook_url(public_url)

    def release_number(self, carrier_sid: str) -> None:
        self.inner.release_number(carrier_sid)

    def tick(self) -> None:
        self.inner.tick()

    def status_callback_url(self, public_url: str, message_id: int) -> str | None:
        return self.inner.status_callback_url(public_url, message_id)


def crash_after_the_carrier_took_it(
    committed_context: AppContext,
) -> tuple[int, CarrierAccepted, SimulatedCarrier]:
    """Queue a message, claim it in a committed unit of work, hand it to the simulator and
    then 'crash': nothing about the carrier's answer is recorded."""
    context = committed_context
    simulator = context.simulator
    assert simulator is not None
    now = context.clock.now()
    with session_scope(context.sessions) as session:
        queued = queue_messages(session, context, now)
    [message_id] = queued.message_ids
    callback_url = partial(simulator.status_callback_url, context.settings.public_url)
    with session_scope(context.sessions) as session:
        [claimed] = service.claim_due(session, now, 10, callback_url)
    assert claimed.message_id == message_id
    with session_scope(context.sessions) as session:
        assert service.mark_sending(session, [claimed], now, now + SETTLE_AFTER)
    accepted = simulator.send(claimed.sms)
    return message_id, accepted, simulator


def read(sessions: sessionmaker[Session], message_id: int) -> Message:
    with session_scope(sessions) as session:
        return load(session, message_id)


def test_crash_after_the_carrier_took_it_is_settled_not_resent(
    committed_context: AppContext, clock: FrozenClock
) -> None:
    context = committed_context
    message_id, accepted, simulator = crash_after_the_carrier_took_it(context)
    carrier = CountingSends(simulator)
    restarted = Dispatcher(
        context.sessions, carrier, clock, context.settings.public_url, rng=random.Random(2)
    )

    # The restarted process finds the claim and does not send it again.
    assert restarted.run_once() == 0
    clock.advance(SETTLE_AFTER / 2)
    assert restarted.run_once() == 0
    assert restarted.settle_by_lookup() == 0
    assert carrier.sends == []
    assert read(context.sessions, message_id).dispatch_state == DISPATCH_SENDING

    # Settled by our id once the claim is stale (before any callback arrives).
    clock.advance(SETTLE_AFTER)
    assert restarted.settle_by_lookup() == 1
    assert carrier.lookups == [message_id]
    message = read(context.sessions, message_id)
    assert message.dispatch_state == DISPATCH_ACCEPTED
    assert message.carrier_sid == accepted.carrier_sid
    assert message.status == "queued"

    # The simulator's callbacks then take it to delivered.
    clock.advance(DELIVERED_AFTER)
    carrier.tick()
    message = read(context.sessions, message_id)
    assert message.status == "delivered"
    assert carrier.sends == []
    assert simulator.sent_count() == 1
    assert restarted.run_once() == 0
    assert restarted.settle_by_lookup() == 0


def test_crash_then_the_callback_settles_the_claim_first(
    committed_context: AppContext, clock: FrozenClock
) -> None:
    context = committed_context
    message_id, accepted, simulator = crash_after_the_carrier_took_it(context)
    carrier = CountingSends(simulator)
    restarted = Dispatcher(context.sessions, carrier, clock, context.settings.public_url)

    clock.advance(DELIVERED_AFTER)
    carrier.tick()  # sent + delivered arrive before anyone settles the claim

    message = read(context.sessions, message_id)
    assert (message.dispatch_state, message.carrier_sid, message.status) == (
        DISPATCH_ACCEPTED,
        accepted.carrier_sid,
        "delivered",
    )
    clock.advance(GIVE_UP_AFTER * 2)
    assert restarted.run_once() == 0
    assert restarted.settle_by_lookup() == 0
    assert carrier.sends == []
    assert carrier.lookups == []
    with session_scope(context.sessions) as session:
        events = session.scalars(
            select(MessageStatusEvent.status)
            .where(MessageStatusEvent.message_id == message_id)
            .order_by(MessageStatusEvent.id)
        ).all()
    assert events == ["sent", "delivered"]


# ---------------------------------------------------------------------------- never lost


def test_a_claim_never_handed_over_goes_back_to_the_queue_when_it_expires(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """A process that died after claiming a batch but before calling the carrier for some of
    it: those messages provably never reached the carrier, so they are sent, not failed."""
    queued = queue_messages(session, context, clock.now(), count=3)
    first, *never_tried = queued.message_ids
    with session_scope(context.sessions) as unit:  # the dead process's claim and first mark
        claims = service.claim_due(unit, clock.now(), 10, fake_callback_url)
        assert service.mark_sending(unit, [claims[0]], clock.now(), clock.now() + SETTLE_AFTER)
    carrier = FakeCarrier(clock)
    restarted = dispatcher_for(context, carrier)

    clock.advance(CLAIM_TIMEOUT - timedelta(seconds=1))
    assert restarted.release_expired_claims() == 0
    assert restarted.run_once() == 0  # still somebody's claim
    clock.advance(timedelta(seconds=2))
    assert restarted.release_expired_claims() == 2
    for message_id in never_tried:
        message = load(session, message_id)
        assert (message.dispatch_state, message.claimed_at, message.attempts) == (
            DISPATCH_PENDING,
            None,
            0,
        )
    assert load(session, first).dispatch_state == DISPATCH_SENDING  # ambiguous: not released

    assert restarted.run_once() == 2
    assert sorted(s.message_id for s in carrier.sends) == never_tried
    assert all(load(session, i).dispatch_state == DISPATCH_ACCEPTED for i in never_tried)


def test_a_claim_from_a_dispatcher_older_than_0006_is_settled_never_released(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """During a rolling upgrade, processes from before migration 0006 still claim messages as
    "claimed" and call the carrier with no mark: such a claim may have been sent, so an
    expired one is looked up at the carrier, never put back in the queue."""
    [found_id, lost_id] = queue_messages(session, context, clock.now(), count=2).message_ids
    carrier = FakeCarrier(clock)
    old_call = clock.now()
    for message_id in (found_id, lost_id):  # as the old dispatcher leaves them
        message = load(session, message_id)
        message.dispatch_state, message.claimed_at = DISPATCH_CLAIMED, old_call
    session.commit()
    carrier.taken[found_id] = CarrierAccepted("SM" + uuid.uuid4().hex, "sent")  # its call got there
    dispatcher = dispatcher_for(context, carrier)

    clock.advance(CLAIM_TIMEOUT + timedelta(seconds=1))
    assert dispatcher.release_expired_claims() == 0
    assert dispatcher.run_once() == 0
    clock.set(old_call + SETTLE_AFTER + timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 1
    assert load(session, found_id).carrier_sid == carrier.taken[found_id].carrier_sid
    assert load(session, lost_id).dispatch_state == DISPATCH_CLAIMED
    clock.set(old_call + GIVE_UP_AFTER + timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 1
    assert load(session, lost_id).error_message == UNCONFIRMED_REASON
    assert carrier.sends == []


def test_an_owner_whose_claim_expired_does_not_send_it(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """A stalled dispatcher's claim was released and taken by another: the stalled one must
    not hand the message over as well (mark_sending checks the claim is still its own)."""
    [message_id] = queue_messages(session, context, clock.now()).message_ids
    with session_scope(context.sessions) as unit:
        [stalled] = service.claim_due(unit, clock.now(), 10, fake_callback_url)
    clock.advance(CLAIM_TIMEOUT + timedelta(seconds=1))
    other = FakeCarrier(clock)
    assert dispatcher_for(context, other).release_expired_claims() == 1
    assert dispatcher_for(context, other).run_once() == 1

    with session_scope(context.sessions) as unit:
        assert not service.mark_sending(unit, [stalled], clock.now(), clock.now() + SETTLE_AFTER)
    assert [s.message_id for s in other.sends] == [message_id]
    assert load(session, message_id).attempts == 1


def test_a_stalled_dispatcher_does_not_send_a_hold_released_and_taken_by_another(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """The dispatcher's own check: while its first call stalls past the claim timeout, the
    rest of its batch is released and held again by another worker; once the call returns it
    must hand none of them over (the other holds them now)."""
    [first, second] = queue_messages(session, context, clock.now(), count=2).message_ids
    carrier = FakeCarrier(clock)
    retaken: list[Claimed] = []

    def stall(sms: OutboundSms) -> None:
        if sms.message_id != first:
            return
        clock.advance(CLAIM_TIMEOUT + timedelta(seconds=1))
        other = dispatcher_for(context, FakeCarrier(clock))
        assert other.release_expired_claims() == 1
        with session_scope(context.sessions) as unit:
            retaken.extend(service.claim_due(unit, clock.now(), 10, fake_callback_url))

    carrier.observe = stall
    assert dispatcher_for(context, carrier).run_once() == 1  # only the first was handed over

    assert [s.message_id for s in carrier.sends] == [first]
    assert [c.message_id for c in retaken] == [second]
    held = load(session, second)
    assert (held.dispatch_state, held.claimed_at, held.attempts) == (
        DISPATCH_HELD,
        retaken[0].claimed_at,
        0,
    )
    with session_scope(context.sessions) as unit:  # still the other worker's to send
        assert service.mark_sending(unit, [retaken[0]], clock.now(), clock.now() + SETTLE_AFTER)


def test_a_stop_between_messages_releases_the_rest_of_the_batch(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    queued = queue_messages(session, context, clock.now(), count=5)
    stop = threading.Event()
    carrier = FakeCarrier(clock)
    carrier.observe = lambda sms: stop.set()  # SIGTERM arrives during the first call

    assert dispatcher_for(context, carrier).run_once(stop) == 1

    first, *rest = queued.message_ids
    assert [s.message_id for s in carrier.sends] == [first]
    assert load(session, first).dispatch_state == DISPATCH_ACCEPTED  # the call in flight ends
    for message_id in rest:
        message = load(session, message_id)
        assert (message.dispatch_state, message.claimed_at) == (DISPATCH_PENDING, None)
        assert message.next_attempt_at is not None and message.next_attempt_at <= clock.now()
    assert dispatcher_for(context, carrier).run_once(stop) == 0  # stopped: claims nothing

    assert dispatcher_for(context, carrier).run_once() == 4
    assert sorted(s.message_id for s in carrier.sends) == queued.message_ids


# ---------------------------------------------------------------------------- consent when it goes


def _texts(
    session: Session, queued: Queued, keyword: str, at: datetime, *, opted_out: bool
) -> None:
    set_consent(
        session,
        business_id=queued.setup.business.id,
        phone=CLIENT_PHONE,
        opted_out=opted_out,
        source="keyword",
        keyword=keyword,
        sms_number=queued.setup.number.phone_number,
        message_id=None,
        at=at,
    )
    session.commit()


def test_a_message_to_a_client_who_opted_out_since_it_was_queued_is_withdrawn(
    session: Session, context: AppContext, clock: FrozenClock, live_events: list[LiveEvent]
) -> None:
    """Consent is checked when a message goes: a reminder queued earlier does not reach a
    client who has texted STOP since; it is canceled, says why, and gives its units back."""
    queued = queue_messages(session, context, clock.now(), count=2)
    business = queued.setup.business
    assert usage.summarize(session, business, clock.now()).used == 2
    clock.advance(timedelta(minutes=5))
    _texts(session, queued, "STOP", clock.now(), opted_out=True)
    carrier = FakeCarrier(clock)

    assert dispatcher_for(context, carrier).run_once() == 0

    assert carrier.sends == []
    for message_id in queued.message_ids:
        message = load(session, message_id)
        assert (message.status, message.dispatch_state) == ("canceled", "none")
        assert message.error_message == service.UNSUBSCRIBED_SINCE_QUEUED
    assert usage.summarize(session, business, clock.now()).used == 0
    assert [(e.data["message_id"], e.data["status"]) for e in live_events] == [
        (message_id, "canceled") for message_id in queued.message_ids
    ]


def test_the_apps_answer_queued_after_the_opt_out_still_goes(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Only an opt-out newer than the message withdraws it: the app's own answer to STOP is
    queued at that STOP, so it goes, while what was queued before is withdrawn."""
    queued = queue_messages(session, context, clock.now())
    clock.advance(timedelta(minutes=1))
    _texts(session, queued, "STOP", clock.now(), opted_out=True)
    conversation = session.get(Conversation, load(session, queued.message_ids[0]).conversation_id)
    assert conversation is not None
    confirmation = queue_outbound(
        session,
        queued.setup.business,
        queued.setup.number,
        conversation,
        "You have been unsubscribed.",
        [],
        Sender.automated(),
        clock.now(),
    )
    session.commit()
    carrier = FakeCarrier(clock)

    assert dispatcher_for(context, carrier).run_once() == 1
    assert [s.message_id for s in carrier.sends] == [confirmation]
    assert load(session, queued.message_ids[0]).status == "canceled"


def test_a_client_who_texted_start_again_gets_what_was_queued(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    queued = queue_messages(session, context, clock.now())
    clock.advance(timedelta(minutes=1))
    _texts(session, queued, "STOP", clock.now(), opted_out=True)
    clock.advance(timedelta(minutes=1))
    _texts(session, queued, "START", clock.now(), opted_out=False)
    carrier = FakeCarrier(clock)

    assert dispatcher_for(context, carrier).run_once() == 1
    assert load(session, queued.message_ids[0]).dispatch_state == DISPATCH_ACCEPTED


# ---------------------------------------------------------------------------- calls in flight

WAIT = 30.0  # seconds: only reached when something is already wrong


def test_calls_overlap_up_to_the_concurrency(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Three calls are in flight at once (each waits for the other two at a barrier, which a
    dispatcher calling one at a time would never reach), and each message goes out once.
    (Three messages: a barrier for later ones could wait on a refill that waits for them.)"""
    queued = queue_messages(session, context, clock.now(), count=3)
    carrier = FakeCarrier(clock)
    all_three = threading.Barrier(3, timeout=WAIT)
    carrier.observe = lambda _sms: all_three.wait()

    assert dispatcher_for(context, carrier, concurrency=3).run_once() == 3

    assert sorted(s.message_id for s in carrier.sends) == queued.message_ids
    assert states(session, queued.message_ids) == [DISPATCH_ACCEPTED] * 3


def test_only_the_calls_in_flight_are_marked_sending(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Marks are written a group at a time, never for more messages than calls in flight: a
    crash leaves at most `concurrency` messages to settle by lookup, the rest only held (and
    released to the queue when their hold expires)."""
    queued = queue_messages(session, context, clock.now(), count=4)
    carrier = FakeCarrier(clock)
    seen: list[list[str]] = []

    def look() -> None:  # while both calls are in flight (and the dispatcher waits for them)
        with session_scope(context.sessions) as unit:
            seen.append(states(unit, queued.message_ids))

    in_pairs = threading.Barrier(2, action=look, timeout=WAIT)
    carrier.observe = lambda _sms: in_pairs.wait()
    assert dispatcher_for(context, carrier, concurrency=2).run_once() == 4

    assert seen[0] == [DISPATCH_SENDING] * 2 + [DISPATCH_HELD] * 2
    assert all(state.count(DISPATCH_SENDING) == 2 for state in seen)
    assert states(session, queued.message_ids) == [DISPATCH_ACCEPTED] * 4


def test_a_stop_lets_the_calls_in_flight_finish_and_releases_the_rest(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    queued = queue_messages(session, context, clock.now(), count=6)
    stop = threading.Event()
    carrier = FakeCarrier(clock)
    both_in_flight = threading.Barrier(2, timeout=WAIT)

    def observe(_sms: OutboundSms) -> None:
        both_in_flight.wait()
        stop.set()  # SIGTERM arrives while two calls are in flight

    carrier.observe = observe
    assert dispatcher_for(context, carrier, concurrency=2).run_once(stop) == 2

    sent = sorted(s.message_id for s in carrier.sends)
    assert sent == queued.message_ids[:2]
    assert states(session, sent) == [DISPATCH_ACCEPTED] * 2  # recorded before it returned
    assert states(session, queued.message_ids[2:]) == [DISPATCH_PENDING] * 4


def test_holds_still_waiting_are_renewed_while_slow_calls_go_on(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Each step may take a carrier call's whole timeout: a hold that waits its turn behind
    slow calls is renewed once it is a quarter of the claim timeout old, so another worker
    does not release it as a dead process's (and send it too)."""
    first, second, third = queue_messages(session, context, clock.now(), count=3).message_ids
    carrier = FakeCarrier(clock)
    released_meanwhile: list[int] = []

    def slow_call(sms: OutboundSms) -> None:
        if sms.message_id == first:
            clock.advance(CLAIM_TIMEOUT * 0.3)
        elif sms.message_id == second:  # 1.1 claim timeouts after the batch was held
            clock.advance(CLAIM_TIMEOUT * 0.8)
            other = dispatcher_for(context, FakeCarrier(clock))
            released_meanwhile.append(other.release_expired_claims())

    carrier.observe = slow_call
    assert dispatcher_for(context, carrier).run_once() == 3

    assert released_meanwhile == [0]
    assert [s.message_id for s in carrier.sends] == [first, second, third]
    assert load(session, third).attempts == 1


def test_a_failed_step_records_its_outcomes_alone_and_releases_the_rest(
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A step's commit fails (the database went away a moment): the calls that finished are
    still recorded, each in its own unit of work, and nothing more is handed over; the rest
    of the batch goes back to the queue."""
    first, *rest = queue_messages(session, context, clock.now(), count=3).message_ids
    carrier = FakeCarrier(clock)
    mark = service.mark_sending
    marks: list[int] = []

    def second_mark_fails(*args: object, **kwargs: object) -> list[Claimed]:
        marks.append(1)
        if len(marks) == 2:
            raise RuntimeError("the database went away")
        return mark(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "mark_sending", second_mark_fails)
    assert dispatcher_for(context, carrier).run_once() == 1

    assert [s.message_id for s in carrier.sends] == [first]
    assert load(session, first).dispatch_state == DISPATCH_ACCEPTED
    assert states(session, rest) == [DISPATCH_PENDING] * 2


def test_settle_waits_are_the_dispatchers_settings(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    waits = Waits(
        claim_timeout=timedelta(seconds=5),
        settle_after=timedelta(seconds=10),
        give_up_after=timedelta(seconds=30),
    )
    [found_id, lost_id] = queue_messages(session, context, clock.now(), count=2).message_ids
    carrier = FakeCarrier(clock, [TAKE_THEN_TIME_OUT, CarrierAmbiguous("read timeout")])
    dispatcher = Dispatcher(
        context.sessions, carrier, clock, context.settings.public_url, waits=waits
    )
    handed_over = clock.now()
    assert dispatcher.run_once() == 2

    clock.set(handed_over + timedelta(seconds=9))
    assert dispatcher.settle_by_lookup() == 0
    assert carrier.lookups == []
    clock.set(handed_over + timedelta(seconds=11))
    assert dispatcher.settle_by_lookup() == 1  # found at the carrier
    assert load(session, found_id).dispatch_state == DISPATCH_ACCEPTED
    assert load(session, lost_id).dispatch_state == DISPATCH_SENDING
    clock.set(handed_over + timedelta(seconds=31))
    assert dispatcher.settle_by_lookup() == 1  # no trace: given up
    assert load(session, lost_id).error_message == UNCONFIRMED_REASON
    assert len(carrier.sends) == 2


def test_settle_takes_the_twin_no_other_message_holds(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Two of our messages with the same text were both handed over and both answers lost:
    each is settled with its own carrier message, never both with the same one."""
    [one, two] = queue_messages(session, context, clock.now(), count=2).message_ids
    carrier = FakeCarrier(clock, [TAKE_THEN_TIME_OUT, TAKE_THEN_TIME_OUT])
    dispatcher = dispatcher_for(context, carrier)
    assert dispatcher.run_once() == 2
    both = [carrier.taken[one], carrier.taken[two]]
    carrier.find_sent = lambda sms, attempted_at: list(both)  # type: ignore[method-assign]

    clock.advance(SETTLE_AFTER + timedelta(seconds=1))
    assert dispatcher.settle_by_lookup() == 2
    # Settled in turn, closest candidate first: the second skips the one the first holds.
    assert load(session, one).carrier_sid == both[0].carrier_sid
    assert load(session, two).carrier_sid == both[1].carrier_sid
    assert both[0].carrier_sid != both[1].carrier_sid


def _twins_handed_over(
    session: Session, context: AppContext, clock: FrozenClock
) -> tuple[int, int, CarrierAccepted, CarrierAccepted]:
    """Two of our messages handed to the carrier, both answers lost; the carrier messages
    each one really became."""
    [one, two] = queue_messages(session, context, clock.now(), count=2).message_ids
    with session_scope(context.sessions) as unit:
        for claim in service.claim_due(unit, clock.now(), 10, fake_callback_url):
            assert service.mark_sending(unit, [claim], clock.now(), clock.now() + SETTLE_AFTER)
    return (
        one,
        two,
        CarrierAccepted("SM" + "1" * 32, "sent"),
        CarrierAccepted("SM" + "2" * 32, "sent"),
    )


def _matched_by_lookup(
    context: AppContext, message_id: int, candidate: CarrierAccepted, at: datetime
) -> None:
    with session_scope(context.sessions) as unit:
        assert service.record_accepted(unit, message_id, candidate, at, from_lookup=True)


def _sends_again(session: Session, message_id: int, clock: FrozenClock) -> None:
    """The message lost a twin's sid: handed over with no outcome, its own lookup due now."""
    message = load(session, message_id)
    assert (message.carrier_sid, message.carrier_sid_from_lookup) == (None, False)
    assert (message.dispatch_state, message.status) == (DISPATCH_SENDING, "queued")
    assert message.next_attempt_at == clock.now()


def test_the_carriers_answer_to_our_create_takes_a_sid_a_twin_matched_by_lookup(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """A stalled create answer arrives after a lookup gave its sid to the identical twin: the
    answer is the carrier's word, so the message takes its sid (it is not given up later) and
    the twin looks itself up again, finding its own."""
    one, two, sid_one, sid_two = _twins_handed_over(session, context, clock)
    clock.advance(SETTLE_AFTER + timedelta(seconds=1))
    _matched_by_lookup(context, one, sid_two, clock.now())  # the twin's, closest in time
    assert load(session, one).carrier_sid_from_lookup

    with session_scope(context.sessions) as unit:
        assert service.record_accepted(unit, two, sid_two, clock.now())  # two's own answer
    taken = load(session, two)
    assert (taken.carrier_sid, taken.carrier_sid_from_lookup, taken.dispatch_state) == (
        sid_two.carrier_sid,
        False,
        DISPATCH_ACCEPTED,
    )
    _sends_again(session, one, clock)

    carrier = FakeCarrier(clock)
    carrier.find_sent = lambda sms, attempted_at: [sid_two, sid_one]  # type: ignore[method-assign]
    assert dispatcher_for(context, carrier).settle_by_lookup() == 1
    assert load(session, one).carrier_sid == sid_one.carrier_sid
    assert load(session, two).carrier_sid == sid_two.carrier_sid
    assert carrier.sends == []


def test_a_dispatcher_records_its_create_answer_over_a_twins_lookup(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Through the dispatcher: the second twin's call stalls past the first twin's lookup,
    which matches the second's carrier message; the second's answer still settles it."""
    [one, two] = queue_messages(session, context, clock.now(), count=2).message_ids
    stolen = CarrierAccepted("SM" + "2" * 32, "queued")
    carrier = FakeCarrier(clock, [CarrierAmbiguous("read timeout")])

    def stall(sms: OutboundSms) -> None:
        if sms.message_id == two:  # meanwhile, one is looked up and matched to two's
            clock.advance(SETTLE_AFTER + timedelta(seconds=1))
            _matched_by_lookup(context, one, stolen, clock.now())

    carrier.observe = stall
    send = carrier.send

    def answer_with_the_stolen_sid(sms: OutboundSms) -> CarrierAccepted:
        send(sms)
        return stolen

    carrier.send = answer_with_the_stolen_sid  # type: ignore[method-assign]
    assert dispatcher_for(context, carrier).run_once() == 2

    assert load(session, two).carrier_sid == stolen.carrier_sid
    assert load(session, two).dispatch_state == DISPATCH_ACCEPTED
    _sends_again(session, one, clock)


def test_a_callback_naming_our_id_takes_its_sid_from_a_twin_matched_by_lookup(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """The twins were matched the wrong way round by lookup. Each one's signed callback
    (?message=<id>) names its own carrier message: neither is dropped as misrouted, and
    taking a sid the other holds is no unique-constraint error."""
    one, two, sid_one, sid_two = _twins_handed_over(session, context, clock)
    clock.advance(SETTLE_AFTER + timedelta(seconds=1))
    _matched_by_lookup(context, one, sid_two, clock.now())
    _matched_by_lookup(context, two, sid_one, clock.now())

    with session_scope(context.sessions) as unit:
        report = StatusReport(sid_two.carrier_sid, "delivered", message_id=two)
        assert service.record_status(unit, report, clock.now())
    assert (load(session, two).carrier_sid, load(session, two).status) == (
        sid_two.carrier_sid,
        "delivered",
    )
    _sends_again(session, one, clock)

    with session_scope(context.sessions) as unit:
        report = StatusReport(
            sid_one.carrier_sid, "undelivered", message_id=one, failure=explain(30003)
        )
        assert service.record_status(unit, report, clock.now())
    settled = load(session, one)
    assert (settled.carrier_sid, settled.status, settled.dispatch_state) == (
        sid_one.carrier_sid,
        "undelivered",
        DISPATCH_ACCEPTED,
    )
    assert load(session, two).carrier_sid == sid_two.carrier_sid


def test_a_callback_for_a_sid_held_on_the_carriers_word_is_dropped(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Only a lookup's match gives way: a report naming our id with a sid another message
    got from the carrier's own answer is misrouted (or forged), and changes nothing."""
    one, two, sid_one, _ = _twins_handed_over(session, context, clock)
    with session_scope(context.sessions) as unit:
        assert service.record_accepted(unit, one, sid_one, clock.now())
    with session_scope(context.sessions) as unit:
        report = StatusReport(sid_one.carrier_sid, "delivered", message_id=two)
        assert not service.record_status(unit, report, clock.now())
    assert load(session, one).carrier_sid == sid_one.carrier_sid
    assert (load(session, two).carrier_sid, load(session, two).dispatch_state) == (
        None,
        DISPATCH_SENDING,
    )


def test_outbox_waits_come_from_the_settings(settings: Settings) -> None:
    configured = settings.model_copy(
        update={
            "claim_timeout_seconds": 7.0,
            "settle_after_seconds": 20.0,
            "give_up_after_seconds": 90.0,
        }
    )
    assert outbox_waits(configured) == Waits(
        timedelta(seconds=7), timedelta(seconds=20), timedelta(seconds=90)
    )
    defaults = Settings(database_url="sqlite://")
    assert (
        outbox_waits(defaults)
        == Waits()
        == Waits(timedelta(seconds=60), timedelta(minutes=2), timedelta(minutes=10))
    )


def test_outbox_waits_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSAGECENTER_CLAIM_TIMEOUT_SECONDS", "30")
    monkeypatch.setenv("MESSAGECENTER_SETTLE_AFTER_SECONDS", "45")
    monkeypatch.setenv("MESSAGECENTER_GIVE_UP_AFTER_SECONDS", "300")
    waits = outbox_waits(Settings())
    assert (waits.claim_timeout, waits.settle_after, waits.give_up_after) == (
        timedelta(seconds=30),
        timedelta(seconds=45),
        timedelta(seconds=300),
    )


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"claim_timeout_seconds": 0}, "claim_timeout_seconds"),
        ({"settle_after_seconds": -1}, "settle_after_seconds"),
        ({"settle_after_seconds": 600, "give_up_after_seconds": 600}, "GIVE_UP_AFTER"),
        # Twilio's ValidityPeriod (the difference, whole seconds) is at least 1 s.
        ({"settle_after_seconds": 600, "give_up_after_seconds": 600.5}, "at least 1 second"),
    ],
)
def test_outbox_waits_must_make_sense(values: dict[str, float], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        Settings(database_url="sqlite://", **values)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- a batch at a time


class _Statements:
    """The statements a block of code runs on `engine` (an executemany counts once)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.seen: list[str] = []

    def __enter__(self) -> _Statements:
        event.listen(self._engine, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._record)

    def _record(self, _conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        self.seen.append(" ".join(statement.split()))

    def updating(self, *phrases: str) -> list[str]:
        return [s for s in self.seen if s.startswith("UPDATE") and all(p in s for p in phrases)]


def test_a_groups_marks_are_one_statement(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Four calls in flight: their marks are written in one statement, committed before any
    of the calls starts."""
    queued = queue_messages(session, context, clock.now(), count=4)
    carrier = FakeCarrier(clock)
    seen: list[list[str]] = []

    def look() -> None:  # all four calls started
        with session_scope(context.sessions) as unit:
            seen.append(states(unit, queued.message_ids))

    all_four = threading.Barrier(4, action=look, timeout=WAIT)
    carrier.observe = lambda _sms: all_four.wait()

    with _Statements(context.engine) as statements:
        assert dispatcher_for(context, carrier, concurrency=4).run_once() == 4

    assert len(statements.updating("attempts")) == 1  # sending, one attempt more
    assert seen == [[DISPATCH_SENDING] * 4]
    assert states(session, queued.message_ids) == [DISPATCH_ACCEPTED] * 4


def test_the_carriers_answers_to_a_group_are_one_statement(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    queued = queue_messages(session, context, clock.now(), count=4)
    with session_scope(context.sessions) as unit:
        held = service.claim_due(unit, clock.now(), 10, fake_callback_url)
    with session_scope(context.sessions) as unit:
        service.mark_sending(unit, held, clock.now(), clock.now() + SETTLE_AFTER)
    answers = [(m, CarrierAccepted("SM" + uuid.uuid4().hex, "queued")) for m in queued.message_ids]

    with _Statements(context.engine) as statements, session_scope(context.sessions) as unit:
        assert service.record_accepted_many(unit, answers, clock.now()) == []

    assert len(statements.updating("SET carrier_sid")) == 1
    for message_id, accepted in answers:
        message = load(session, message_id)
        assert (message.dispatch_state, message.status) == (DISPATCH_ACCEPTED, "queued")
        assert (message.carrier_sid, message.carrier_sid_from_lookup) == (
            accepted.carrier_sid,
            False,
        )
        assert message.attempts == 1


def test_one_sid_answered_for_two_messages_of_a_group_goes_to_neither_by_the_batch(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """A carrier that answers two creates with the same sid: the batch's one statement would
    give it to both; each goes one by one instead, so the first takes it and the other is left
    to settle by its own id (never sent again)."""
    queued = queue_messages(session, context, clock.now(), count=2)
    same = CarrierAccepted("SM" + "1" * 32, "queued")
    answers = [(message_id, same) for message_id in queued.message_ids]

    with session_scope(context.sessions) as unit:
        held = service.claim_due(unit, clock.now(), 10, fake_callback_url)
    with session_scope(context.sessions) as unit:
        service.mark_sending(unit, held, clock.now(), clock.now() + SETTLE_AFTER)
    with session_scope(context.sessions) as unit:
        assert service.record_accepted_many(unit, answers, clock.now()) == queued.message_ids
        assert [service.record_accepted(unit, m, a, clock.now()) for m, a in answers] == [
            True,
            False,
        ]
    first, second = (load(session, message_id) for message_id in queued.message_ids)
    assert (first.dispatch_state, first.carrier_sid) == (DISPATCH_ACCEPTED, same.carrier_sid)
    assert (second.dispatch_state, second.carrier_sid) == (DISPATCH_SENDING, None)


def test_slots_that_passed_send_their_messages_back_in_one_statement(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Messages marked sending whose calls never started (their send slots passed) go back to
    the queue together, due at once, their attempts not counted."""
    queued = queue_messages(session, context, clock.now(), count=3)
    with session_scope(context.sessions) as unit:
        held = service.claim_due(unit, clock.now(), 10, fake_callback_url)
    with session_scope(context.sessions) as unit:
        service.mark_sending(unit, held, clock.now(), clock.now() + SETTLE_AFTER)
    clock.advance(timedelta(seconds=1))

    with _Statements(context.engine) as statements, session_scope(context.sessions) as unit:
        service.record_not_called(unit, queued.message_ids[:2], clock.now())

    assert len(statements.updating()) == 1
    for message_id in queued.message_ids[:2]:
        message = load(session, message_id)
        assert (message.dispatch_state, message.attempts) == (DISPATCH_PENDING, 0)
        assert (message.next_attempt_at, message.claimed_at) == (clock.now(), None)
    assert load(session, queued.message_ids[2]).dispatch_state == DISPATCH_SENDING


class _Crash(BaseException):
    """The process dies (no `except Exception` in the dispatcher catches it)."""


def test_a_crash_between_a_groups_marks_and_its_answers_is_settled_never_resent(
    committed_context: AppContext, clock: FrozenClock
) -> None:
    """The group's marks are committed in one statement, the carrier takes all three, and the
    process dies before their answers are recorded: they stay sending (nothing sends them
    again), the rest of the batch goes back to the queue, and a lookup by our id settles
    the three with the sids the carrier gave."""
    context = committed_context
    simulator = context.simulator
    assert simulator is not None
    with session_scope(context.sessions) as unit:
        queued = queue_messages(unit, context, clock.now(), count=5)
    carrier = CountingSends(simulator)
    taken: dict[int, CarrierAccepted] = {}
    three_in_flight = threading.Barrier(3, timeout=WAIT)

    class DiesAfterTheCarrierTookIt(CountingSends):
        def send(self, sms: OutboundSms) -> CarrierAccepted:
            taken[sms.message_id] = super().send(sms)
            three_in_flight.wait()
            raise _Crash

    dying = DiesAfterTheCarrierTookIt(simulator)
    with pytest.raises(_Crash):
        Dispatcher(
            context.sessions, dying, clock, context.settings.public_url, concurrency=3
        ).run_once()

    first_three, rest = queued.message_ids[:3], queued.message_ids[3:]
    assert sorted(taken) == first_three
    assert [read(context.sessions, m).dispatch_state for m in first_three] == [DISPATCH_SENDING] * 3
    assert [read(context.sessions, m).dispatch_state for m in rest] == [DISPATCH_PENDING] * 2

    restarted = Dispatcher(context.sessions, carrier, clock, context.settings.public_url)
    assert restarted.run_once() == 2  # only the two never handed over
    assert sorted(carrier.sends) == rest
    clock.advance(SETTLE_AFTER * 2)
    assert restarted.settle_by_lookup() == 3
    assert sorted(carrier.lookups) == first_three
    for message_id in first_three:
        message = read(context.sessions, message_id)
        assert message.dispatch_state == DISPATCH_ACCEPTED
        assert message.carrier_sid == taken[message_id].carrier_sid
    assert simulator.sent_count() == 5

"""The dispatcher: claims due messages from the outbox, calls the carrier, records the result.

Never sends twice: each message is marked "sending" (committed) just before its carrier call,
a message goes back to the outbox only when the carrier certainly did not take it, and an
ambiguous outcome (timeout, 5xx, a crash during the call) is settled by our own id (the status
callback, or asking the carrier), never by sending again.

Paced (sending/pacing.py): a claimed message waits, held, until its number's send slot
starts, and is marked sending only then; one whose slot's second ended first goes back to the
queue uncalled. Replies and transactional texts are claimed before bulk traffic.

Never loses one: a claim alone proves nothing was sent, so held messages that were never
marked go back to the queue: at once when the dispatcher stops, or when their hold expires
(the process died). Only a message marked "sending" (or "claimed" by a dispatcher from before
migration 0006) is ever settled by lookup.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from messagecenter import metrics
from messagecenter.carriers.base import (
    Carrier,
    CarrierAccepted,
    CarrierAmbiguous,
    CarrierError,
    CarrierRejected,
    CarrierRetryLater,
)
from messagecenter.clock import Clock
from messagecenter.db import session_scope
from messagecenter.sending import service
from messagecenter.sending.service import Claimed

log = logging.getLogger(__name__)

# How long a stopping process waits for its dispatcher: one carrier call (Twilio: 5 s to
# connect, 15 s to answer) and recording its answer. Allow at least this as SIGTERM grace.
CARRIER_CALL_SECONDS = 20.0
STOP_WAIT_SECONDS = CARRIER_CALL_SECONDS + 5.0
UNCONFIRMED_REASON = (
    "The carrier never confirmed this message; it was not sent again to avoid a duplicate."
)


@dataclass(frozen=True)
class Waits:
    """How long the outbox waits (MESSAGECENTER_*_SECONDS settings)."""

    # A claim older than this belongs to a process that died: back to the queue.
    claim_timeout: timedelta = timedelta(seconds=60)
    # A message handed to the carrier with no outcome after this long is looked up there.
    settle_after: timedelta = timedelta(minutes=2)
    # When the carrier still has no trace after this long, it never took the message.
    give_up_after: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        if min(self.claim_timeout, self.settle_after) <= timedelta(0):
            raise ValueError("outbox waits must be positive")
        if self.give_up_after <= self.settle_after:
            raise ValueError("give_up_after must be longer than settle_after")


@dataclass(frozen=True)
class CallOutcome:
    """What one carrier call proved: taken (`accepted`), certainly not taken (`retry_later`,
    `rejected`), or neither (all None: ambiguous, settled by our id later)."""

    claim: Claimed
    accepted: CarrierAccepted | None = None
    retry_later: CarrierRetryLater | None = None
    rejected: CarrierRejected | None = None
    # Its send slot's second ended before the call: certainly not taken, queued again.
    not_called: bool = False


class _StepFailed(Exception):
    """An outbox step could not commit: hand nothing more over from this batch."""


class Dispatcher:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        carrier: Carrier,
        clock: Clock,
        public_url: str,
        *,
        batch_size: int = 100,
        concurrency: int = 1,
        waits: Waits | None = None,
        rng: random.Random | None = None,
        paced: bool = False,
    ) -> None:
        if concurrency < 1:
            raise ValueError("a dispatcher needs at least one carrier call in flight")
        self._sessions = session_factory
        self._carrier = carrier
        self._clock = clock
        # Where the carrier reports each message's statuses: its own path, our id in it.
        self._callback_url = partial(carrier.status_callback_url, public_url)
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._calls = ThreadPoolExecutor(concurrency, thread_name_prefix="carrier-call")
        self._waits = waits or Waits()
        self._rng = rng or random.Random()
        # Each number at most its rate (MESSAGECENTER_PACE_NUMBERS); off: as fast as the
        # carrier takes them (tests with a frozen clock, benchmarks of the dispatcher alone).
        self._paced = paced
        # Messages a second this dispatcher hands over when it has a full batch (measured;
        # paced claims are sized by it: _claim_limit).
        self._pace: float | None = None

    @property
    def waits(self) -> Waits:
        return self._waits

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Claim one batch and hand it to the carrier, `concurrency` calls in flight; returns
        how many messages were handed over.

        One commit per step records the outcomes of the calls that finished and marks as
        many held messages sending as there are free slots (so a crash leaves at most
        `concurrency` messages to settle by lookup). `stop` is checked before each step: once
        it is set, nothing more is marked, the calls in flight finish and are recorded, and
        the rest of the batch is released to the queue (another process, or the next start,
        sends it)."""
        if stop is not None and stop.is_set():
            return 0
        now = self._clock.now()
        limit = self._claim_limit(now)
        with session_scope(self._sessions) as session:
            waiting = service.claim_due(session, now, limit, self._callback_url, paced=self._paced)
        started, claimed = time.monotonic(), len(waiting)
        waiting.sort(key=_slot_start)  # stable: in a slot's moment, the claim's priority order
        handed_over, halted = 0, False
        in_flight: set[Future[CallOutcome]] = set()
        finished: list[CallOutcome] = []
        try:
            while waiting or in_flight or finished:
                stopping = halted or (stop is not None and stop.is_set())
                now = self._clock.now()
                if waiting and not stopping and waiting[0].slot and waiting[0].slot.ends <= now:
                    waiting = self._release_late(waiting, now)
                free = 0 if stopping else self._concurrency - len(in_flight)
                ready = _count_ready(waiting, now, free)
                group, waiting = waiting[:ready], waiting[ready:]
                try:
                    marked, waiting = self._step(finished, group, waiting)
                except _StepFailed:
                    marked, waiting, halted = [], group + waiting, True
                finished = []
                handed_over += len(marked)
                in_flight |= {self._calls.submit(self._call, claim) for claim in marked}
                next_slot = _slot_start(waiting[0]) if waiting and not halted else None
                if next_slot is not None and next_slot <= self._clock.now():
                    next_slot = None  # may go already: waits only for a free call
                if not in_flight:
                    if stopping:
                        break
                    if next_slot is not None and not marked:  # all wait for their slots
                        self._sleep_until(next_slot, stop)
                    continue
                done = self._wait_for_free_slots(in_flight, next_slot)
                finished = [future.result() for future in done]
                in_flight -= done
        finally:
            # Whatever was not marked sending was never handed over: give it back now rather
            # than after the claim timeout (a stop, or a step that failed).
            self._release(waiting)
        if claimed == limit and handed_over == claimed:  # a full batch: the pace it can go
            sample = handed_over / max(time.monotonic() - started, 1e-3)
            self._pace = sample if self._pace is None else (self._pace + sample) / 2
        return handed_over

    def _claim_limit(self, now: datetime) -> int:
        """How many messages to claim. Paced, no more than this dispatcher hands over, at its
        measured pace, before the clock second ends, and never fewer than its calls in
        flight: a message's slot is in the second of its claim, and a slot not called within
        its second goes back to the queue to be claimed again (a full batch claimed late in a
        second went back half uncalled: pacing cost 10-16 % of the rate)."""
        if not self._paced or self._pace is None:
            return self._batch_size
        left_us = 1_000_000 - now.microsecond
        return max(self._concurrency, min(self._batch_size, int(self._pace * left_us // 1e6)))

    def _release_late(self, waiting: list[Claimed], now: datetime) -> list[Claimed]:
        """Give back the held messages whose slot's second has ended (the dispatcher fell
        behind): a later claim gives them a later slot. Returns the rest."""
        late = [c for c in waiting if c.slot is not None and c.slot.ends <= now]
        self._release(late)
        return [c for c in waiting if c.slot is None or c.slot.ends > now]

    def _sleep_until(self, moment: datetime, stop: threading.Event | None) -> None:
        seconds = (moment - self._clock.now()).total_seconds()
        if seconds <= 0:
            return
        if stop is not None:
            stop.wait(seconds)
        else:
            time.sleep(seconds)

    def _step(
        self, finished: list[CallOutcome], group: list[Claimed], waiting: list[Claimed]
    ) -> tuple[list[Claimed], list[Claimed]]:
        """One commit: record `finished`, mark `group` sending, and renew the holds still
        waiting when they are getting old (each step may take a carrier call's timeout).
        Returns the claims marked and the ones still held. If it fails, the outcomes are
        recorded one by one and _StepFailed says to mark nothing more (all that waits is
        released)."""
        aging = self._holds_aging(waiting)
        if not (finished or group or aging):
            return [], waiting
        now = self._clock.now()
        try:
            with session_scope(self._sessions) as session:
                self._record(session, finished, now)
                marked = service.mark_sending(session, group, now, now + self._waits.settle_after)
                if aging:
                    waiting = service.renew_holds(session, waiting, now)
        except Exception:
            log.exception("an outbox step failed; recording its outcomes one by one")
            for outcome in finished:
                self._record_alone(outcome)
            raise _StepFailed from None
        marked_ids = {claim.message_id for claim in marked}
        for claim in group:
            if claim.message_id not in marked_ids:
                log.warning(
                    "message %s: its hold expired and was released; not sent from here",
                    claim.message_id,
                )
        for claim in marked:
            metrics.dispatched(claim.due_at, now)
        return marked, waiting

    def _wait_for_free_slots(
        self, in_flight: set[Future[CallOutcome]], next_slot: datetime | None
    ) -> set[Future[CallOutcome]]:
        """The calls finished once at least one has and half the slots are free: each step is
        a commit, so a fast carrier gets fewer and larger ones. Returns early, with what has
        finished (maybe nothing), when holds may need renewing or `next_slot` (a held
        message's send slot) starts."""
        done: set[Future[CallOutcome]] = set()
        timeout = self._renew_every()
        if next_slot is not None:
            timeout = max(0.0, min(timeout, (next_slot - self._clock.now()).total_seconds()))
        while not done or len(in_flight) - len(done) > self._concurrency // 2:
            more, _ = wait(in_flight - done, timeout, FIRST_COMPLETED)
            if not more:
                break
            done |= more
        return done

    def _renew_every(self) -> float:
        return self._waits.claim_timeout.total_seconds() / 4

    def _holds_aging(self, waiting: list[Claimed]) -> bool:
        """Whether the oldest hold still waiting is a quarter of the claim timeout old."""
        return bool(waiting) and (
            self._clock.now() - min(c.claimed_at for c in waiting) >= self._waits.claim_timeout / 4
        )

    def _release(self, claims: list[Claimed]) -> None:
        if not claims:
            return
        with session_scope(self._sessions) as session:
            released = service.release_claims(session, claims, self._clock.now())
        log.info("released %d claimed message(s) never handed to the carrier", released)

    def _call(self, claim: Claimed) -> CallOutcome:
        """One carrier call (on a pool thread): what it proved, never an exception. A paced
        message goes no sooner than its slot starts and not at all once its second ended."""
        message_id = claim.message_id
        if claim.slot is not None:
            self._sleep_until(claim.slot.starts, None)
            if self._clock.now() >= claim.slot.ends:
                log.info("message %s: its send slot passed; queued again", message_id)
                return CallOutcome(claim, not_called=True)
        try:
            accepted = self._carrier.send(claim.sms)
        except CarrierRetryLater as exc:
            log.info("message %s: carrier busy (%s); retrying later", message_id, exc.code)
            metrics.send_outcome("retry_later")
            return CallOutcome(claim, retry_later=exc)
        except CarrierRejected as exc:
            metrics.send_outcome("rejected")
            return CallOutcome(claim, rejected=exc)
        except CarrierAmbiguous as exc:
            # Stays sending; its callback or settle_by_lookup decides.
            log.warning("message %s: outcome unknown (%s); will settle by id", message_id, exc)
            metrics.send_outcome("ambiguous")
            return CallOutcome(claim)
        except Exception as exc:  # any other failure (a bug in an adapter, too) is ambiguous
            log.warning("message %s: carrier error %r; will settle by id", message_id, exc)
            metrics.send_outcome("ambiguous")
            return CallOutcome(claim)
        metrics.send_outcome("accepted")
        return CallOutcome(claim, accepted=accepted)

    def _record(self, session: Session, outcomes: list[CallOutcome], at: datetime) -> None:
        """Record what the calls proved: the accepted ones, and those never called, each kind
        in one statement where they can; the rest one by one."""
        accepted = [(o.claim.message_id, o.accepted) for o in outcomes if o.accepted]
        one_by_one = set(service.record_accepted_many(session, accepted, at))
        service.record_not_called(
            session, [o.claim.message_id for o in outcomes if o.not_called], at
        )
        for outcome in outcomes:
            if outcome.not_called:
                continue
            if outcome.accepted is None or outcome.claim.message_id in one_by_one:
                self._record_one(session, outcome, at)

    def _record_alone(self, outcome: CallOutcome) -> None:
        try:
            with session_scope(self._sessions) as session:
                self._record_one(session, outcome, self._clock.now())
        except Exception:  # it stays sending: settled by lookup
            log.exception("message %s: its outcome could not be recorded", outcome.claim.message_id)

    def _record_one(self, session: Session, outcome: CallOutcome, at: datetime) -> None:
        message_id = outcome.claim.message_id
        if outcome.not_called:
            service.record_not_called(session, [message_id], at)
        elif outcome.retry_later is not None:
            service.record_retry_later(
                session, message_id, at, outcome.retry_later.retry_after, self._rng
            )
        elif outcome.rejected is not None:
            rejected = outcome.rejected
            service.record_rejected(session, message_id, rejected.failure, rejected.message, at)
        elif outcome.accepted is not None and not service.record_accepted(
            session, message_id, outcome.accepted, at
        ):  # the carrier gave one sid twice, or a forged callback took it
            log.error(
                "message %s: the carrier took it as %s, which another message holds; "
                "left to settle by id",
                message_id,
                outcome.accepted.carrier_sid,
            )

    def release_expired_claims(self) -> int:
        """Send claims left by a process that died back to the queue (never handed over)."""
        now = self._clock.now()
        with session_scope(self._sessions) as session:
            released = service.release_expired_claims(session, now - self._waits.claim_timeout, now)
        if released:
            log.warning("%d expired claim(s) went back to the queue", released)
        return released

    def settle_by_lookup(self, stop: threading.Event | None = None) -> int:
        """Settle messages handed to the carrier but left without an outcome (an ambiguous
        answer, a process that died mid-call), by asking the carrier: at most a batch per
        pass, each when its next lookup is due (service.due_lookups backs off). Returns how
        many were settled (found, or given up)."""
        now = self._clock.now()
        waits = self._waits
        with session_scope(self._sessions) as session:
            due = service.due_lookups(
                session, now, waits.settle_after, waits.give_up_after, self._batch_size
            )
            pending = [
                (m.id, service.outbound_sms(m, self._callback_url), m.claimed_at) for m in due
            ]
        settled = 0
        for message_id, sms, attempted_at in pending:
            if stop is not None and stop.is_set():
                break  # its next lookup is already set: another pass asks
            assert attempted_at is not None  # a sending message's claimed_at is its call
            overdue = now - attempted_at >= waits.give_up_after
            try:
                candidates = self._carrier.find_sent(sms, attempted_at)
            except CarrierRetryLater as exc:  # unreachable (or our credentials): ask later
                log.warning("message %s: could not ask the carrier (%s)", message_id, exc)
                continue
            except CarrierError as exc:
                if not overdue:
                    log.warning("message %s: could not ask the carrier (%s)", message_id, exc)
                    continue
                # The carrier answers but cannot tell: waiting longer would never end.
                log.error(
                    "message %s: the carrier cannot say whether it took it (%s); given up",
                    message_id,
                    exc,
                )
                candidates = []
            with session_scope(self._sessions) as session:
                # A candidate another of our messages already holds is that one's twin.
                if any(
                    service.record_accepted(session, message_id, c, now, from_lookup=True)
                    for c in candidates
                ):
                    settled += 1
                elif overdue:
                    service.record_rejected(session, message_id, None, UNCONFIRMED_REASON, now)
                    settled += 1
        return settled


def _slot_start(claim: Claimed) -> datetime:
    return claim.slot.starts if claim.slot is not None else _UNPACED


def _count_ready(waiting: list[Claimed], now: datetime, free: int) -> int:
    """How many of the first `free` held messages (in slot order) may be handed over now:
    those whose slot starts within READY_AHEAD (the call itself waits for the slot's start,
    _call), so the slots of a second go in a few large steps, not one commit per slot."""
    ready, horizon = 0, now + READY_AHEAD
    while ready < min(free, len(waiting)) and _slot_start(waiting[ready]) <= horizon:
        ready += 1
    return ready


READY_AHEAD = timedelta(milliseconds=50)


_UNPACED = datetime.min.replace(tzinfo=UTC)  # an unpaced message may go at once

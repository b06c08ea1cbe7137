"""The dispatcher: claims due messages from the outbox, calls the carrier, records the result.

Never sends twice: each message is marked "sending" (committed) just before its carrier call,
a message goes back to the outbox only when the carrier certainly did not take it, and an
ambiguous outcome (timeout, 5xx, a crash during the call) is settled by our own id (the status
callback, or asking the carrier), never by sending again.

Never loses one: a claim alone proves nothing was sent, so held messages that were never
marked go back to the queue: at once when the dispatcher stops, or when their hold expires
(the process died). Only a message marked "sending" (or "claimed" by a dispatcher from before
migration 0006) is ever settled by lookup.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from sqlalchemy.orm import Session, sessionmaker

from messagecenter import metrics
from messagecenter.carriers.base import (
    Carrier,
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


class Dispatcher:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        carrier: Carrier,
        clock: Clock,
        public_url: str,
        *,
        batch_size: int = 20,
        waits: Waits | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = session_factory
        self._carrier = carrier
        self._clock = clock
        # Where the carrier reports each message's statuses: its own path, our id in it.
        self._callback_url = partial(carrier.status_callback_url, public_url)
        self._batch_size = batch_size
        self._waits = waits or Waits()
        self._rng = rng or random.Random()

    @property
    def waits(self) -> Waits:
        return self._waits

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Claim one batch and dispatch it; returns how many messages were handed over.

        `stop` is checked before each message: once it is set, the messages not yet handed
        over are released to the queue (another process, or the next start, sends them)."""
        if stop is not None and stop.is_set():
            return 0
        with session_scope(self._sessions) as session:
            claimed = service.claim_due(
                session, self._clock.now(), self._batch_size, self._callback_url
            )
        handled = 0
        waiting = claimed
        try:
            while waiting:
                if stop is not None and stop.is_set():
                    break
                item, rest = waiting[0], waiting[1:]
                handled += 1
                try:
                    waiting = self._dispatch(item, rest)
                except Exception:  # one bad message must not strand the rest of the batch
                    log.exception("message %s: dispatch failed", item.message_id)
                    waiting = rest
        finally:
            # Whatever was not marked sending was never handed over: give it back now rather
            # than after the claim timeout (a stop, or an error outside one message).
            self._release(waiting)
        return handled

    def _release(self, claims: list[Claimed]) -> None:
        if not claims:
            return
        with session_scope(self._sessions) as session:
            released = service.release_claims(session, claims, self._clock.now())
        log.info("released %d claimed message(s) never handed to the carrier", released)

    def _dispatch(self, item: Claimed, rest: list[Claimed]) -> list[Claimed]:
        """Hand one held message to the carrier; returns the rest of the batch still held,
        their holds renewed in the same commit (each call may take the carrier's timeout)."""
        now = self._clock.now()
        with session_scope(self._sessions) as session:
            ours = service.mark_sending(session, item, now, now + self._waits.settle_after)
            rest = service.renew_holds(session, rest, now)
        if not ours:
            log.warning(
                "message %s: its hold expired and was released; not sent from here",
                item.message_id,
            )
            return rest
        metrics.dispatched(item.due_at, now)
        self._call(item)
        return rest

    def _call(self, item: Claimed) -> None:
        try:
            accepted = self._carrier.send(item.sms)
        except CarrierRetryLater as exc:
            log.info("message %s: carrier busy (%s); retrying later", item.message_id, exc.code)
            metrics.send_outcome("retry_later")
            with session_scope(self._sessions) as session:
                service.record_retry_later(
                    session, item.message_id, self._clock.now(), exc.retry_after, self._rng
                )
            return
        except CarrierRejected as exc:
            metrics.send_outcome("rejected")
            with session_scope(self._sessions) as session:
                service.record_rejected(
                    session, item.message_id, exc.failure, exc.message, self._clock.now()
                )
            return
        except CarrierAmbiguous as exc:
            # Stays sending; its callback or settle_by_lookup decides.
            log.warning("message %s: outcome unknown (%s); will settle by id", item.message_id, exc)
            metrics.send_outcome("ambiguous")
            return
        except CarrierError as exc:  # any other carrier failure is treated as ambiguous
            log.warning("message %s: carrier error %s; will settle by id", item.message_id, exc)
            metrics.send_outcome("ambiguous")
            return
        metrics.send_outcome("accepted")
        with session_scope(self._sessions) as session:
            recorded = service.record_accepted(
                session, item.message_id, accepted, self._clock.now()
            )
        if not recorded:  # the carrier gave one sid twice, or a forged callback took it
            log.error(
                "message %s: the carrier took it as %s, which another message holds; "
                "left to settle by id",
                item.message_id,
                accepted.carrier_sid,
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

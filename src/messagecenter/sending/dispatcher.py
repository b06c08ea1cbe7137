"""The dispatcher: claims due messages from the outbox, calls the carrier, records the result.

Never sends twice: the claim is committed before the carrier is called, a message goes back to
the outbox only when the carrier certainly did not take it, and an ambiguous outcome (timeout,
5xx, a crash after the call) is settled by our own id (the status callback, or asking the
carrier), never by sending again.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

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

STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
# A claim with no outcome after this long is settled by asking the carrier.
SETTLE_AFTER = timedelta(minutes=2)
# When the carrier still has no trace after this long, it never took the message.
GIVE_UP_AFTER = timedelta(minutes=15)
UNCONFIRMED_REASON = (
    "The carrier never confirmed this message; it was not sent again to avoid a duplicate."
)


class Dispatcher:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        carrier: Carrier,
        clock: Clock,
        public_url: str,
        *,
        batch_size: int = 20,
        rng: random.Random | None = None,
    ) -> None:
        self._sessions = session_factory
        self._carrier = carrier
        self._clock = clock
        self._callback_url = public_url.rstrip("/") + STATUS_CALLBACK_PATH
        self._batch_size = batch_size
        self._rng = rng or random.Random()

    def run_once(self) -> int:
        """Claim one batch and dispatch it; returns how many messages were handled."""
        with session_scope(self._sessions) as session:
            claimed = service.claim_due(
                session, self._clock.now(), self._batch_size, self._callback_url
            )
        for item in claimed:
            try:
                self._dispatch(item)
            except Exception:  # one bad message must not strand the rest of the batch
                log.exception("message %s: dispatch failed; it stays claimed", item.message_id)
        return len(claimed)

    def _dispatch(self, item: Claimed) -> None:
        try:
            accepted = self._carrier.send(item.sms)
        except CarrierRetryLater as exc:
            log.info("message %s: carrier busy (%s); retrying later", item.message_id, exc.code)
            with session_scope(self._sessions) as session:
                service.record_retry_later(
                    session, item.message_id, self._clock.now(), exc.retry_after, self._rng
                )
            return
        except CarrierRejected as exc:
            with session_scope(self._sessions) as session:
                service.record_rejected(
                    session, item.message_id, exc.code, exc.message, self._clock.now()
                )
            return
        except CarrierAmbiguous as exc:
            # Stays claimed; its callback or settle_stale_claims decides.
            log.warning("message %s: outcome unknown (%s); will settle by id", item.message_id, exc)
            return
        except CarrierError as exc:  # any other carrier failure is treated as ambiguous
            log.warning("message %s: carrier error %s; will settle by id", item.message_id, exc)
            return
        with session_scope(self._sessions) as session:
            service.record_accepted(session, item.message_id, accepted, self._clock.now())

    def settle_stale_claims(self) -> int:
        """Settle claims left without an outcome (ambiguous replies, a crashed dispatcher)."""
        now = self._clock.now()
        with session_scope(self._sessions) as session:
            stale = service.stale_claims(session, now - SETTLE_AFTER, self._batch_size)
            pending = [
                (m.id, service.outbound_sms(m, self._callback_url), m.claimed_at) for m in stale
            ]
        settled = 0
        for message_id, sms, claimed_at in pending:
            try:
                found = self._carrier.find_sent(sms)
            except CarrierError as exc:
                log.warning("message %s: could not ask the carrier (%s)", message_id, exc)
                continue
            with session_scope(self._sessions) as session:
                if found is not None and service.record_accepted(session, message_id, found, now):
                    settled += 1
                elif claimed_at is not None and now - claimed_at >= GIVE_UP_AFTER:
                    service.record_rejected(session, message_id, None, UNCONFIRMED_REASON, now)
                    settled += 1
        return settled

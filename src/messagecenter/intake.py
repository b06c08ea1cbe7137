"""Where texts and status reports from any carrier enter.

On PostgreSQL, Twilio's inbound webhook only queues the text (`enqueue_inbound`: one
idempotent insert, so it answers about as fast as a bare insert and nothing sent is lost), and
the workers of every process drain the queue in batches (`process_queued`). On SQLite there is
one process, where a queue would only add work, so the webhook processes the text at once
(`receive_inbound`, also what the simulated carrier calls). Status reports are recorded
straight away.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.carriers.base import InboundSms, StatusReport
from messagecenter.clock import Clock
from messagecenter.conversations import service as conversations
from messagecenter.conversations.service import InboundOutcome
from messagecenter.db import insert_ignore, session_scope
from messagecenter.models import InboundQueueItem
from messagecenter.sending import service as sending

log = logging.getLogger(__name__)

BATCH_SIZE = 100
MAX_ATTEMPTS = 5  # after that a queued text waits for the operator (see last_error)


class Intake:
    def __init__(
        self, session_factory: sessionmaker[Session], clock: Clock, *, queue_inbound: bool
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self.queue_inbound = queue_inbound  # whether the webhook queues texts for the worker

    def receive_inbound(self, inbound: InboundSms) -> InboundOutcome:
        """Process a client's text now, in its own unit of work."""
        try:
            with session_scope(self._sessions) as session:
                return conversations.record_inbound(session, inbound, self._clock.now())
        except conversations.DuplicateDelivery:  # a concurrent twin was stored first
            return InboundOutcome(None, None, duplicate=True)

    def enqueue_inbound(self, inbound: InboundSms) -> bool:
        """Keep a client's text for the worker; False when that sid is already queued."""
        with session_scope(self._sessions) as session:
            new_id = insert_ignore(
                session,
                InboundQueueItem.__table__,  # type: ignore[arg-type]
                {
                    "carrier_sid": inbound.carrier_sid,
                    "from_phone": inbound.from_phone,
                    "to_phone": inbound.to_phone,
                    "body": inbound.body,
                    "media_urls": list(inbound.media_urls),
                    "received_at": self._clock.now(),
                    "attempts": 0,
                },
                ["carrier_sid"],
            )
        return new_id is not None

    def process_queued(self, limit: int = BATCH_SIZE) -> tuple[int, bool]:
        """Process up to `limit` queued texts in one transaction; returns how many, and
        whether any of them queued a reply. If the batch fails, each text is retried alone so
        one bad text cannot hold up the others."""
        try:
            with session_scope(self._sessions) as session:
                # Business by business, so concurrent batches take row locks (conversation,
                # usage, unread counter) in the same order and never deadlock each other.
                items = sorted(_claim(session, limit), key=lambda i: (i.to_phone, i.id))
                outcomes = [
                    conversations.record_inbound(session, _as_inbound(item), item.received_at)
                    for item in items
                ]
                _remove(session, [item.id for item in items])
            return len(items), any(o.replies for o in outcomes)
        except Exception:
            log.warning("a batch of queued texts failed; processing them one by one", exc_info=True)
        return self._process_one_by_one(limit)

    def _process_one_by_one(self, limit: int) -> tuple[int, bool]:
        with session_scope(self._sessions) as session:
            ids = [item.id for item in _claim(session, limit)]
        done, replied = 0, False
        for item_id in ids:
            try:
                with session_scope(self._sessions) as session:
                    item = session.get(InboundQueueItem, item_id)
                    if item is None:
                        continue
                    try:
                        outcome = conversations.record_inbound(
                            session, _as_inbound(item), item.received_at
                        )
                        replied = replied or bool(outcome.replies)
                    except conversations.DuplicateDelivery:
                        pass  # stored by a twin: nothing more to do
                    _remove(session, [item_id])
                done += 1
            except Exception as exc:
                log.exception("queued text %s could not be processed", item_id)
                with session_scope(self._sessions) as session:
                    session.execute(
                        update(InboundQueueItem)
                        .where(InboundQueueItem.id == item_id)
                        .values(attempts=InboundQueueItem.attempts + 1, last_error=repr(exc)[:2000])
                    )
        return done, replied

    def receive_status(self, report: StatusReport) -> bool:
        with session_scope(self._sessions) as session:
            return sending.record_status(session, report, self._clock.now())


def _claim(session: Session, limit: int) -> list[InboundQueueItem]:
    # SKIP LOCKED: several worker processes share the queue on PostgreSQL.
    return list(
        session.scalars(
            select(InboundQueueItem)
            .where(InboundQueueItem.attempts < MAX_ATTEMPTS)
            .order_by(InboundQueueItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def _remove(session: Session, ids: list[int]) -> None:
    if ids:
        session.execute(delete(InboundQueueItem).where(InboundQueueItem.id.in_(ids)))


def _as_inbound(item: InboundQueueItem) -> InboundSms:
    return InboundSms(
        item.carrier_sid, item.from_phone, item.to_phone, item.body, list(item.media_urls or [])
    )

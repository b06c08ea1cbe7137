"""Where the texts from any carrier enter.

Every inbound text takes one path, whichever carrier brought it: Twilio's webhook hands its
text to `accept_inbound`, the simulated carrier's phone to `accept_inbound_sync` (the same from
a plain thread). Both write the texts that arrive together at once (see intake/batching.py)
and answer only after the commit. On PostgreSQL that write only queues the texts (one
idempotent multi-row insert, so it costs about what a bare insert does and nothing sent is
lost; the webhook's on the event loop, intake/queue.py) and the workers of every process drain
the queue in batches (`process_queued`). On SQLite there is one process, where a queue would
only add work, so the texts are processed at once (`receive_inbound_batch`). Status reports go
to sending/reports.py (group-committed the same way).

Nothing a carrier sends is refused or lost for its content: a NUL character (which PostgreSQL
cannot store) becomes U+FFFD and the message keeps the fact (`body_had_nul`). A text is routed
by its To alone, whatever its sender: a channel address such as `whatsapp:+447700900123` is a
conversation with an unidentified contact like any other. Only a From or To longer than the
phone columns (64, more than any address Twilio sends) is kept with the unrouted texts, as
sent, with a warning: it could not be stored as a message. A queued text
that fails MAX_ATTEMPTS times is parked for the operator: an ERROR in the log, and
`messagecenter inbound parked [--retry]`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import String
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.carriers.base import InboundSms
from messagecenter.clock import Clock
from messagecenter.db import session_scope
from messagecenter.intake import queries, record
from messagecenter.intake.batching import Batcher, each_alone_if_the_batch_fails
from messagecenter.intake.queue import (
    WEBHOOK_BATCH_SIZE,
    QueueWriter,
    queue_rows,
    text_name,
    which_new,
    without_nul,
)
from messagecenter.intake.record import DuplicateDelivery, InboundOutcome
from messagecenter.models import (
    ConsentRecord,
    Conversation,
    InboundQueueItem,
    Message,
    PhoneConsent,
)
from messagecenter.sms.keywords import may_be_keyword
from messagecenter.sms.segments import normalize_newlines

log = logging.getLogger(__name__)

BATCH_SIZE = 100
MAX_ATTEMPTS = 5  # after that a queued text is parked for the operator (see last_error)


class Processed(NamedTuple):
    """What a pass over the queued texts did."""

    texts: int  # recorded (or found already recorded)
    replied: bool  # some queued a reply: the outbox has work
    for_endpoints: bool  # some went to a business with webhook endpoints: deliveries may be due


def _phone_length() -> int:
    """The longest sender or number a conversation, its messages and its consent can hold
    (E.164 needs 16, a WhatsApp address 25; see CARRIER_PHONE_LENGTH)."""
    columns = (
        Conversation.__table__.c.phone,
        Message.__table__.c.from_phone,
        Message.__table__.c.to_phone,
        PhoneConsent.__table__.c.phone,
        ConsentRecord.__table__.c.phone,
    )
    lengths = [column.type.length for column in columns if isinstance(column.type, String)]
    return min(length for length in lengths if length is not None)


PHONE_LENGTH = _phone_length()


class Intake:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        clock: Clock,
        *,
        queue_inbound: bool,
        queue_writer: QueueWriter | None = None,
    ) -> None:
        self._sessions = session_factory
        self._clock = clock
        self.queue_inbound = queue_inbound  # whether the webhook queues texts for the worker
        # PostgreSQL: the webhook's texts queued on the event loop (intake/queue.py); without
        # it, by the batch thread through the sessions.
        self._queue_writer = queue_writer
        self._webhook_batches: Batcher[InboundSms, bool] = Batcher(
            self._accept_batch, max_batch=WEBHOOK_BATCH_SIZE, name="intake"
        )

    async def accept_inbound(self, inbound: InboundSms) -> bool:
        """The inbound webhook's write, committed before this returns: queued on PostgreSQL,
        processed on SQLite. True when the worker has something new to do."""
        if self._queue_writer is not None:
            return await self._queue_writer.submit(inbound)
        return await self._webhook_batches.submit(inbound)

    def accept_inbound_sync(self, inbound: InboundSms) -> bool:
        """`accept_inbound` for a plain thread (a sync route): the same batches, the same
        queue. The caller's session must not hold SQLite's one connection meanwhile."""
        return self._webhook_batches.submit_blocking(inbound)

    def close(self) -> None:
        """Finish what was submitted to the batch thread."""
        self._webhook_batches.close()

    async def aclose(self) -> None:
        """Finish every write submitted and close the webhook's connection (the server's
        shutdown, on its event loop)."""
        self.close()
        if self._queue_writer is not None:
            await self._queue_writer.close()

    def _accept_batch(self, inbounds: Sequence[InboundSms]) -> list[bool | Exception]:
        if self.queue_inbound:
            return self.enqueue_inbound_batch(inbounds)
        return [
            outcome if isinstance(outcome, Exception) else bool(outcome.replies)
            for outcome in self.receive_inbound_batch(inbounds)
        ]

    def receive_inbound_batch(
        self, inbounds: Sequence[InboundSms]
    ) -> list[InboundOutcome | Exception]:
        """Process texts in one unit of work. If that fails, each text is processed alone, so
        one text that cannot be stored fails only its own request (and Twilio retries it)."""
        return each_alone_if_the_batch_fails(inbounds, self._record, text_name)

    def _record(self, inbounds: Sequence[InboundSms]) -> list[InboundOutcome]:
        try:
            with session_scope(self._sessions) as session:
                now = self._clock.now()
                return _store(session, [(*without_nul(inbound), now) for inbound in inbounds])
        except DuplicateDelivery:  # a concurrent twin was stored first
            if len(inbounds) > 1:
                raise  # each alone will tell which
            return [InboundOutcome(None, None, duplicate=True)]

    def enqueue_inbound(self, inbound: InboundSms) -> bool:
        """Keep a client's text for the worker; False when that sid is already queued."""
        return self._insert_queued([inbound])[0]

    def enqueue_inbound_batch(self, inbounds: Sequence[InboundSms]) -> list[bool | Exception]:
        """Keep texts for the worker in one insert; for each, whether it was new (a sid
        already queued, or twice in this batch, is not). If the insert fails, each text is
        inserted alone and only the one that cannot be stored fails."""
        return each_alone_if_the_batch_fails(inbounds, self._insert_queued, text_name)

    def _insert_queued(self, inbounds: Sequence[InboundSms]) -> list[bool]:
        with session_scope(self._sessions) as session:
            inserted = queries.insert_queued(session, queue_rows(inbounds, self._clock.now()))
        return which_new(inbounds, inserted)

    def process_queued(self, limit: int = BATCH_SIZE) -> Processed:
        """Process up to `limit` queued texts, in arrival order; returns how many, whether
        any of them queued a reply, and whether any went to a business with webhook
        endpoints. If a batch fails, each text is retried alone so one bad text cannot hold
        up the others.

        A transaction ends at a keyword: the texts before it and the keyword are recorded,
        their rows locked in one fixed order (conversations by business and phone, then usage
        and the unread badge by business), and the keyword is answered last; the texts after
        it go in the next transaction. Answered mid-transaction, a keyword let the texts after
        it lock their businesses' rows out of that order, and two workers on PostgreSQL could
        deadlock (one batch stopped, its texts then written one by one)."""
        done, replied, for_endpoints = 0, False, False
        while done < limit:
            try:
                with session_scope(self._sessions) as session:
                    claimed = _claim(session, limit - done)
                    if not claimed:  # nothing queued: no statements for an empty batch
                        break
                    items = _through_first_keyword(claimed)
                    outcomes = _store(session, [_as_received(item) for item in items])
                    _remove(session, [item.id for item in items])
            except Exception:
                log.warning(
                    "a batch of queued texts failed; processing them one by one", exc_info=True
                )
                more = self._process_one_by_one(limit - done)
                return Processed(
                    done + more.texts, replied or more.replied, for_endpoints or more.for_endpoints
                )
            done += len(items)
            replied = replied or any(o.replies for o in outcomes)
            for_endpoints = for_endpoints or any(o.for_endpoints for o in outcomes)
            if len(items) == len(claimed):  # none held back for the next transaction
                break
        return Processed(done, replied, for_endpoints)

    def process_queued_through(self, carrier_sid: str) -> None:
        """Record what is queued, and return only once the text `carrier_sid` is recorded, for
        a caller that shows it next (the simulated phone's page). A worker may have claimed it
        first: its batch is then waited for, as the text is not recorded until it commits."""
        if not self.queue_inbound:
            return  # recorded as it arrived
        self.process_queued()
        with session_scope(self._sessions) as session:
            if queries.wait_for_queued(session, carrier_sid):
                log.warning("queued text %s could not be recorded yet", carrier_sid)

    def _process_one_by_one(self, limit: int) -> Processed:
        with session_scope(self._sessions) as session:
            ids = [item.id for item in _claim(session, limit)]
        done, replied, for_endpoints = 0, False, False
        for item_id in ids:
            try:
                with session_scope(self._sessions) as session:
                    item = session.get(InboundQueueItem, item_id)
                    if item is None:
                        continue
                    try:
                        outcome = _store(session, [_as_received(item)])[0]
                        replied = replied or bool(outcome.replies)
                        for_endpoints = for_endpoints or outcome.for_endpoints
                    except DuplicateDelivery:
                        pass  # stored by a twin: nothing more to do
                    _remove(session, [item_id])
                done += 1
            except Exception as exc:
                log.exception("queued text %s could not be processed", item_id)
                with session_scope(self._sessions) as session:
                    attempts = queries.count_failure(session, item_id, repr(exc)[:2000])
                if attempts is not None and attempts >= MAX_ATTEMPTS:
                    # The worker stops trying: only the operator can bring it back.
                    log.error(
                        "ALERT: queued inbound text %s is parked after %s failed attempts "
                        "(`messagecenter inbound parked` lists it, `--retry` retries it): %r",
                        item_id,
                        attempts,
                        exc,
                    )
        return Processed(done, replied, for_endpoints)


def _claim(session: Session, limit: int) -> list[InboundQueueItem]:
    return queries.claim_queued(session, limit, MAX_ATTEMPTS)


def _remove(session: Session, ids: list[int]) -> None:
    queries.remove_queued(session, ids)


def _through_first_keyword(items: list[InboundQueueItem]) -> list[InboundQueueItem]:
    """The texts up to and including the first that may be a keyword for its business (all
    when none is): whether it is one depends on the business (record.py decides)."""
    for index, item in enumerate(items):
        if may_be_keyword(normalize_newlines(item.body)):
            return items[: index + 1]
    return items


def _as_received(item: InboundQueueItem) -> tuple[InboundSms, bool, datetime]:
    inbound = InboundSms(
        item.carrier_sid, item.from_phone, item.to_phone, item.body, list(item.media_urls or [])
    )
    return inbound, item.body_had_nul, item.received_at


def _store(
    session: Session, texts: Sequence[tuple[InboundSms, bool, datetime]]
) -> list[InboundOutcome]:
    """Record texts (already without NUL) in the caller's transaction, in order: routed by To
    (a text to no active number is unrouted there); one whose sender or number is longer
    than the phone columns, which no carrier address is, kept as unrouted, exactly as sent."""
    routable = [
        index
        for index, (inbound, _, _) in enumerate(texts)
        if len(inbound.from_phone) <= PHONE_LENGTH and len(inbound.to_phone) <= PHONE_LENGTH
    ]
    recorded = record.record_inbound_batch(
        session, [(texts[index][0], texts[index][2]) for index in routable]
    )
    outcomes = dict(zip(routable, recorded, strict=True))
    for index, (inbound, _, at) in enumerate(texts):
        if index not in outcomes:
            outcomes[index] = _keep_unroutable(session, inbound, at)
    queries.flag_nul(session, {inbound.carrier_sid for inbound, had_nul, _ in texts if had_nul})
    return [outcomes[index] for index in range(len(texts))]


def _keep_unroutable(session: Session, inbound: InboundSms, at: datetime) -> InboundOutcome:
    log.warning(
        "inbound text %s: sender %.80r or number %.80r is longer than any carrier address "
        "(%s characters); kept as unrouted",
        inbound.carrier_sid,
        inbound.from_phone,
        inbound.to_phone,
        PHONE_LENGTH,
    )
    return record.record_unrouted(session, inbound, at)


# ---------------------------------------------------------------------------- the operator


def parked_texts(session: Session) -> list[InboundQueueItem]:
    """Queued texts the worker gave up on after MAX_ATTEMPTS, oldest first."""
    return queries.parked(session, MAX_ATTEMPTS)


def retry_parked(session: Session) -> int:
    """Put the parked texts back for the worker (their last error stays until it succeeds);
    how many."""
    return queries.unpark(session, MAX_ATTEMPTS)

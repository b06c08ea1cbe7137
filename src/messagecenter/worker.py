"""The background worker: processes queued client texts, dispatches the outbox, settles
unclear sends and gives the carrier its timer. Runs inside `serve` (always on SQLite) and as
`worker` processes on PostgreSQL."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import Session, sessionmaker

from messagecenter.campaigns import service as campaigns
from messagecenter.carriers.base import Carrier
from messagecenter.clock import Clock
from messagecenter.db import session_scope
from messagecenter.idempotency.service import purge_expired
from messagecenter.intake.service import BATCH_SIZE, Intake
from messagecenter.integrations.delivery import WebhookDeliverer
from messagecenter.integrations.service import purge_delivery_log
from messagecenter.logs import count, run_passes
from messagecenter.sending.dispatcher import Dispatcher
from messagecenter.signin.service import purge_sign_ins

log = logging.getLogger(__name__)


PURGE_EVERY_SECONDS = 300.0  # expired idempotency keys, sign-ins and sessions: this often
# A pass woken only for queued texts looks at the outbox too when its last look is this old.
OUTBOX_LOOK_SECONDS = 0.5
# After a pass that recorded queued texts but less than a full batch (the queue drained while
# texts stream in), the next pass waits this long, so it takes what arrives meanwhile as one
# batch. Passing again at once, each worker recorded a few texts a transaction, and a batch's
# fixed cost (its routes, conversations, usage and badge statements) was paid for each few:
# the full intake on PostgreSQL went from 0.65 to 0.58 ms of server CPU a request with it.
# A text reaches the inbox at most this much later. Not while the outbox is busy: a pass hands
# over one claim (about 60 ms of sending), and a wait after each would slow a bulk send.
GATHER_SECONDS = 0.05
# How long a stopping worker waits for webhook calls in flight; what is left unrecorded comes
# due again when its claim's lease ends (delivered at least once).
WEBHOOK_STOP_WAIT_SECONDS = 5.0


class BackgroundWorker:
    def __init__(
        self,
        intake: Intake,
        dispatcher: Dispatcher,
        carrier: Carrier,
        sessions: sessionmaker[Session],
        clock: Clock,
        webhooks: WebhookDeliverer | None = None,
    ) -> None:
        self._intake = intake
        self._webhooks = webhooks  # outgoing webhooks, delivered in a thread of their own
        self._dispatcher = dispatcher
        self._carrier = carrier
        self._sessions = sessions
        self._clock = clock
        self._wake = threading.Event()
        self._next_purge = 0.0
        # What run_forever's passes owe the outbox (see run_due): woken for it, or when it last
        # had work to do, or when it was last looked at.
        self._outbox_woken = True
        self._outbox_busy = False
        self._next_outbox_look = 0.0
        self._texts_last_pass = 0  # queued texts its last pass recorded

    def wake(self) -> None:
        """Look at the queues now (a text arrived, a message was queued)."""
        self._outbox_woken = True
        self._wake.set()
        if self._webhooks is not None:
            self._webhooks.wake()

    def wake_for_queued_texts(self) -> None:
        """Look at the inbound queue now (PostgreSQL's webhook queued texts). Only this
        worker: the texts' outgoing-webhook events do not exist until they are processed,
        and the pass that processes them wakes the deliverer then, when a business they went
        to has endpoints (woken with each webhook batch, it ran an empty claim per batch: a
        fifth of a loaded process's time; with each processed batch, 5% of it)."""
        self._wake.set()

    def run_once(self, stop: threading.Event | None = None, *, outbox: bool = True) -> int:
        """One pass over everything; returns how much work it found. Once `stop` is set it
        starts nothing more: no queued text, claim or lookup (and the dispatcher hands over
        nothing more it had claimed); another process, or the next start, carries on.
        `outbox=False`: the queued texts only, and the outbox too if they queued a reply."""

        if _stopping(stop):
            return 0
        texts, replied, for_endpoints = self._intake.process_queued()
        self._texts_last_pass = texts
        count(texts_processed=texts)
        if for_endpoints and self._webhooks is not None:
            self._webhooks.wake()  # their message.received deliveries are committed
        if _stopping(stop):  # a batch of texts may take a while: stop before the outbox, too
            return texts
        if not (outbox or replied):
            return texts
        return texts + self._outbox_pass(stop, replied)

    def _outbox_pass(self, stop: threading.Event | None, replied: bool) -> int:
        """The rest of a pass: scheduled sends, the outbox, settling, the carrier's timer and
        the purges; how much work it found."""
        self._outbox_woken = False  # a wake from here on is for the next pass
        self._next_outbox_look = time.monotonic() + OUTBOX_LOOK_SECONDS
        scheduled = self._send_scheduled()  # its texts go out in this pass
        count(expired_claims_released=self._dispatcher.release_expired_claims())
        sent = self._dispatcher.run_once(stop)
        if replied:
            sent += self._dispatcher.run_once(stop)
        count(messages_handed_over=sent)
        self._outbox_busy = bool(sent or scheduled)
        if _stopping(stop):
            return sent + scheduled
        count(settled_by_lookup=self._dispatcher.settle_by_lookup(stop))
        self._carrier.tick()
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
            with session_scope(self._sessions) as session:
                purge_expired(session, self._clock.now())
            with session_scope(self._sessions) as session:  # apart from any sign-in's
                purge_sign_ins(session, self._clock.now())
            with session_scope(self._sessions) as session:
                purge_delivery_log(session, self._clock.now())
        return sent + scheduled

    def run_due(self, stop: threading.Event) -> int:
        """run_forever's pass. The outbox part only when there may be something for it: a
        wake() (a message was queued here), work found by its last look (a batch may follow),
        or OUTBOX_LOOK_SECONDS since that look (what came due, or was queued by another
        process). Under a stream of inbound texts on PostgreSQL, each wake_for_queued_texts
        ran it all: seven transactions of lookups per batch of texts, finding nothing. A pass
        that drained the queue of a part batch, with nothing to send, waits GATHER_SECONDS
        before the next."""
        outbox = (
            self._outbox_woken or self._outbox_busy or time.monotonic() >= self._next_outbox_look
        )
        found = self.run_once(stop, outbox=outbox)
        texts_only = not self._outbox_busy  # its last look found nothing to send
        if texts_only and 0 < self._texts_last_pass < BATCH_SIZE:  # drained while texts stream in
            stop.wait(GATHER_SECONDS)
        return found

    def _send_scheduled(self) -> int:
        """The due scheduled send, if any. One that fails is logged and left: the outbox
        still goes this pass (a scheduled send never holds up anyone's messages)."""
        try:
            with session_scope(self._sessions) as session:
                started = campaigns.send_due(session, self._clock.now())
        except Exception:
            log.exception("a scheduled send failed; it is tried again next pass")
            return 0
        count(scheduled_sends_started=started)
        return started

    def run_forever(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        log.info("background worker started (carrier: %s)", self._carrier.name)
        webhooks = None
        if self._webhooks is not None:  # beside the outbox: a slow endpoint delays no message
            webhooks = threading.Thread(
                target=self._webhooks.run_forever, args=(stop,), name="webhooks", daemon=True
            )
            webhooks.start()
        run_passes("worker pass", self.run_due, stop, self._wake, poll_seconds, log)
        if webhooks is not None:  # its calls in flight end within their timeout
            webhooks.join(timeout=WEBHOOK_STOP_WAIT_SECONDS)
        log.info("background worker stopped")


def _stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()

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
from messagecenter.intake.service import Intake
from messagecenter.integrations.delivery import WebhookDeliverer
from messagecenter.integrations.service import purge_delivery_log
from messagecenter.logs import count, run_passes
from messagecenter.sending.dispatcher import Dispatcher
from messagecenter.signin.service import purge_sign_ins

log = logging.getLogger(__name__)


PURGE_EVERY_SECONDS = 300.0  # expired idempotency keys, sign-ins and sessions: this often
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

    def wake(self) -> None:
        """Look at the queues now (a text arrived, a message was queued)."""
        self._wake.set()
        if self._webhooks is not None:
            self._webhooks.wake()

    def wake_for_queued_texts(self) -> None:
        """Look at the inbound queue now (PostgreSQL's webhook queued texts). Only this
        worker: the texts' outgoing-webhook events do not exist until they are processed,
        and the pass that processes them wakes the deliverer then (woken with each webhook
        batch, it ran an empty claim per batch: a fifth of a loaded process's time)."""
        self._wake.set()

    def run_once(self, stop: threading.Event | None = None) -> int:
        """One pass over everything; returns how much work it found. Once `stop` is set it
        starts nothing more: no queued text, claim or lookup (and the dispatcher hands over
        nothing more it had claimed); another process, or the next start, carries on."""

        def stopping() -> bool:
            return stop is not None and stop.is_set()

        if stopping():
            return 0
        texts, replied = self._intake.process_queued()
        if texts and self._webhooks is not None:
            self._webhooks.wake()  # their message.received deliveries, if any, are committed
        if stopping():  # a batch of texts may take a while: stop before the outbox, too
            return texts
        scheduled = self._send_scheduled()  # its texts go out in this pass
        count(expired_claims_released=self._dispatcher.release_expired_claims())
        sent = self._dispatcher.run_once(stop)
        if replied:
            sent += self._dispatcher.run_once(stop)
        count(texts_processed=texts, messages_handed_over=sent)
        if stopping():
            return texts + sent + scheduled
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
        return texts + sent + scheduled

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
        run_passes("worker pass", self.run_once, stop, self._wake, poll_seconds, log)
        if webhooks is not None:  # its calls in flight end within their timeout
            webhooks.join(timeout=WEBHOOK_STOP_WAIT_SECONDS)
        log.info("background worker stopped")

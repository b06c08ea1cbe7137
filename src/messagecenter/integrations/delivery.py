"""The worker's webhook deliveries: claim what is due, POST it signed, record the outcome.

At least once, never lost: a claim is committed before the POST and lasts a lease (the
delivery's next_attempt_at is pushed that far ahead); the outcome is recorded after the POST,
outside any transaction while it runs. A process killed mid-delivery leaves its claims to
come due again when their lease ends, and another pass delivers them (with the same event id,
by which receivers de-duplicate).

Nobody waits on a slow endpoint: deliveries run in their own thread beside the outbox, a
bounded pool of calls with a short timeout, and one endpoint's deliveries of a pass share one
slot in order; after a failure (or once its time budget is spent) the rest of them wait for
the next attempt instead of each timing out in turn.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.clock import Clock
from messagecenter.db import session_scope
from messagecenter.integrations import queries
from messagecenter.integrations.signing import signed_headers
from messagecenter.integrations.targets import (
    Resolver,
    TargetRefused,
    check_target,
    system_resolver,
)
from messagecenter.logs import count, run_passes
from messagecenter.models.webhook import DELIVERY_CANCELLED, DELIVERY_DELIVERED, DELIVERY_FAILED

log = logging.getLogger(__name__)

USER_AGENT = "MessageCenter-Webhooks/1"
ERROR_CHARACTERS = 500  # of an error kept in the log
# One endpoint's share of a pass's claims: a long backlog at one endpoint leaves room for
# every other endpoint's deliveries in the same pass.
PER_ENDPOINT_PER_PASS = 5


@dataclass(frozen=True)
class Backoff:
    """Wait before attempt n+1 after n failed: min(base * 2^(n-1), cap), full jitter over its
    upper half (so retries from many deliveries spread out)."""

    base: timedelta = timedelta(seconds=10)
    cap: timedelta = timedelta(hours=1)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        ceiling: timedelta = min(self.base * 2 ** max(0, attempts - 1), self.cap)
        return ceiling * rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    endpoint_id: int
    event_id: str
    body: str
    url: str
    secret: str
    claimed_at: datetime


@dataclass(frozen=True)
class Outcome:
    status_code: int | None  # the endpoint's answer; None when there was none
    error: str | None  # None: delivered (2xx)

    @property
    def delivered(self) -> bool:
        return self.error is None


class WebhookDeliverer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        timeout: float = 10.0,
        allow_private: bool = False,
        concurrency: int = 8,
        batch_size: int = 50,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        resolve: Resolver = system_resolver,
        transport: httpx.BaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._timeout = timeout
        self._allow_private = allow_private
        self._batch_size = batch_size
        self._backoff = backoff or Backoff()
        self._rng = rng or random.Random()
        self._resolve = resolve
        self._monotonic = monotonic
        # One endpoint's share of a pass: past it, its remaining claims wait for the next.
        self._budget = 2 * timeout
        # The latest a call may start after its claim, so that it ends inside the lease.
        self._start_within = timedelta(seconds=self._budget + 5)
        # A claim outlives the longest it can be held: the budget, then one more call
        # (connect, send and answer may each take the timeout), and a margin.
        self.lease = timedelta(seconds=self._budget + 3 * timeout + 10)
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="webhook")
        self._transport = transport
        self._client: httpx.Client | None = None  # made on first use (an SSL context)
        self._client_lock = threading.Lock()
        self._wake = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._client is not None:
            self._client.close()

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(self._timeout),
                    # A new connection each time: pooled ones are keyed by address, and two
                    # host names at one address must not share one (its TLS name).
                    limits=httpx.Limits(max_keepalive_connections=0),
                    follow_redirects=False,
                    transport=self._transport,
                    headers={"user-agent": USER_AGENT},
                    trust_env=False,  # never through a proxy from the environment
                )
            return self._client

    # -------------------------------------------------------------------------- one pass

    def run_once(self, stop: threading.Event | None = None) -> int:
        """Claim one batch of due deliveries and attempt them; returns how many were
        attempted. Bounded: each endpoint gets one slot of the pool and a time budget."""
        if stop is not None and stop.is_set():
            return 0
        claims = self.claim()
        if not claims:
            return 0
        by_endpoint: dict[int, list[Claim]] = {}
        for claim in claims:
            by_endpoint.setdefault(claim.endpoint_id, []).append(claim)
        futures = [
            self._pool.submit(self._deliver_in_order, group, stop) for group in by_endpoint.values()
        ]
        attempted = sum(future.result() for future in futures)
        count(webhooks_claimed=len(claims), webhooks_attempted=attempted)
        return attempted

    def claim(self) -> list[Claim]:
        at = self._clock.now()
        with session_scope(self._sessions) as session:
            due = queries.lock_due(session, at, self._batch_size, PER_ENDPOINT_PER_PASS)
            claims = []
            for row in due:
                delivery = row.delivery
                if row.endpoint_deleted:  # raced its endpoint's deletion: never sent
                    delivery.state = DELIVERY_CANCELLED
                    delivery.next_attempt_at = None
                    continue
                delivery.attempts += 1
                delivery.claimed_at = at
                delivery.last_attempt_at = at
                delivery.next_attempt_at = at + self.lease  # the lease
                claims.append(
                    Claim(
                        delivery.id,
                        delivery.endpoint_id,
                        delivery.event_id,
                        delivery.body,
                        row.url,
                        row.secret,
                        at,
                    )
                )
        return claims

    def _deliver_in_order(self, claims: Sequence[Claim], stop: threading.Event | None) -> int:
        started = self._monotonic()
        attempted = 0
        for index, claim in enumerate(claims):
            stopping = stop is not None and stop.is_set()
            late = self._clock.now() > claim.claimed_at + self._start_within
            if stopping or late or self._monotonic() - started > self._budget:
                self._release(claims[index:], self._clock.now())
                break
            try:
                outcome = self.post(claim)
            except Exception as exc:  # a bug, not the endpoint: keep the pass going
                log.exception("webhook delivery %s failed unexpectedly", claim.delivery_id)
                outcome = Outcome(None, f"internal error: {type(exc).__name__}")
            attempted += 1
            retry_at = self._record(claim, outcome)
            if not outcome.delivered:
                # The endpoint is failing: its other deliveries wait with this one.
                self._release(claims[index + 1 :], retry_at or self._clock.now())
                break
        return attempted

    def post(self, claim: Claim) -> Outcome:
        """One signed POST to the checked address; no transaction is open meanwhile."""
        try:
            target = check_target(
                claim.url, allow_private=self._allow_private, resolve=self._resolve
            )
        except TargetRefused as refused:
            return Outcome(None, f"refused: {refused}")
        timestamp = int(self._clock.now().timestamp())
        headers = signed_headers(claim.secret, claim.event_id, timestamp, claim.body)
        headers["host"] = target.host_header()
        extensions = {}
        if target.url.lower().startswith("https:"):
            extensions["sni_hostname"] = target.host  # TLS checks the name, not the address
        code = 0
        unreachable = Outcome(None, "no address to connect to")
        timed_out = Outcome(None, f"timed out after {self._timeout:g} s")
        for address in target.addresses:
            # httpx's timeout bounds each read, not the call: an endpoint that trickles its
            # answer a byte at a time would hold this thread (and the pass) without end. The
            # watchdog cuts the connection when the call as a whole outlives the timeout.
            watchdog = _Watchdog(self._timeout)
            try:
                with self._http().stream(
                    "POST",
                    target.pinned_url(address),
                    content=claim.body.encode(),
                    headers=headers,
                    extensions={**extensions, "trace": watchdog.trace},
                ) as response:
                    code = response.status_code  # the body is never read
                break
            except httpx.ConnectError as exc:  # refused, unreachable: the next address
                if watchdog.fired:
                    return timed_out
                error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARACTERS]
                unreachable = Outcome(None, error)
            except httpx.TimeoutException:
                return timed_out
            except httpx.HTTPError as exc:
                if watchdog.fired:
                    return timed_out
                return Outcome(None, f"{type(exc).__name__}: {exc}"[:ERROR_CHARACTERS])
            finally:
                watchdog.cancel()
        else:
            return unreachable
        if 200 <= code < 300:
            return Outcome(code, None)
        return Outcome(code, f"answered HTTP {code}")

    def _record(self, claim: Claim, outcome: Outcome) -> datetime | None:
        """The outcome, under the claim that made it; returns when the next attempt is due
        (None: delivered, given up, or the claim was no longer ours)."""
        at = self._clock.now()
        with session_scope(self._sessions) as session:
            delivery = queries.locked_claim(session, claim.delivery_id, claim.claimed_at)
            if delivery is None:
                return None  # cancelled, sent again, or the lease ran out and another took it
            delivery.claimed_at = None
            delivery.last_status_code = outcome.status_code
            if outcome.delivered:
                delivery.state = DELIVERY_DELIVERED
                delivery.delivered_at = at
                delivery.last_error = None
                delivery.next_attempt_at = None
                return None
            delivery.last_error = (outcome.error or "")[:ERROR_CHARACTERS]
            if at >= delivery.give_up_at:
                delivery.state = DELIVERY_FAILED
                delivery.next_attempt_at = None
                return None
            retry_at = min(
                at + self._backoff.delay(delivery.attempts, self._rng), delivery.give_up_at
            )
            delivery.next_attempt_at = retry_at
            return retry_at

    def _release(self, claims: Sequence[Claim], due_at: datetime) -> None:
        """Claims never attempted: not counted, due again at `due_at`."""
        if not claims:
            return
        with session_scope(self._sessions) as session:
            # In id order, as cancel_pending locks them (no deadlock with a delete).
            for claim in sorted(claims, key=lambda c: c.delivery_id):
                delivery = queries.locked_claim(session, claim.delivery_id, claim.claimed_at)
                if delivery is not None:
                    delivery.attempts -= 1
                    delivery.claimed_at = None
                    delivery.next_attempt_at = due_at

    # ---------------------------------------------------------------------- its own thread

    def run_forever(self, stop: threading.Event, poll_seconds: float = 1.0) -> None:
        """Pass after pass until `stop`; beside the outbox, so a slow endpoint delays no
        message."""
        run_passes("webhook pass", self.run_once, stop, self._wake, poll_seconds, log)


class _Watchdog:
    """Shuts the socket of one call down once `seconds` have passed since it started, so a
    blocked read ends (httpx then raises, and `fired` says why). The socket comes from
    httpcore's trace of the TCP connect."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def trace(self, event_name: str, info: dict[str, Any]) -> None:
        if event_name == "connection.connect_tcp.complete":
            stream = info.get("return_value")
            sock = stream.get_extra_info("socket") if stream is not None else None
            if isinstance(sock, socket.socket):
                with self._lock:
                    self._sockets.append(sock)
                    if self.fired:  # connected just as the time ran out
                        _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            for sock in self._sockets:
                _shut(sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)

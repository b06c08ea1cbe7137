"""Prometheus metrics (`GET /metrics`): what an operator of the service looks at first.

Counters and the histogram are counted in the process where the event happens. With several
processes on one machine (`serve --workers N`, uvicorn's worker processes behind one port)
prometheus_client's multiprocess mode keeps each process's values in files under
PROMETHEUS_MULTIPROC_DIR, and a scrape sums all of them: the answer does not depend on which
process takes it. The mode is fixed when prometheus_client is first imported, from that
variable: `serve --workers N` sets it (a private directory per run) before its processes start.

The outbox, inbound queue and parked figures are database state, read at scrape time with
queries that the partial indexes of `models/message.py` answer (the inbound queue is a
transient table): every process, on any machine, reports the same truth.

Access: with MESSAGECENTER_METRICS_TOKEN set, a matching `Authorization: Bearer` token;
unset, only clients connected over loopback (the connection's own address: a forwarded-for
header names no one we can check).
"""

from __future__ import annotations

import atexit
import hmac
import ipaddress
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement, TextClause
from sqlalchemy.sql.selectable import ScalarSelect
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from messagecenter.clock import Clock
from messagecenter.models import InboundQueueItem, Message

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# What this process counts. Never scraped directly in multiprocess mode: there the values
# live in the directory's files, which MultiProcessCollector reads for every process at once.
_PROCESS = CollectorRegistry(auto_describe=True)

INBOUND_TEXTS = Counter(
    "messagecenter_inbound_texts",
    "Inbound texts accepted by the webhook (stored durably and answered 200; a carrier's "
    "retry of a stored text counts again).",
    registry=_PROCESS,
)
STATUS_CALLBACKS = Counter(
    "messagecenter_status_callbacks",
    "Carrier status callbacks received with a valid signature.",
    registry=_PROCESS,
)
SIGNATURE_REFUSALS = Counter(
    "messagecenter_webhook_signature_refusals",
    "Webhooks refused for a bad or missing signature (403).",
    ["webhook"],
    registry=_PROCESS,
)
SENDS = Counter(
    "messagecenter_sends",
    "Carrier calls by outcome: accepted, rejected (refused, units given back), "
    "retry_later (the carrier certainly did not take it), ambiguous (settled by our id).",
    ["outcome"],
    registry=_PROCESS,
)
DISPATCH_LATENCY = Histogram(
    "messagecenter_dispatch_latency_seconds",
    "From a message being due (queued, or its scheduled time) to its hand-over to the carrier.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
    registry=_PROCESS,
)
LIVE_SUBSCRIBERS = Gauge(
    "messagecenter_live_event_subscribers",
    "Open live-event streams (staff pages, API clients), summed over live processes.",
    multiprocess_mode="livesum",
    registry=_PROCESS,
)

WEBHOOKS = ("sms", "status")
OUTCOMES = ("accepted", "rejected", "retry_later", "ambiguous")
# Every label shows from the start (at 0), so a rate() has a series before the first event.
for _webhook in WEBHOOKS:
    SIGNATURE_REFUSALS.labels(_webhook)
for _outcome in OUTCOMES:
    SENDS.labels(_outcome)


# ------------------------------------------------------------------ one-line instrumentation


def inbound_accepted() -> None:
    INBOUND_TEXTS.inc()


def status_callback() -> None:
    STATUS_CALLBACKS.inc()


def signature_refused(path: str) -> None:
    """`path` is the webhook's URL path; its last segment names it (bounded: sms, status)."""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    SIGNATURE_REFUSALS.labels(name if name in WEBHOOKS else "other").inc()


def send_outcome(outcome: str) -> None:
    SENDS.labels(outcome).inc()


def dispatched(due_at: datetime | None, handed_at: datetime) -> None:
    """A message was handed to the carrier; `due_at` is when it became due."""
    if due_at is not None:
        DISPATCH_LATENCY.observe(max(0.0, (handed_at - due_at).total_seconds()))


# ----------------------------------------------------------------------- multiprocess mode


def multiprocess() -> bool:
    """True when this process writes its values to PROMETHEUS_MULTIPROC_DIR (decided when
    prometheus_client was imported): then a scrape must read that directory."""
    return values.ValueClass is not values.MutexValue


def use_private_directory() -> str:
    """Before `serve --workers N` starts its processes: a fresh directory of this run for
    their values (unless the operator set one), removed when this process exits. Spawned
    worker processes inherit the variable and import prometheus_client with it set."""
    configured = os.environ.get(MULTIPROC_VARIABLE)
    if configured:
        os.makedirs(configured, exist_ok=True)
        return configured
    path = tempfile.mkdtemp(prefix="messagecenter-metrics-")
    os.environ[MULTIPROC_VARIABLE] = path
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def process_ended() -> None:
    """This process stops serving: its live gauges leave the sums (counters stay counted)."""
    if multiprocess() and os.environ.get(MULTIPROC_VARIABLE):
        mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


# ------------------------------------------------------------------------ database state

_PENDING = text("dispatch_state = 'pending'")  # as ix_messages_outbox is written (SQLite
_HELD = text("dispatch_state = 'held'")  # uses a partial index only for the literal term)
_UNSETTLED = text("dispatch_state IN ('sending', 'claimed')")


class DatabaseCollector(Collector):
    """The outbox, the inbound queue and parked texts as the database holds them now: one
    round trip of index-backed counts."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, parked_after: int) -> None:
        self._sessions = sessions
        self._clock = clock
        self._parked_after = parked_after  # attempts after which a queued text is parked

    def collect(self) -> Iterator[Metric]:
        now = self._clock.now()

        def count(*where: ColumnElement[bool] | TextClause) -> ScalarSelect[int]:
            return select(func.count()).select_from(Message).where(*where).scalar_subquery()

        queued = select(func.count()).select_from(InboundQueueItem)
        query = select(
            count(_PENDING, Message.next_attempt_at <= now),
            count(_PENDING, Message.next_attempt_at > now),
            count(_HELD),
            count(_UNSETTLED),
            select(func.min(Message.next_attempt_at))
            .where(_PENDING, Message.next_attempt_at <= now)
            .scalar_subquery(),
            queued.where(InboundQueueItem.attempts < self._parked_after).scalar_subquery(),
            queued.where(InboundQueueItem.attempts >= self._parked_after).scalar_subquery(),
        )
        with self._sessions() as session:
            due, scheduled, held, sending, oldest, waiting, parked = session.execute(query).one()
        depth = GaugeMetricFamily(
            "messagecenter_outbox_depth",
            "Outbound messages in the outbox: due (waiting for a dispatcher), scheduled (due "
            "later), held (claimed, not yet handed over), sending (handed over, no outcome yet).",
            labels=["state"],
        )
        for state, value in (
            ("due", due),
            ("scheduled", scheduled),
            ("held", held),
            ("sending", sending),
        ):
            depth.add_metric([state], value)
        yield depth
        age = 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
        yield GaugeMetricFamily(
            "messagecenter_outbox_oldest_due_age_seconds",
            "How long the longest-waiting due message has waited for a dispatcher (0: none).",
            value=age,
        )
        yield GaugeMetricFamily(
            "messagecenter_inbound_queue_depth",
            "Client texts stored by the webhook and waiting to be processed.",
            value=waiting,
        )
        yield GaugeMetricFamily(
            "messagecenter_inbound_parked_texts",
            "Client texts whose processing failed repeatedly, parked for the operator "
            "(`messagecenter inbound parked` lists them, `--retry` replays them).",
            value=parked,
        )


class _ThisProcess(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from _PROCESS.collect()


def render(database: Collector, multiproc_dir: str | None = None) -> bytes:
    """The text exposition: every process's counters (the multiprocess directory's files,
    else this process's own), and the database's state."""
    registry = CollectorRegistry(auto_describe=False)
    directory = multiproc_dir or (os.environ.get(MULTIPROC_VARIABLE) if multiprocess() else None)
    if directory:
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    registry.register(database)
    return generate_latest(registry)


# ------------------------------------------------------------------------------ the route


def is_loopback(host: str | None) -> bool:
    """The connection comes from this machine (127.0.0.0/8, ::1, or IPv4 loopback mapped in
    IPv6). Anything that is not an address (a Unix socket's peer, a test client) is not."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def refusal(request: Request, token: str | None) -> Response | None:
    """Why this request may not read the metrics, as the response to give; None if it may."""
    if token:
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return None
        return PlainTextResponse(
            "Metrics need 'Authorization: Bearer <MESSAGECENTER_METRICS_TOKEN>'.\n",
            401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    if is_loopback(request.client.host if request.client else None):
        return None
    return PlainTextResponse(
        "Metrics answer only clients on this machine (loopback) while "
        "MESSAGECENTER_METRICS_TOKEN is unset: set it and send it as a bearer token.\n",
        403,
    )


def endpoint(
    sessions: sessionmaker[Session], clock: Clock, token: str | None, parked_after: int
) -> Callable[[Request], Awaitable[Response]]:
    """The `GET /metrics` handler for one app."""
    database = DatabaseCollector(sessions, clock, parked_after)

    async def metrics(request: Request) -> Response:
        refused = refusal(request, token)
        if refused is not None:
            return refused
        body = await run_in_threadpool(render, database)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics

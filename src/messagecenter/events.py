"""Live events (new message, status change, unread count, usage warning) for one business.

Events are raised inside a unit of work and leave only when it commits (after zulip's
queue_event_on_commit). On SQLite everything is one process, so they go straight to the
in-process bus. On PostgreSQL they travel by NOTIFY, which the database itself holds back until
commit, and every process LISTENs and hands them to its own subscribers: an event raised where a
webhook landed reaches a browser connected to any other process, with no extra broker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, bindparam, event, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from messagecenter import metrics

log = logging.getLogger(__name__)

CHANNEL = "messagecenter_events"
_PENDING_KEY = "messagecenter_pending_events"
# Every event of a commit in one statement, whatever their number (a bulk send's thousands):
# one array of payloads, so one statement psycopg parses once and PostgreSQL prepares. A
# pg_notify call per event written into the SELECT made each count a new statement.
_NOTIFY_ALL = text(
    "SELECT pg_notify(:channel, payload) FROM unnest(:payloads) AS payload"
).bindparams(bindparam("payloads", type_=postgresql.ARRAY(Text)))
_QUEUE_LIMIT = 1000  # a subscriber that falls this far behind loses events, not the server
# Access to the business's events ended for an API key, a staff member or one web session:
# each stream that holds it closes (web/live.py). For the streams only, never sent to clients.
ACCESS_ENDED = "access.ended"


@dataclass(frozen=True)
class LiveEvent:
    business_id: int
    type: str  # message.created, message.status, unread.changed, usage.warning, ...
    data: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"business_id": self.business_id, "type": self.type, "data": self.data})

    @classmethod
    def from_json(cls, raw: str) -> LiveEvent:
        parsed = json.loads(raw)
        return cls(int(parsed["business_id"]), str(parsed["type"]), dict(parsed["data"]))


def access_ended(
    business_id: int,
    *,
    api_key_id: int | None = None,
    staff_id: int | None = None,
    web_session: str | None = None,
) -> LiveEvent:
    """The event that closes the streams opened with this key, by this staff member or in
    this web session (its stored id, a hash: the event may travel through the database)."""
    named = {"api_key_id": api_key_id, "staff_id": staff_id, "web_session": web_session}
    return LiveEvent(business_id, ACCESS_ENDED, {k: v for k, v in named.items() if v is not None})


class EventBus:
    """Fans events out to the subscribers connected to this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[
            int, set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[LiveEvent]]]
        ]
        self._subscribers = {}

    def publish(self, live_event: LiveEvent) -> None:
        """Thread-safe: callable from request threads, the dispatcher or the listener."""
        with self._lock:
            targets = list(self._subscribers.get(live_event.business_id, ()))
        for loop, queue in targets:
            try:
                loop.call_soon_threadsafe(_offer, queue, live_event)
            except RuntimeError:  # that loop has closed
                continue

    @asynccontextmanager
    async def subscribe(self, business_id: int) -> AsyncIterator[asyncio.Queue[LiveEvent]]:
        queue: asyncio.Queue[LiveEvent] = asyncio.Queue(maxsize=_QUEUE_LIMIT)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.setdefault(business_id, set()).add(entry)
        metrics.LIVE_SUBSCRIBERS.inc()
        try:
            yield queue
        finally:
            metrics.LIVE_SUBSCRIBERS.dec()
            with self._lock:
                subscribers = self._subscribers.get(business_id, set())
                subscribers.discard(entry)
                if not subscribers:
                    self._subscribers.pop(business_id, None)

    def subscriber_count(self) -> int:
        with self._lock:
            return sum(len(s) for s in self._subscribers.values())


def _offer(queue: asyncio.Queue[LiveEvent], live_event: LiveEvent) -> None:
    if queue.full():
        if live_event.type != ACCESS_ENDED:
            return
        queue.get_nowait()  # a subscriber far behind still learns its access has ended
    queue.put_nowait(live_event)


def queue_event_on_commit(session: Session, live_event: LiveEvent) -> None:
    """Raise an event that leaves only if (and when) the session's transaction commits."""
    session.info.setdefault(_PENDING_KEY, []).append(live_event)


def pending_events(session: Session) -> list[LiveEvent]:
    """Events raised in the session's current transaction, not yet sent."""
    return list(session.info.get(_PENDING_KEY, []))


def attach_bus(session_factory: Any, bus: EventBus) -> None:
    """Send each committed session's events: by NOTIFY on PostgreSQL (issued just before the
    commit, in one statement, so the database releases them with the commit), straight to
    `bus` on SQLite (one process)."""

    @event.listens_for(session_factory, "before_commit")
    def _notify(session: Session) -> None:
        if session.get_bind().dialect.name != "postgresql":
            return
        pending = session.info.pop(_PENDING_KEY, [])
        if pending:
            payloads = [live_event.to_json() for live_event in pending]
            session.execute(_NOTIFY_ALL, {"channel": CHANNEL, "payloads": payloads})

    @event.listens_for(session_factory, "after_commit")
    def _publish(session: Session) -> None:
        for live_event in session.info.pop(_PENDING_KEY, []):
            bus.publish(live_event)

    @event.listens_for(session_factory, "after_rollback")
    def _drop(session: Session) -> None:
        session.info.pop(_PENDING_KEY, None)


class PostgresListener:
    """A thread holding one LISTEN connection and handing every notification to the bus."""

    def __init__(self, dsn: str, bus: EventBus) -> None:
        self._dsn = dsn
        self._bus = bus
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listener", daemon=True)
        self.ready = threading.Event()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.ready.set()
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=0.1):
                            self._publish(notify.payload)
            except Exception:  # the database went away: reconnect after a pause
                log.exception("live-event listener lost its connection; reconnecting")
                self._stop.wait(1.0)

    def _publish(self, payload: str) -> None:
        if not self._bus.subscriber_count():
            return  # nobody here to tell: decoding every event cost ~4% of a loaded server
        try:
            self._bus.publish(LiveEvent.from_json(payload))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed live event: %r", payload[:200])


def libpq_dsn(sqlalchemy_url: str) -> str:
    """The plain postgresql:// form of a SQLAlchemy URL, for psycopg.connect."""
    from sqlalchemy.engine import make_url

    url = make_url(sqlalchemy_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)

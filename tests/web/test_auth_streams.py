"""Ending access ends the live event streams it opened, at once: a revoked API key's, a
deactivated staff member's, a signed-out session's; on PostgreSQL also when the stream is held
by another process. Other streams of the business carry on and never see these events."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, select

from messagecenter.apikeys.service import authenticate, create_api_key, revoke_api_key
from messagecenter.app import create_app
from messagecenter.clock import Clock, FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.events import EventBus, LiveEvent, queue_event_on_commit
from messagecenter.models import StaffMember
from messagecenter.staff.service import create_staff_member
from messagecenter.web.live import RECHECK_EVERY, StreamHolder, event_stream
from tests import live_server
from tests.conftest import empty_all_tables
from tests.factories import SetUp, make_business
from tests.web.conftest import csrf_of, owner_email_of

TIMEOUT = httpx.Timeout(10)  # below the 15 s heartbeat: a stream left open fails the test


@dataclass
class Served:
    url: str
    context: AppContext
    setup: SetUp
    owner_email: str


@contextmanager
def serving(settings: Settings, engine: Engine, clock: Clock | None = None) -> Iterator[Served]:
    """The app on a real port (its own URL as public_url, so the cookie works over http),
    with a business; its units of work commit, and every table is emptied afterwards."""
    port = live_server.free_port()
    url = f"http://127.0.0.1:{port}"
    context = build_context(
        settings.model_copy(update={"public_url": url}), engine=engine, clock=clock
    )
    try:
        with session_scope(context.sessions) as session:
            setup = make_business(session, context.carrier, context.clock.now())
            owner_email = owner_email_of(session, setup.business.id)
        with live_server.serve(create_app(context=context, run_dispatcher=False), port):
            yield Served(url, context, setup, owner_email)
    finally:
        empty_all_tables(engine)


@pytest.fixture
def served(settings: Settings, engine: Engine) -> Iterator[Served]:
    with serving(settings, engine) as served:
        yield served


def events_of(stream: httpx.Response) -> Iterator[str]:
    """The names of the events on an open stream, until the server ends it."""
    for line in stream.iter_lines():
        if line.startswith("event: "):
            yield line[len("event: ") :]


def signed_in(served: Served, email: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=served.url, timeout=TIMEOUT)
    form = client.get("/login")
    answer = client.post(
        "/login", data={"email": email, "password": password, "csrf": csrf_of(form.text)}
    )
    assert (answer.status_code, answer.headers.get("location")) == (303, "/inbox"), answer.text
    return client


def raise_event(served: Served, context: AppContext | None = None) -> None:
    """An ordinary event for the business, committed through `context` (default: the
    served process's own)."""
    with session_scope((context or served.context).sessions) as session:
        queue_event_on_commit(session, LiveEvent(served.setup.business.id, "test.ping", {}))


def test_revoking_a_key_ends_its_stream_and_no_other(served: Served) -> None:
    with session_scope(served.context.sessions) as session:
        _, other_secret = create_api_key(
            session, served.setup.business.id, "other", served.context.clock.now()
        )
    with (
        httpx.Client(base_url=served.url, timeout=TIMEOUT) as http,
        http.stream("GET", "/api/v1/events", headers=served.setup.auth) as revoked,
        http.stream(
            "GET", "/api/v1/events", headers={"Authorization": f"Bearer {other_secret}"}
        ) as kept,
    ):
        revoked_events, kept_events = events_of(revoked), events_of(kept)
        assert next(revoked_events) == next(kept_events) == "unread.changed"  # subscribed

        with session_scope(served.context.sessions) as session:
            key = authenticate(session, served.setup.api_key)
            revoke_api_key(session, served.setup.business.id, key.id, served.context.clock.now())
        assert list(revoked_events) == []  # the stream ended, with nothing more
        raise_event(served)
        assert next(kept_events) == "test.ping"  # not "access.ended": that is for streams only
        assert http.get("/api/v1/events", headers=served.setup.auth).status_code == 401


def test_deactivating_staff_or_signing_out_ends_their_streams(served: Served) -> None:
    with session_scope(served.context.sessions) as session:
        for name in ("ada", "ben"):
            create_staff_member(
                session, business_id=served.setup.business.id, email=f"{name}@studio.example",
                name=name, role="staff", can_send_sms=True, password=f"{name}'s password",
                at=served.context.clock.now(),
            )  # fmt: skip
    ada = signed_in(served, "ada@studio.example", "ada's password")
    ben = signed_in(served, "ben@studio.example", "ben's password")
    owner = signed_in(served, served.owner_email, served.setup.owner_password)
    with (
        ada.stream("GET", "/app/events") as ada_stream,
        ben.stream("GET", "/app/events") as ben_stream,
        owner.stream("GET", "/app/events") as owner_stream,
    ):
        streams = [events_of(s) for s in (ada_stream, ben_stream, owner_stream)]
        assert [next(s) for s in streams] == ["unread.changed"] * 3
        ada_events, ben_events, owner_events = streams

        # Ada is deactivated by the owner, through the staff page.
        with session_scope(served.context.sessions) as session:
            ada_id = session.scalar(
                select(StaffMember.id).where(StaffMember.email == "ada@studio.example")
            )
        csrf = csrf_of(owner.get("/staff").text)
        answer = owner.post(f"/staff/{ada_id}", data={"action": "deactivate", "csrf": csrf})
        assert answer.status_code == 303, answer.text
        assert list(ada_events) == []

        # Ben signs out in another tab (same cookie): the stream in the first tab ends.
        with httpx.Client(base_url=served.url, timeout=TIMEOUT, cookies=ben.cookies) as tab:
            tab.post("/logout", data={"csrf": csrf_of(tab.get("/inbox").text)})
        assert list(ben_events) == []

        raise_event(served)
        assert next(owner_events) == "test.ping"
    assert ada.get("/app/events").status_code == 401
    assert ben.get("/app/events").status_code == 401


@pytest.mark.postgres_only
def test_a_stream_held_by_another_process_ends_when_its_key_is_revoked(
    served: Served, engine: Engine
) -> None:
    """The stream is held by the served process; the key is revoked in another (its own
    context: only the database links them, through LISTEN/NOTIFY)."""
    other = build_context(served.context.settings, engine=engine)
    with (
        httpx.Client(base_url=served.url, timeout=TIMEOUT) as http,
        http.stream("GET", "/api/v1/events", headers=served.setup.auth) as stream,
    ):
        events = events_of(stream)
        assert next(events) == "unread.changed"
        # The served process's listener connects in the background: ping until one arrives.
        arrived = threading.Event()

        def ping() -> None:
            for _ in range(100):
                raise_event(served, other)
                if arrived.wait(0.1):
                    return

        pinger = threading.Thread(target=ping)
        pinger.start()
        assert next(events) == "test.ping"
        arrived.set()
        pinger.join()

        with session_scope(other.sessions) as session:
            key = authenticate(session, served.setup.api_key)
            revoke_api_key(session, served.setup.business.id, key.id, other.clock.now())
        assert set(events) <= {"test.ping"}  # pings still on their way, then the end


def test_an_access_ended_event_is_never_sent_to_a_client(served: Served) -> None:
    """Even its own stream ends without it; its data (a session's hash) stays inside."""
    with (
        httpx.Client(base_url=served.url, timeout=TIMEOUT) as http,
        http.stream("GET", "/api/v1/events", headers=served.setup.auth) as stream,
    ):
        lines = stream.iter_lines()
        assert next(lines) == "retry: 3000"
        with session_scope(served.context.sessions) as session:
            key = authenticate(session, served.setup.api_key)
            revoke_api_key(session, served.setup.business.id, key.id, served.context.clock.now())
        rest = "\n".join(lines)
    assert "access.ended" not in rest
    assert json.loads(rest.split("data: ", 1)[1].split("\n", 1)[0]) == {"unread": 0}


def test_a_web_sessions_stream_ends_when_the_session_does(
    settings: Settings, engine: Engine, clock: FrozenClock
) -> None:
    """Opened a minute before the session's twelve hours are up, the stream delivers nothing
    after them (the app's clock)."""
    with serving(settings, engine, clock) as served:
        owner = signed_in(served, served.owner_email, served.setup.owner_password)
        clock.advance(timedelta(hours=12) - timedelta(minutes=1))
        with owner.stream("GET", "/app/events") as stream:
            events = events_of(stream)
            assert next(events) == "unread.changed"
            clock.advance(timedelta(minutes=1))
            raise_event(served)
            assert list(events) == []


class StaysConnected:
    async def is_disconnected(self) -> bool:
        return False


def test_a_stream_looks_at_its_access_again_every_few_heartbeats() -> None:
    """An access.ended sent while this process's listener was reconnecting never arrives:
    the stream asks the database again every RECHECK_EVERY heartbeats, and ends once the
    access has."""
    asked: list[bool] = []

    async def still_valid() -> bool:
        asked.append(len(asked) < 2)  # the check at opening, the first recheck; then ended
        return asked[-1]

    async def read() -> list[str]:
        stream = event_stream(
            StaysConnected(),  # type: ignore[arg-type]
            EventBus(),
            StreamHolder(1, api_key_id=1),
            still_valid=still_valid,
            heartbeat_seconds=0,  # each wait for an event times out at once
        )
        return [chunk async for chunk in stream]

    chunks = asyncio.run(read())
    assert chunks == ["retry: 3000\n\n"] + [": keep-alive\n\n"] * (2 * RECHECK_EVERY - 1)
    assert asked == [True, True, False]

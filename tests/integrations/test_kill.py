"""A `messagecenter worker` killed (SIGKILL) in the middle of a webhook delivery loses
nothing: what it had claimed comes due again when its lease ends, and the next worker
delivers every event, the interrupted one again under the same id (at least once)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from messagecenter.clock import SystemClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.integrations import service
from messagecenter.models import WebhookDelivery
from messagecenter.models.webhook import DELIVERY_DELIVERED, DELIVERY_PENDING, EVENT_TYPES
from tests.conftest import empty_all_tables
from tests.factories import make_business
from tests.fakes.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.postgres_only  # `worker` processes run on PostgreSQL

REPO_ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 120.0  # generous: a busy 2-core machine
TIMEOUT_SECONDS = 3  # each delivery's; the kill lands well inside it; the lease: 5 x this + 10 s
EVENTS = 5


@pytest.fixture
def committed(settings: Settings, engine: Engine) -> Iterator[AppContext]:
    context = build_context(settings, clock=SystemClock(), engine=engine)
    yield context
    empty_all_tables(engine)


def start_worker(database_url: str, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESSAGECENTER_")}
    env.update(
        {
            "MESSAGECENTER_DATABASE_URL": database_url,
            "MESSAGECENTER_SECRET_KEY": "webhook-kill-test",
            "MESSAGECENTER_WEBHOOKS_ALLOW_PRIVATE": "1",  # the endpoint is on loopback
            "MESSAGECENTER_WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "messagecenter.cli", "worker"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def wait(
    what: str, condition: Callable[[], bool], process: subprocess.Popen[bytes], log: Path
) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if process.poll() is not None:
            pytest.fail(
                f"the worker ended ({process.returncode}) before {what}:\n{log.read_text()}"
            )
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}:\n{log.read_text()[-4000:]}")
        time.sleep(0.05)


def test_a_worker_killed_mid_delivery_loses_no_event(
    committed: AppContext, database_url: str, tmp_path: Path
) -> None:
    context = committed
    now = datetime.now(UTC)
    with WebhookReceiver() as receiver:
        with session_scope(context.sessions) as session:
            shop = make_business(session, context.carrier, now)
            _, secret = service.create_endpoint(
                session,
                shop.business.id,
                url=receiver.url,
                events=list(EVENT_TYPES),
                description="",
                at=now,
                allow_private=True,
            )
            for n in range(EVENTS):
                service.record_event(session, shop.business.id, "message.received", {"n": n}, now)

        def deliveries() -> list[WebhookDelivery]:
            with session_scope(context.sessions) as session:
                return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))

        receiver.hold_next()  # the first POST stays open: the worker is mid-delivery
        first_log = tmp_path / "worker-0.log"
        doomed = start_worker(database_url, first_log)
        try:
            receiver.wait_holding(timeout=DEADLINE_SECONDS)
            doomed.send_signal(signal.SIGKILL)  # well inside its timeout
            assert doomed.wait(timeout=30) == -signal.SIGKILL
        finally:
            if doomed.poll() is None:
                doomed.kill()
        receiver.release()
        held = deliveries()
        assert len(held) == EVENTS
        assert {d.state for d in held} == {DELIVERY_PENDING}  # none recorded, none lost
        assert all(d.claimed_at is not None and d.attempts == 1 for d in held)

        second_log = tmp_path / "worker-1.log"
        survivor = start_worker(database_url, second_log)
        try:
            wait(
                "every event was delivered",
                lambda: {d.state for d in deliveries()} == {DELIVERY_DELIVERED},
                survivor,
                second_log,
            )
            survivor.send_signal(signal.SIGTERM)
            assert survivor.wait(timeout=DEADLINE_SECONDS) == 0, second_log.read_text()
        finally:
            if survivor.poll() is None:
                survivor.kill()

        done = deliveries()
        answered = [r for r in receiver.received if r.status]
        # Each event delivered once after the kill, the interrupted one seen twice in all.
        assert Counter(r.headers["webhook-id"] for r in answered) == Counter(
            d.event_id for d in done
        )
        interrupted = [r for r in receiver.received if not r.status]
        assert len(interrupted) == 1
        assert interrupted[0].headers["webhook-id"] == done[0].event_id
        for received in answered:  # signed, and verifiable, on every attempt
            Webhook(secret).verify(received.body, received.headers)
        assert sorted(Webhook(secret).verify(r.body, r.headers)["data"]["n"] for r in answered) == [
            *range(EVENTS)
        ]

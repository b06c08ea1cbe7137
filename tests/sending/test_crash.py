"""A dispatcher process killed (SIGKILL) after the carrier took a message and before its
commit, then restarted: the message is not sent again and ends with its true status.

DESIGN.md §2 "Never sent twice": the claim is committed before the carrier is called; a crash
after the call leaves the message claimed; it is settled by our id (fetching it from the
carrier, then its status callbacks), never by sending again. Everything is real here: a
dispatcher process of its own, the real `twilio` package against the fake Twilio, the app
served over HTTP for the callbacks, and real commits on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.types import Receive, Scope, Send

from messagecenter.app import create_app
from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.carriers.twilio.carrier import TwilioCarrier
from messagecenter.clients.service import ClientChanges, create_client
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.models import Message, MessageStatusEvent
from messagecenter.models.message import DISPATCH_ACCEPTED, DISPATCH_SENDING
from messagecenter.numbers.service import enable_messaging, suggest_numbers
from messagecenter.sending.compose import Sender, send_message
from messagecenter.sending.dispatcher import Dispatcher, Waits
from tests.conftest import empty_all_tables
from tests.fakes.twilio_server import BackgroundServer, FakeTwilio

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "0" * 32  # as the `settings` fixture has it
AUTH_TOKEN = "twilio-test-auth-token"
CLIENT_PHONE = "+12125550142"
BODY = "Your 6pm class is confirmed"


class DeferredApp:
    """The app, set once the server listens (its public URL needs the port)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no app is being served")
        await self.app(scope, receive, send)


@dataclass
class Crash:
    fake: FakeTwilio
    context: AppContext  # the app's, serving the status callbacks at its public URL
    env: dict[str, str]
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def dispatcher_process(self) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.sending.crash_dispatcher"],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def message(self, message_id: int) -> Message:
        with session_scope(self.context.sessions) as session:
            message = session.get(Message, message_id)
            assert message is not None
            return message

    def events(self, message_id: int) -> list[str]:
        with session_scope(self.context.sessions) as session:
            return sorted(
                session.scalars(
                    select(MessageStatusEvent.status).where(
                        MessageStatusEvent.message_id == message_id
                    )
                )
            )


@pytest.fixture
def crash(settings: Settings, engine: Engine, database_url: str) -> Iterator[Crash]:
    deferred = DeferredApp()
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake, BackgroundServer(deferred) as live:
        app_settings = settings.model_copy(
            update={
                "public_url": live.base_url,
                "twilio_api_url": fake.base_url,
                "carrier": "twilio",
            }
        )
        context = build_context(
            app_settings,
            clock=FrozenClock(datetime.now(UTC)),
            carrier=TwilioCarrier(app_settings, read_timeout=5.0),
            engine=engine,
            rng=random.Random(7),
        )
        deferred.app = create_app(context=context, run_dispatcher=False)
        env = {
            key: value for key, value in os.environ.items() if not key.startswith("MESSAGECENTER_")
        }
        env.update(
            {
                "MESSAGECENTER_DATABASE_URL": database_url,
                "MESSAGECENTER_CARRIER": "twilio",
                "MESSAGECENTER_PUBLIC_URL": live.base_url,
                "MESSAGECENTER_TWILIO_API_URL": fake.base_url,
                "MESSAGECENTER_SECRET_KEY": "crash-test",
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            }
        )
        env.pop("TWILIO_WEBHOOK_SECRET", None)
        crash = Crash(fake, context, env)
        try:
            yield crash
        finally:
            for process in crash.processes:
                if process.poll() is None:
                    process.kill()
                process.communicate(timeout=10)
            fake.release_held()  # the dead dispatcher's request is still being held back
            empty_all_tables(engine)


def queue_message(context: AppContext, public_url: str) -> int:
    """A US business on Twilio, a client, and one message waiting in the outbox."""
    at = context.clock.now()
    with session_scope(context.sessions) as session:
        business = create_business(
            session,
            NewBusiness(
                name="Harbor Yoga",
                country="US",
                timezone="America/New_York",
                business_phone="+12125550100",
                monthly_allowance=100,
                overage_policy="hard_stop",
                overage_price_per_unit=Decimal("0.05"),
                owner_email="owner@harbor.example",
            ),
            at,
        ).business
        chosen = suggest_numbers(session, business, context.carrier)[0]
        enable_messaging(session, business, context.carrier, chosen, public_url, at)
        client = create_client(
            session,
            business,
            ClientChanges(first_name="Maria", last_name="Lopez", cell_phone=CLIENT_PHONE),
            at,
        )
        message = send_message(
            session, business, body=BODY, sender=Sender.automated(), client=client, at=at
        )
        session.flush()
        return message.id


def wait_until_twilio_took_it(fake: FakeTwilio, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while fake.created_count() < 1:
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"the dispatcher process ended ({process.returncode}) early:\n{err}")
        if time.monotonic() > deadline:
            pytest.fail("the dispatcher process never reached Twilio")
        time.sleep(0.02)


def test_a_dispatcher_killed_after_twilio_took_the_message_never_sends_it_again(
    crash: Crash,
) -> None:
    fake, context = crash.fake, crash.context
    message_id = queue_message(context, context.settings.public_url)

    # Twilio stores the message and then holds its answer back; the dispatcher waits for it.
    fake.timeout_next(seconds=60, accept=True)
    doomed = crash.dispatcher_process()
    wait_until_twilio_took_it(fake, doomed)
    claimed = crash.message(message_id)
    assert (claimed.dispatch_state, claimed.status, claimed.carrier_sid) == (
        DISPATCH_SENDING,
        "queued",
        None,
    )
    os.kill(doomed.pid, signal.SIGKILL)  # before it could record Twilio's answer
    doomed.communicate(timeout=10)
    assert doomed.returncode == -signal.SIGKILL
    assert crash.message(message_id).dispatch_state == DISPATCH_SENDING
    (taken,) = fake.messages.values()
    assert (taken["to"], taken["body"]) == (CLIENT_PHONE, BODY)
    assert taken["status_callback"] == (
        f"{context.settings.public_url}/webhooks/twilio/status?message={message_id}"
    )

    # Restarted: a fresh dispatcher process leaves the claimed message alone.
    restarted = crash.dispatcher_process()
    out, err = restarted.communicate(timeout=30)
    assert restarted.returncode == 0, err
    assert json.loads(out) == {"handled": 0}
    assert fake.created_count() == 1
    assert crash.message(message_id).dispatch_state == DISPATCH_SENDING

    # Once the claim is stale, the dispatcher settles it by asking Twilio, not by resending.
    later = FrozenClock(datetime.now(UTC) + Waits().settle_after + timedelta(minutes=1))
    dispatcher = Dispatcher(
        context.sessions,
        TwilioCarrier(context.settings, read_timeout=5.0),
        later,
        context.settings.public_url,
    )
    assert dispatcher.run_once() == 0
    assert dispatcher.settle_by_lookup() == 1
    settled = crash.message(message_id)
    assert (settled.dispatch_state, settled.carrier_sid) == (DISPATCH_ACCEPTED, taken["sid"])
    fake.release_held()

    # Twilio's callbacks reach the app at its public URL and give the true final status.
    assert fake.send_status(taken["sid"], "sent") == 204
    assert fake.send_status(taken["sid"], "delivered") == 204
    final = crash.message(message_id)
    assert (final.status, final.carrier_sid) == ("delivered", taken["sid"])
    assert crash.events(message_id) == ["delivered", "sent"]
    assert dispatcher.run_once() == 0
    assert dispatcher.settle_by_lookup() == 0
    assert fake.created_count() == 1
    assert len(fake.messages) == 1
    creates = [r for r in fake.requests if r.method == "POST" and r.path.endswith("/Messages.json")]
    assert len(creates) == 1
    assert fake.contract_violations == []

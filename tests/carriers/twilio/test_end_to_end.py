"""The whole app on the Twilio carrier, against the fake Twilio over real HTTP both ways.

The app is served by uvicorn at its MESSAGECENTER_PUBLIC_URL, so the fake's signed status
callbacks and inbound texts reach the real webhook routes; the JSON API is called over HTTP; the
dispatcher talks to the fake through the real `twilio` package. Units of work really commit
(the tables are emptied after each test).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select
from starlette.types import Receive, Scope, Send
from twilio.request_validator import RequestValidator

from messagecenter.app import create_app
from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.carriers.base import CarrierRejected, OutboundSms
from messagecenter.carriers.twilio.carrier import TwilioCarrier
from messagecenter.clients.service import ClientChanges, create_client
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.models import ConsentRecord, Message, MessageStatusEvent
from messagecenter.models.message import (
    DISPATCH_ACCEPTED,
    DISPATCH_PENDING,
    DISPATCH_REJECTED,
    DISPATCH_SENDING,
)
from messagecenter.numbers.service import enable_messaging, suggest_numbers
from messagecenter.sending.dispatcher import Dispatcher, Waits
from tests.conftest import empty_all_tables
from tests.fakes.twilio_server import BackgroundServer, FakeTwilio

ACCOUNT_SID = "AC" + "0" * 32  # as the `settings` fixture has it
AUTH_TOKEN = "twilio-test-auth-token"
BUSINESS_PHONE = "+12125550100"  # the fake also sells this one: it must not be suggested
CLIENT_PHONE = "+12125550142"


class DeferredApp:
    """An ASGI app chosen after the server is listening: the app's public URL (which the
    dispatcher puts in every status-callback URL) needs the port first."""

    def __init__(self) -> None:
        self.app: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no app is being served")
        self._loop = asyncio.get_running_loop()
        await self.app(scope, receive, send)

    def shut_down(self, context: AppContext) -> None:
        """What the app's lifespan does at shutdown, which this server does not run: the
        inbound webhook's connection closed, on the server's loop (it belongs to it)."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(context.intake.aclose(), self._loop).result(10)


@dataclass
class LiveApp:
    server: BackgroundServer
    deferred: DeferredApp

    @property
    def base_url(self) -> str:
        return self.server.base_url


@dataclass
class Studio:
    """A business on Twilio with its number, API key and one client."""

    context: AppContext
    clock: FrozenClock
    base_url: str
    business_id: int
    number: str
    number_sid: str
    api_key: str
    client_id: int
    api: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        """The JSON API over HTTP, with the business's key."""
        self.api = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self.api_key}"},
            timeout=10,
        )

    def send(self, body: str) -> int:
        response = self.api.post(
            "/api/v1/messages", json={"client_id": self.client_id, "body": body}
        )
        assert response.status_code == 201, response.text
        message_id: int = response.json()["message"]["id"]
        return message_id

    def message(self, message_id: int) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/messages/{message_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def client(self) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/clients/{self.client_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def row(self, message_id: int) -> Message:
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

    def process_inbound(self) -> None:
        """On PostgreSQL the webhook queues texts for the worker; run it (a no-op on SQLite,
        where the webhook processed the text already)."""
        self.context.worker.run_once()


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeTwilio) -> Iterator[FakeTwilio]:
    """The module's fake, emptied; every request the app made must have met the contract."""
    fake_server.reset()
    yield fake_server
    violations = fake_server.contract_violations
    fake_server.reset()  # also answers any request an injected timeout still holds
    assert violations == [], violations


@pytest.fixture(scope="module")
def live() -> Iterator[LiveApp]:
    deferred = DeferredApp()
    with BackgroundServer(deferred) as server:
        yield LiveApp(server, deferred)


@pytest.fixture
def studio(
    settings: Settings, engine: Engine, clock: FrozenClock, fake: FakeTwilio, live: LiveApp
) -> Iterator[Studio]:
    twilio_settings = settings.model_copy(
        update={
            "public_url": live.base_url,
            "twilio_api_url": fake.base_url,
            "carrier": "twilio",
        }
    )
    carrier = TwilioCarrier(twilio_settings, connect_timeout=2.0, read_timeout=5.0)
    context = build_context(
        twilio_settings, clock=clock, carrier=carrier, engine=engine, rng=random.Random(7)
    )
    live.deferred.app = create_app(context=context, run_dispatcher=False)
    try:
        studio = open_studio(context, clock, live.base_url)
        try:
            yield studio
        finally:
            studio.api.close()
    finally:
        live.deferred.shut_down(context)
        live.deferred.app = None
        empty_all_tables(engine)


def open_studio(context: AppContext, clock: FrozenClock, base_url: str) -> Studio:
    at = clock.now()
    with session_scope(context.sessions) as session:
        created = create_business(
            session,
            NewBusiness(
                name="Harbor Yoga",
                country="US",
                timezone="America/New_York",
                business_phone=BUSINESS_PHONE,
                monthly_allowance=100,
                overage_policy="hard_stop",
                overage_price_per_unit=Decimal("0.05"),
                owner_email="owner@harbor.example",
            ),
            at,
        )
        offered = suggest_numbers(session, created.business, context.carrier)
        assert BUSINESS_PHONE not in offered
        number = enable_messaging(
            session, created.business, context.carrier, offered[0], base_url, at
        )
        client = create_client(
            session,
            created.business,
            ClientChanges(first_name="Maria", last_name="Lopez", cell_phone=CLIENT_PHONE),
            at,
        )
        assert number.carrier_sid is not None
        return Studio(
            context,
            clock,
            base_url,
            created.business.id,
            number.phone_number,
            number.carrier_sid,
            created.api_key,
            client.id,
        )


def only_message(fake: FakeTwilio) -> dict[str, Any]:
    (message,) = fake.messages.values()
    return message


# ---------------------------------------------------------------- the happy path


def test_the_number_is_bought_with_the_apps_inbound_webhook(
    fake: FakeTwilio, studio: Studio
) -> None:
    bought = fake.numbers()[studio.number_sid]
    assert bought["phone_number"] == studio.number
    assert bought["sms_url"] == f"{studio.base_url}/webhooks/twilio/sms"
    assert studio.number.startswith("+1212")  # near the business phone


def test_a_message_goes_out_and_out_of_order_duplicated_callbacks_end_delivered(
    fake: FakeTwilio, studio: Studio
) -> None:
    message_id = studio.send("Your class starts at 6pm")
    assert studio.message(message_id)["status"] == "queued"
    assert fake.created_count() == 0  # only the dispatcher calls Twilio

    assert studio.context.dispatcher.run_once() == 1

    sent = only_message(fake)
    assert (sent["to"], sent["from"], sent["body"]) == (
        CLIENT_PHONE,
        studio.number,
        "Your class starts at 6pm",
    )
    assert sent["status_callback"] == (
        f"{studio.base_url}/webhooks/twilio/status?message={message_id}"
    )
    row = studio.row(message_id)
    assert (row.carrier_sid, row.dispatch_state) == (sent["sid"], DISPATCH_ACCEPTED)

    for status in ("delivered", "sent", "delivered", "sent", "queued"):
        assert fake.send_status(sent["sid"], status) == 204

    assert studio.message(message_id)["status"] == "delivered"
    assert studio.events(message_id) == ["delivered", "queued", "sent"]  # each stored once
    assert fake.created_count() == 1
    assert studio.context.dispatcher.run_once() == 0


def test_a_client_text_arrives_signed_and_is_stored(fake: FakeTwilio, studio: Studio) -> None:
    sid, answered = fake.send_inbound(CLIENT_PHONE, studio.number, "Can I move my 6pm?")
    assert answered == 200
    studio.process_inbound()

    (conversation,) = studio.api.get("/api/v1/conversations").json()["items"]
    messages = studio.api.get(f"/api/v1/conversations/{conversation['id']}/messages").json()
    assert conversation["client_id"] == studio.client_id
    assert conversation["unread_count"] == 1
    (inbound,) = messages["items"]
    assert (inbound["direction"], inbound["body"]) == ("inbound", "Can I move my 6pm?")
    with session_scope(studio.context.sessions) as session:
        stored = session.scalar(select(Message).where(Message.carrier_sid == sid))
        assert stored is not None and stored.from_phone == CLIENT_PHONE


def test_a_text_signed_with_another_token_is_refused(fake: FakeTwilio, studio: Studio) -> None:
    form = {"MessageSid": "SM" + "1" * 32, "From": CLIENT_PHONE, "To": studio.number, "Body": "hi"}
    url = f"{studio.base_url}/webhooks/twilio/sms"
    signature = RequestValidator("not-our-auth-token").compute_signature(url, form)
    answer = httpx.post(url, data=form, headers={"X-Twilio-Signature": signature})
    assert answer.status_code == 403
    studio.process_inbound()
    with session_scope(studio.context.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 0


# ---------------------------------------------------------------- opting out


def test_stop_opts_out_in_the_app_and_at_twilio(fake: FakeTwilio, studio: Studio) -> None:
    _, answered = fake.send_inbound(CLIENT_PHONE, studio.number, "STOP")
    assert answered == 200
    studio.process_inbound()

    subscription = studio.client()["subscription"]
    assert subscription["subscribed"] is False
    assert (subscription["keyword"], subscription["source"]) == ("STOP", "keyword")

    refused = studio.api.post(
        "/api/v1/messages", json={"client_id": studio.client_id, "body": "Come back!"}
    )
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "client_unsubscribed"
    assert studio.context.dispatcher.run_once() == 0  # Twilio answered STOP: no second reply
    assert fake.created_count() == 0

    # Twilio itself blocks the pair from now on.
    with pytest.raises(CarrierRejected) as caught:
        studio.context.carrier.send(OutboundSms(0, studio.number, CLIENT_PHONE, "Come back!"))
    assert caught.value.code == 21610
    assert fake.created_count() == 0


def test_21610_on_send_records_the_opt_out_from_the_carrier(
    fake: FakeTwilio, studio: Studio
) -> None:
    fake.opt_out(CLIENT_PHONE, studio.number)  # Twilio knows; the app does not yet
    message_id = studio.send("Reminder: class at 6pm")

    assert studio.context.dispatcher.run_once() == 1

    failed = studio.message(message_id)
    assert (failed["status"], failed["error_code"]) == ("failed", 21610)
    assert "unsubscribed" in failed["error_message"]
    assert studio.row(message_id).dispatch_state == DISPATCH_REJECTED
    subscription = studio.client()["subscription"]
    assert (subscription["subscribed"], subscription["source"]) == (False, "carrier_error_21610")
    with session_scope(studio.context.sessions) as session:
        (record,) = session.scalars(select(ConsentRecord)).all()
        assert (record.source, record.phone, record.message_id) == (
            "carrier_error_21610",
            CLIENT_PHONE,
            message_id,
        )
    again = studio.api.post("/api/v1/messages", json={"client_id": studio.client_id, "body": "Hi"})
    assert again.status_code == 409
    assert fake.created_count() == 0


def test_21211_marks_the_clients_cell_phone_invalid(fake: FakeTwilio, studio: Studio) -> None:
    assert studio.client()["cell_phone_valid_for_sms"] is True
    fake.fail_next(21211)
    message_id = studio.send("Hello")

    studio.context.dispatcher.run_once()

    assert studio.message(message_id)["status"] == "failed"
    client = studio.client()
    assert client["cell_phone_valid_for_sms"] is False
    assert "not valid" in client["cell_phone_problem"]
    assert fake.created_count() == 0


# ---------------------------------------------------------------- never sent twice


def test_a_429_storm_sends_exactly_once(fake: FakeTwilio, studio: Studio) -> None:
    fake.rate_limit_next(5, retry_after=1)
    message_id = studio.send("Studio closed tomorrow")
    dispatcher = studio.context.dispatcher

    for _ in range(5):
        assert dispatcher.run_once() == 1  # answered 429: back to the outbox
        row = studio.row(message_id)
        assert (row.dispatch_state, row.status, row.carrier_sid) == (
            DISPATCH_PENDING,
            "queued",
            None,
        )
        assert dispatcher.run_once() == 0  # not before the backoff is over
        studio.clock.advance(timedelta(minutes=6))
    assert dispatcher.run_once() == 1

    sent = only_message(fake)
    assert studio.row(message_id).carrier_sid == sent["sid"]
    assert fake.created_count() == 1
    assert len([r for r in fake.requests if r.method == "POST" and "Messages" in r.path]) == 6
    studio.clock.advance(timedelta(hours=1))
    assert dispatcher.run_once() == 0
    assert fake.created_count() == 1


def test_a_timeout_after_twilio_took_it_is_settled_by_lookup_not_resent(
    fake: FakeTwilio, studio: Studio
) -> None:
    context = studio.context
    impatient = Dispatcher(
        context.sessions,
        TwilioCarrier(context.settings, read_timeout=0.4),
        studio.clock,
        context.settings.public_url,
    )
    fake.timeout_next(seconds=60, accept=True)
    message_id = studio.send("Your package is ready")

    assert impatient.run_once() == 1  # Twilio took it, but we never heard back
    deadline = time.monotonic() + 10  # (it may still be storing what we gave up on)
    while fake.created_count() == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fake.created_count() == 1
    row = studio.row(message_id)
    assert (row.dispatch_state, row.carrier_sid) == (DISPATCH_SENDING, None)

    assert impatient.run_once() == 0  # claimed: never sent again
    assert context.dispatcher.settle_by_lookup() == 0  # too soon to ask
    studio.clock.advance(Waits().settle_after + timedelta(seconds=1))
    assert impatient.run_once() == 0

    assert context.dispatcher.settle_by_lookup() == 1  # found by asking Twilio

    sent = only_message(fake)
    row = studio.row(message_id)
    assert (row.dispatch_state, row.carrier_sid) == (DISPATCH_ACCEPTED, sent["sid"])
    assert fake.created_count() == 1
    fake.release_held()
    assert fake.send_status(sent["sid"], "delivered") == 204
    assert studio.message(message_id)["status"] == "delivered"
    assert context.dispatcher.run_once() == 0
    assert fake.created_count() == 1


# ---------------------------------------------------------------- delivery failures


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (30003, "switched off or out of reach"),
        (30007, "filtered the message as possible spam"),
        (30999, "error 30999"),  # not in the catalogue: generic, with the number
    ],
)
def test_delivery_failures_are_explained_in_words(
    fake: FakeTwilio, studio: Studio, code: int, words: str
) -> None:
    message_id = studio.send("Your membership renews soon")
    studio.context.dispatcher.run_once()
    sid = only_message(fake)["sid"]

    assert fake.send_status(sid, "sent") == 204
    assert fake.send_status(sid, "sending") == 204  # late: the status never moves down
    assert studio.message(message_id)["status"] == "sent"
    assert fake.send_status(sid, "undelivered", code) == 204

    message = studio.message(message_id)
    assert (message["status"], message["error_code"]) == ("undelivered", code)
    assert words in message["error_message"]
    assert studio.events(message_id) == ["sending", "sent", "undelivered"]


def test_changing_the_number_releases_it_at_twilio_and_replies_continue_from_the_new_one(
    fake: FakeTwilio, studio: Studio
) -> None:
    """Through the JSON API: the warning first, then the change; Twilio no longer holds the old
    number (it sends nothing for it), texts to the new one arrive in the same conversation."""
    fake.send_inbound(CLIENT_PHONE, studio.number, "Hi!")
    studio.process_inbound()
    offered = studio.api.get("/api/v1/sms-number/suggestions").json()["suggestions"]
    new_number = offered[0]
    warned = studio.api.post("/api/v1/sms-number/change", json={"phone_number": new_number})
    assert warned.status_code == 409
    assert studio.number in {n.get("phone_number") for n in fake.numbers().values()}

    changed = studio.api.post(
        "/api/v1/sms-number/change", json={"phone_number": new_number, "confirm": True}
    )
    assert changed.status_code == 200, changed.text
    held = {n.get("phone_number") for n in fake.numbers().values()}
    assert new_number in held and studio.number not in held  # released at Twilio
    bought = next(n for n in fake.numbers().values() if n.get("phone_number") == new_number)
    assert bought["sms_url"] == studio.base_url + "/webhooks/twilio/sms"

    # Twilio sends nothing for a released number...
    with pytest.raises(LookupError):
        fake.send_inbound(CLIENT_PHONE, studio.number, "Still there?")
    # ...and the client's replies to the new number join the same conversation.
    _, answered = fake.send_inbound(CLIENT_PHONE, new_number, "New number, great")
    assert answered == 200
    studio.process_inbound()
    (conversation,) = studio.api.get("/api/v1/conversations").json()["items"]
    bodies = [
        m["body"]
        for m in studio.api.get(f"/api/v1/conversations/{conversation['id']}/messages").json()[
            "items"
        ]
    ]
    assert bodies == ["Hi!", "New number, great"]
    reply = studio.send("Yes, text us here from now on")
    studio.context.dispatcher.run_once()
    assert fake.messages[studio.row(reply).carrier_sid or ""]["from"] == new_number

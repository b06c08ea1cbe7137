"""Twilio's webhooks over HTTP: signed with the `twilio` package's own validator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from urllib.parse import urlencode

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from messagecenter.app import create_app
from messagecenter.carriers.base import InboundSms, StatusReport
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.events import LiveEvent
from messagecenter.models import (
    Conversation,
    InboundQueueItem,
    Message,
    MessageStatusEvent,
    PhoneConsent,
    UnroutedMessage,
    UsagePeriod,
)
from messagecenter.sending import reports
from tests.conftest import PUBLIC_URL, TWILIO_AUTH_TOKEN, TWILIO_WEBHOOK_SECRET
from tests.factories import SetUp, make_business, make_client
from tests.sending.test_reports import WAIT, HeldCommit

INBOUND = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"


def signed_post(
    api: TestClient,
    path: str,
    form: dict[str, str],
    *,
    token: str = TWILIO_AUTH_TOKEN,
    algorithm: str | None = None,
    signed_url: str | None = None,
    body: bytes | None = None,
) -> object:
    url = signed_url or PUBLIC_URL + path
    signature = RequestValidator(token).compute_signature(url, form, algorithm)
    headers = {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    if algorithm:
        headers["X-Twilio-Webhooks-Signature-Settings"] = f"key=k1,algorithm={algorithm}"
    return api.post(path, content=body if body is not None else urlencode(form), headers=headers)


def inbound_form(setup: SetUp, body: str = "Hello", sid: str = "SM" + "a" * 32) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "From": "+12125550142",
        "To": setup.number.phone_number,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": "US",
        "ApiVersion": "2010-04-01",
    }


@pytest.fixture
def setup(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    created = make_business(session, context.carrier, clock.now())
    make_client(session, created.business, clock.now())
    session.commit()
    return created


@pytest.fixture
def published(context: AppContext, monkeypatch: pytest.MonkeyPatch) -> list[LiveEvent]:
    """Events handed to this process's bus (the SQLite path; PostgreSQL sends NOTIFY)."""
    seen: list[LiveEvent] = []
    original = context.bus.publish

    def spy(live_event: LiveEvent) -> None:
        seen.append(live_event)
        original(live_event)

    monkeypatch.setattr(context.bus, "publish", spy)
    return seen


def _counts(session: Session) -> tuple[int, int, int]:
    """Messages, units and unrouted texts, once the worker has processed the queue."""
    session.expire_all()
    messages = session.scalar(select(func.count()).select_from(Message)) or 0
    units = session.scalar(select(func.coalesce(func.sum(UsagePeriod.units_used), 0))) or 0
    unrouted = session.scalar(select(func.count()).select_from(UnroutedMessage)) or 0
    return messages, units, unrouted


def _queued(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(InboundQueueItem)) or 0


@pytest.fixture(autouse=True)
def _process_queue_after_each_inbound(context: AppContext, monkeypatch: pytest.MonkeyPatch) -> None:
    """The webhook only queues a text; run the worker's intake step right after, as the
    worker thread would."""
    original = context.intake.enqueue_inbound_batch

    def enqueue_then_process(inbounds: object) -> list[bool | Exception]:
        queued = original(inbounds)  # type: ignore[arg-type]
        context.intake.process_queued()
        return queued

    monkeypatch.setattr(context.intake, "enqueue_inbound_batch", enqueue_then_process)


def test_inbound_is_stored_and_answered_with_empty_twiml(
    api: TestClient, setup: SetUp, session: Session
) -> None:
    reply = signed_post(api, INBOUND, inbound_form(setup))
    assert reply.status_code == 200  # type: ignore[attr-defined]
    assert reply.headers["content-type"].startswith("text/xml")  # type: ignore[attr-defined]
    assert reply.text.endswith("<Response/>")  # type: ignore[attr-defined]
    assert _counts(session) == (1, 1, 0)
    assert api.get("/api/v1/unread", headers=setup.auth).json() == {"unread": 1}


def test_a_replayed_inbound_changes_nothing(
    api: TestClient, setup: SetUp, session: Session, published: list[LiveEvent], context: AppContext
) -> None:
    form = inbound_form(setup)
    signed_post(api, INBOUND, form)
    before = _counts(session)
    events_before = len(published)
    again = signed_post(api, INBOUND, form)
    assert again.status_code == 200  # type: ignore[attr-defined]
    assert again.text.endswith("<Response/>")  # type: ignore[attr-defined]
    assert _counts(session) == before
    assert api.get("/api/v1/unread", headers=setup.auth).json() == {"unread": 1}
    if context.engine.dialect.name == "sqlite":
        assert len(published) == events_before > 0


def test_media_only_inbound_is_accepted_and_counts_as_mms(
    api: TestClient, setup: SetUp, session: Session
) -> None:
    form = inbound_form(setup, body="")
    form.update({"NumMedia": "1", "MediaUrl0": "https://api.twilio.com/media/ME1"})
    del form["Body"]
    assert signed_post(api, INBOUND, form).status_code == 200  # type: ignore[attr-defined]
    message = session.scalars(select(Message)).one()
    assert (message.body, message.media_urls, message.units) == (
        "",
        ["https://api.twilio.com/media/ME1"],
        3,
    )


@pytest.mark.parametrize("num_media", ["-1", None, "0", "abc", "99"])
def test_media_urls_are_kept_whatever_num_media_says(
    api: TestClient, setup: SetUp, session: Session, num_media: str | None
) -> None:
    form = inbound_form(setup)
    urls = [f"https://api.twilio.com/media/ME{i}" for i in range(12)]
    form.update({f"MediaUrl{i}": url for i, url in enumerate(urls)})
    if num_media is None:
        del form["NumMedia"]
    else:
        form["NumMedia"] = num_media
    assert signed_post(api, INBOUND, form).status_code == 200  # type: ignore[attr-defined]
    message = session.scalars(select(Message)).one()
    assert message.media_urls == urls[:10]  # Twilio sends at most 10: the rest is not read


def test_unrouted_inbound_is_kept_for_the_operator_and_answered(
    api: TestClient, setup: SetUp, session: Session
) -> None:
    form = inbound_form(setup)
    form["To"] = "+13055550199"  # no business's active number
    reply = signed_post(api, INBOUND, form)
    assert reply.status_code == 200  # type: ignore[attr-defined]
    assert reply.text.endswith("<Response/>")  # type: ignore[attr-defined]
    assert _counts(session) == (0, 0, 1)
    signed_post(api, INBOUND, form)
    assert _counts(session) == (0, 0, 1)


def test_sha256_signed_inbound_is_accepted(api: TestClient, setup: SetUp, session: Session) -> None:
    reply = signed_post(
        api, INBOUND, inbound_form(setup), token=TWILIO_WEBHOOK_SECRET, algorithm="HMAC_SHA256"
    )
    assert reply.status_code == 200  # type: ignore[attr-defined]
    assert _counts(session)[0] == 1


def test_signature_with_the_default_port_is_accepted(
    api: TestClient, setup: SetUp, session: Session
) -> None:
    with_port = PUBLIC_URL.replace("mc.example.test", "mc.example.test:443") + INBOUND
    reply = signed_post(api, INBOUND, inbound_form(setup), signed_url=with_port)
    assert reply.status_code == 200  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "forgery",
    ["unsigned", "wrong token", "tampered body", "signed for another host", "malformed form"],
)
def test_forged_webhooks_get_403_and_store_nothing(
    api: TestClient, setup: SetUp, session: Session, forgery: str
) -> None:
    form = inbound_form(setup)
    if forgery == "unsigned":
        reply = api.post(INBOUND, data=form)
    elif forgery == "wrong token":
        reply = signed_post(api, INBOUND, form, token="guess")  # type: ignore[assignment]
    elif forgery == "tampered body":
        tampered = urlencode({**form, "Body": "Send me everything"}).encode()
        reply = signed_post(api, INBOUND, form, body=tampered)  # type: ignore[assignment]
    elif forgery == "signed for another host":
        # A proxy that forwards with its own Host must not make a signature for it valid.
        reply = signed_post(  # type: ignore[assignment]
            api, INBOUND, form, signed_url="http://testserver" + INBOUND
        )
    else:
        reply = api.post(
            INBOUND,
            content=b"%%%not-a-form&&=",
            headers={"X-Twilio-Signature": "AAAA", "Content-Type": "text/plain"},
        )
    assert reply.status_code == 403
    assert _counts(session) == (0, 0, 0)
    assert _queued(session) == 0


def test_status_callback_for_an_unknown_message_answers_204(api: TestClient, setup: SetUp) -> None:
    form = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"}
    reply = signed_post(
        api, STATUS + "?message=999999", form, signed_url=PUBLIC_URL + STATUS + "?message=999999"
    )
    assert reply.status_code == 204  # type: ignore[attr-defined]


def test_status_callbacks_move_forward_only_and_every_distinct_one_is_kept(
    api: TestClient, setup: SetUp, session: Session, context: AppContext
) -> None:
    sent = api.post(
        "/api/v1/messages", json={"client_id": 1, "body": "Hi"}, headers=setup.auth
    ).json()
    if "message" not in sent:  # the client id differs on PostgreSQL sequences
        client_id = api.get("/api/v1/clients", headers=setup.auth).json()["items"][0]["id"]
        sent = api.post(
            "/api/v1/messages", json={"client_id": client_id, "body": "Hi"}, headers=setup.auth
        ).json()
    message_id = sent["message"]["id"]
    path = f"{STATUS}?message={message_id}"
    sid = "SM" + "b" * 32

    def callback(status: str, code: str | None = None) -> int:
        form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "0" * 32}
        if code:
            form["ErrorCode"] = code
        reply = signed_post(api, path, form, signed_url=PUBLIC_URL + path)
        return reply.status_code  # type: ignore[attr-defined,no-any-return]

    assert callback("delivered") == 204  # before "sent"
    assert callback("sent") == 204
    assert callback("sent") == 204  # replay
    assert callback("failed", "30003") == 204  # after delivered: kept, changes nothing
    message = api.get(f"/api/v1/messages/{message_id}", headers=setup.auth).json()
    assert message["status"] == "delivered"
    assert message["error_code"] is None
    session.expire_all()
    stored = session.scalars(
        select(MessageStatusEvent.status)
        .where(MessageStatusEvent.message_id == message_id)
        .order_by(MessageStatusEvent.id)
    ).all()
    assert stored == ["delivered", "sent", "failed"]
    # The query string is part of what is signed: the same form for another id is forged.
    other = f"{STATUS}?message={message_id + 1}"
    forged = signed_post(
        api, other, {"MessageSid": sid, "MessageStatus": "sent"}, signed_url=PUBLIC_URL + path
    )
    assert forged.status_code == 403  # type: ignore[attr-defined]


def test_the_webhook_answers_once_the_text_is_queued_and_the_worker_processes_it(
    api: TestClient, setup: SetUp, session: Session, context: AppContext
) -> None:
    """Without the worker the text waits, safely stored; the worker turns it into a message."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(context.intake, "queue_inbound", True)  # as on PostgreSQL
    monkeypatch.setattr(context.intake, "process_queued", lambda limit=0: (0, False))
    try:
        reply = signed_post(api, INBOUND, inbound_form(setup))
        assert reply.status_code == 200  # type: ignore[attr-defined]
        assert _queued(session) == 1 and _counts(session) == (0, 0, 0)
        again = signed_post(api, INBOUND, inbound_form(setup))  # Twilio retries
        assert again.status_code == 200  # type: ignore[attr-defined]
        assert _queued(session) == 1
    finally:
        monkeypatch.undo()
    assert context.worker.run_once() >= 1
    assert _queued(session) == 0 and _counts(session) == (1, 1, 0)
    assert api.get("/api/v1/unread", headers=setup.auth).json() == {"unread": 1}


def test_webhooks_that_arrive_together_are_each_stored_once(
    setup: SetUp, session: Session, context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Texts posted at the same moment share transactions; each is answered only after its
    own commit, and each ends up exactly once, counted once."""
    app = create_app(context=context, run_dispatcher=False)
    batch_sizes: list[int] = []
    writes = "enqueue_inbound_batch" if context.intake.queue_inbound else "receive_inbound_batch"
    original = getattr(context.intake, writes)

    def recording(inbounds: list[InboundSms]) -> list[object]:
        if not batch_sizes:
            time.sleep(0.3)  # a slow first write: the other webhooks arrive meanwhile
        batch_sizes.append(len(inbounds))
        return original(inbounds)  # type: ignore[no-any-return]

    monkeypatch.setattr(context.intake, writes, recording)
    forms = [inbound_form(setup, f"Text {n}", sid=f"SM{n:032d}") for n in range(20)]
    forms.append(forms[0])  # and one Twilio retry among them

    async def post_all() -> list[httpx.Response]:
        validator = RequestValidator(TWILIO_AUTH_TOKEN)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            return await asyncio.gather(
                *(
                    client.post(
                        INBOUND,
                        content=urlencode(form),
                        headers={
                            "X-Twilio-Signature": validator.compute_signature(
                                PUBLIC_URL + INBOUND, form
                            ),
                            "Content-Type": "application/x-www-form-urlencoded",
                        },
                    )
                    for form in forms
                )
            )

    replies = asyncio.run(post_all())
    assert [r.status_code for r in replies] == [200] * 21
    assert all(r.text.endswith("<Response/>") for r in replies)
    assert _counts(session) == (20, 20, 0)
    assert sum(batch_sizes) == 21 and max(batch_sizes) > 1, batch_sizes
    context.intake.close()


# ---------------------------------------------------------------------------- input limits


@pytest.fixture(params=["processed at once", "queued"])
def queue_mode(request: pytest.FixtureRequest, context: AppContext) -> Iterator[str]:
    """Both intake paths: SQLite's (processed in the webhook) and PostgreSQL's (queued, then
    the worker), on whichever database runs."""
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(context.intake, "queue_inbound", request.param == "queued")
    yield request.param
    monkeypatch.undo()


def test_a_nul_in_a_client_text_is_stored_replaced_and_flagged_never_refused(
    api: TestClient, setup: SetUp, session: Session, queue_mode: str
) -> None:
    reply = signed_post(api, INBOUND, inbound_form(setup, body="Hi\x00there\x00"))
    assert reply.status_code == 200  # type: ignore[attr-defined]
    message = session.scalars(select(Message)).one()
    assert (message.body, message.body_had_nul) == ("Hi\ufffdthere\ufffd", True)
    assert _queued(session) == 0
    signed_post(api, INBOUND, inbound_form(setup, body="plain", sid="SM" + "c" * 32))
    plain = session.scalars(select(Message).where(Message.body == "plain")).one()
    assert plain.body_had_nul is False


# Senders Twilio sends that are no E.164 number: a WhatsApp address (22 characters), and one
# as long as a channel address gets (40).
CHANNEL_SENDERS = ["whatsapp:+447700900123", "whatsapp:" + "+4477009001234567" + "8" * 14]


@pytest.mark.parametrize("sender", CHANNEL_SENDERS)
def test_a_channel_sender_is_a_conversation_in_the_business_inbox(
    api: TestClient, setup: SetUp, session: Session, queue_mode: str, sender: str
) -> None:
    assert len(sender) in (22, 40)
    form = inbound_form(setup, body="Hello\x00")
    form["From"] = sender
    assert signed_post(api, INBOUND, form).status_code == 200  # type: ignore[attr-defined]
    assert _queued(session) == 0
    assert _counts(session) == (1, 1, 0)
    message = session.scalars(select(Message)).one()
    assert (message.from_phone, message.body_had_nul) == (sender, True)
    conversation = session.get(Conversation, message.conversation_id)
    assert conversation is not None
    assert (conversation.business_id, conversation.phone, conversation.client_id) == (
        setup.business.id,
        sender,
        None,
    )  # an unidentified contact
    inbox = api.get("/api/v1/conversations", headers=setup.auth).json()["items"]
    assert [item["phone"] for item in inbox] == [sender]
    assert api.get("/api/v1/unread", headers=setup.auth).json() == {"unread": 1}


def test_a_channel_sender_can_opt_out(
    api: TestClient, setup: SetUp, session: Session, queue_mode: str
) -> None:
    form = inbound_form(setup, body="STOP")
    form["From"] = CHANNEL_SENDERS[1]
    assert signed_post(api, INBOUND, form).status_code == 200  # type: ignore[attr-defined]
    session.expire_all()
    consent = session.scalars(select(PhoneConsent)).one()
    assert (consent.phone, consent.opted_out) == (CHANNEL_SENDERS[1], True)


@pytest.mark.parametrize("sender", ["x" * 65, "whatsapp:+" + "4" * 56, "+1" + "2" * 500])
def test_a_sender_longer_than_any_address_is_kept_as_unrouted_not_lost(
    api: TestClient, setup: SetUp, session: Session, queue_mode: str, sender: str
) -> None:
    assert len(sender) > 64
    form = inbound_form(setup, body="Hello\x00")
    form["From"] = sender
    reply = signed_post(api, INBOUND, form)
    assert reply.status_code == 200  # type: ignore[attr-defined]
    assert _queued(session) == 0  # nothing left behind to fail in the queue
    assert _counts(session) == (0, 0, 1)
    kept = session.scalars(select(UnroutedMessage)).one()
    assert (kept.from_phone, kept.body, kept.body_had_nul) == (sender, "Hello\ufffd", True)


def test_a_number_longer_than_a_phone_number_is_kept_as_unrouted(
    api: TestClient, setup: SetUp, session: Session, queue_mode: str
) -> None:
    form = inbound_form(setup)
    form["To"] = "+" + "1" * 300
    assert signed_post(api, INBOUND, form).status_code == 200  # type: ignore[attr-defined]
    assert _counts(session) == (0, 0, 1)


def test_a_sid_longer_than_twilio_sends_is_a_400_naming_it_and_stores_nothing(
    api: TestClient, setup: SetUp, session: Session, queue_mode: str
) -> None:
    reply = signed_post(api, INBOUND, inbound_form(setup, sid="SM" + "a" * 63))
    assert reply.status_code == 400  # type: ignore[attr-defined]
    assert "MessageSid" in reply.text  # type: ignore[attr-defined]
    assert _counts(session) == (0, 0, 0) and _queued(session) == 0
    status = signed_post(api, STATUS, {"MessageSid": "SM" + "a" * 63, "MessageStatus": "sent"})
    assert status.status_code == 400  # type: ignore[attr-defined]


def _sent_message_id(api: TestClient, setup: SetUp) -> int:
    client_id = api.get("/api/v1/clients", headers=setup.auth).json()["items"][0]["id"]
    sent = api.post(
        "/api/v1/messages", json={"client_id": client_id, "body": "Hi"}, headers=setup.auth
    )
    return int(sent.json()["message"]["id"])


def test_status_fields_beyond_their_columns_never_answer_500(
    api: TestClient, setup: SetUp, session: Session
) -> None:
    message_id = _sent_message_id(api, setup)
    path = f"{STATUS}?message={message_id}"
    sid = "SM" + "d" * 32

    def callback(form: dict[str, str], query: str = path) -> int:
        reply = signed_post(api, query, form, signed_url=PUBLIC_URL + query)
        return reply.status_code  # type: ignore[attr-defined,no-any-return]

    # A 30-digit ErrorCode fits no column: kept in the raw payload only.
    huge_code = "9" * 30
    assert callback({"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": huge_code}) == 204
    event = session.scalars(
        select(MessageStatusEvent).where(MessageStatusEvent.message_id == message_id)
    ).one()
    assert (event.error_code, event.payload["ErrorCode"]) == (None, huge_code)
    # An id beyond our id range is an unknown message.
    for query in (f"{STATUS}?message={'9' * 11}", f"{STATUS}?message={'1' * 40}"):
        assert callback({"MessageSid": "SM" + "e" * 32, "MessageStatus": "sent"}, query) == 204
    # A status word longer than Twilio's is refused, naming the field; nothing is stored.
    assert callback({"MessageSid": sid, "MessageStatus": "s" * 33}) == 400
    # NUL characters in the sid, the status or the payload are replaced, not a 500.
    assert callback({"MessageSid": sid, "MessageStatus": "sent\x00", "Extra\x00": "a\x00"}) == 204
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(MessageStatusEvent)) == 2


def test_the_webhook_lengths_match_the_columns() -> None:
    from messagecenter.carriers.twilio import webhooks

    for column in (Message.__table__.c.carrier_sid, InboundQueueItem.__table__.c.carrier_sid):
        assert column.type.length == webhooks.SID_LENGTH  # type: ignore[attr-defined]
    status_type = MessageStatusEvent.__table__.c.status.type
    assert status_type.length == webhooks.STATUS_LENGTH  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------- batched callbacks


def _status_form(message_id: int, status: str) -> tuple[str, dict[str, str]]:
    sid = f"SM{message_id:032d}"
    return f"{STATUS}?message={message_id}", {"MessageSid": sid, "MessageStatus": status}


async def _first_then_the_rest(
    context: AppContext, held: HeldCommit, callbacks: list[tuple[str, dict[str, str]]]
) -> list[int]:
    """Post the first callback; while its commit is held, post the rest and wait until each
    has handed its report over; then let the commits go. The answers, in order."""
    app = create_app(context=context, run_dispatcher=False)
    validator = RequestValidator(TWILIO_AUTH_TOKEN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:

        async def post(path: str, form: dict[str, str]) -> int:
            reply = await client.post(
                path,
                content=urlencode(form),
                headers={
                    "X-Twilio-Signature": validator.compute_signature(PUBLIC_URL + path, form),
                    "Content-Type": "application/x-www-form-urlencoded",
                },
            )
            return reply.status_code

        first = asyncio.ensure_future(post(*callbacks[0]))
        assert await asyncio.to_thread(held.entered.wait, WAIT)
        rest = [asyncio.ensure_future(post(*c)) for c in callbacks[1:]]
        loop = asyncio.get_running_loop()
        give_up = loop.time() + WAIT
        while len(context.reports._batches._pending) < len(rest):
            assert loop.time() < give_up, "the callbacks never reached the batcher"
            await asyncio.sleep(0.001)
        assert not first.done() and not any(r.done() for r in rest)  # nothing committed yet
        held.release.set()
        return list(await asyncio.gather(first, *rest))


def test_callbacks_that_arrive_together_share_a_transaction_answered_after_its_commit(
    api: TestClient, setup: SetUp, session: Session, context: AppContext
) -> None:
    ids = [_sent_message_id(api, setup) for _ in range(4)]
    callbacks = [_status_form(ids[0], "sent")]
    callbacks += [_status_form(i, "sent") for i in ids[1:]]
    callbacks += [_status_form(ids[1], "sent")]  # Twilio's retry, in the same batch
    callbacks += [_status_form(i, "delivered") for i in ids]
    callbacks += [_status_form(ids[2], "undelivered")]  # after delivered: changes nothing

    with HeldCommit(context) as held:
        answers = asyncio.run(_first_then_the_rest(context, held, callbacks))

    assert answers == [204] * len(callbacks)
    assert held.commits == 2  # the first alone, then every other callback together
    for message_id in ids:
        assert (
            api.get(f"/api/v1/messages/{message_id}", headers=setup.auth).json()["status"]
            == "delivered"
        )
    session.expire_all()
    stored = session.execute(
        select(MessageStatusEvent.message_id, MessageStatusEvent.status).order_by(
            MessageStatusEvent.id
        )
    ).all()
    assert sorted(stored) == sorted(
        [(i, "sent") for i in ids] + [(i, "delivered") for i in ids] + [(ids[2], "undelivered")]
    )
    context.reports.close()


@pytest.mark.server_error_expected
def test_a_callback_that_cannot_be_stored_fails_alone_with_500(
    api: TestClient,
    setup: SetUp,
    session: Session,
    context: AppContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Its batch is written again report by report: only its own request fails (Twilio may
    retry it), the others are stored and answered 204."""
    ids = [_sent_message_id(api, setup) for _ in range(3)]
    record = reports.record_statuses

    def record_failing_one(
        session: Session, batch: Sequence[StatusReport], at: datetime
    ) -> list[bool]:
        if any(report.message_id == ids[1] for report in batch):
            raise RuntimeError("the database refused it")
        return record(session, batch, at)

    monkeypatch.setattr(reports, "record_statuses", record_failing_one)
    callbacks = [_status_form(i, "delivered") for i in ids]

    with HeldCommit(context) as held:
        answers = asyncio.run(_first_then_the_rest(context, held, callbacks))

    assert answers == [204, 500, 204]
    statuses = [api.get(f"/api/v1/messages/{i}", headers=setup.auth).json()["status"] for i in ids]
    assert statuses == ["delivered", "queued", "delivered"]
    context.reports.close()

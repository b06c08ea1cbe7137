"""Twilio's webhooks as bare ASGI endpoints (carriers/twilio/endpoints.py): what the app
promises of every response still holds there, and the edge cases a bare endpoint handles itself.
The webhook's rules (signature, replays, unrouted, media, NUL...) are tested over the same
path in test_endpoints.py, whose POSTs reach this endpoint."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.types import ASGIApp
from starlette.types import Message as AsgiMessage
from twilio.request_validator import RequestValidator

from messagecenter.carriers.twilio.endpoints import inbound_sms_app
from messagecenter.carriers.twilio.signature import checker_for
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import InboundQueueItem, Message
from tests.carriers.twilio.test_endpoints import INBOUND, STATUS, inbound_form, signed_post
from tests.conftest import PUBLIC_URL, TWILIO_AUTH_TOKEN
from tests.factories import SetUp, make_business


@pytest.fixture
def setup(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    created = make_business(session, context.carrier, clock.now())
    session.commit()
    return created


def _stored(session: Session) -> int:
    """Texts kept: recorded as messages (SQLite) or queued for the worker (PostgreSQL)."""
    session.expire_all()
    messages = session.scalar(select(func.count()).select_from(Message)) or 0
    queued = session.scalar(select(func.count()).select_from(InboundQueueItem)) or 0
    return int(messages) + int(queued)


@pytest.mark.parametrize("signed", [True, False])
def test_answers_carry_the_edge_headers_and_no_session_cookie(
    api: TestClient, setup: SetUp, signed: bool
) -> None:
    form = inbound_form(setup)
    reply = signed_post(api, INBOUND, form) if signed else api.post(INBOUND, data=form)

    assert reply.status_code == (200 if signed else 403)  # type: ignore[attr-defined]
    headers = reply.headers  # type: ignore[attr-defined]
    assert headers["x-request-id"]
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert "set-cookie" not in headers


def test_a_forged_text_is_refused_with_403_and_nothing_is_stored(
    api: TestClient, setup: SetUp, session: Session
) -> None:
    reply = signed_post(api, INBOUND, inbound_form(setup), token="not-the-token")

    assert reply.status_code == 403  # type: ignore[attr-defined]
    assert reply.text == "Invalid Twilio signature.\n"  # type: ignore[attr-defined]
    assert _stored(session) == 0


def test_the_same_message_sid_twice_is_stored_once(
    api: TestClient, setup: SetUp, session: Session
) -> None:
    form = inbound_form(setup)
    first = signed_post(api, INBOUND, form)
    again = signed_post(api, INBOUND, form)

    assert [first.status_code, again.status_code] == [200, 200]  # type: ignore[attr-defined]
    assert again.text == first.text  # type: ignore[attr-defined]
    assert _stored(session) == 1


def test_a_repeated_signature_header_counts_its_first_value(
    api: TestClient, setup: SetUp, session: Session
) -> None:
    form = inbound_form(setup)
    good = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_URL + INBOUND, form)
    headers = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Twilio-Signature", "forged"),
        ("X-Twilio-Signature", good),
    ]
    reply = api.post(INBOUND, content=urlencode(form), headers=headers)

    assert reply.status_code == 403
    assert _stored(session) == 0


def test_a_signed_form_without_its_fields_is_a_400_naming_one(api: TestClient) -> None:
    form = {"Body": "Hello"}
    reply = signed_post(api, INBOUND, form)

    assert reply.status_code == 400  # type: ignore[attr-defined]
    assert "MessageSid" in reply.text  # type: ignore[attr-defined]


def test_other_methods_are_a_405_naming_post(api: TestClient, session: Session) -> None:
    for method in ("GET", "PUT", "DELETE"):
        answer = api.request(method, INBOUND)
        assert answer.status_code == 405, method
        assert answer.headers["Allow"] == "POST"
        assert "use POST" in answer.text
    assert api.head(STATUS).status_code == 405
    assert _stored(session) == 0


def test_a_body_read_in_chunks_is_checked_and_stored_whole(
    context: AppContext, setup: SetUp, session: Session
) -> None:
    form = inbound_form(setup)
    body = urlencode(form).encode()
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_URL + INBOUND, form)
    parts = [body[:10], body[10:50], body[50:]]
    sent: list[AsgiMessage] = []

    async def receive() -> AsgiMessage:
        chunk = parts.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(parts)}

    async def send(message: AsgiMessage) -> None:
        sent.append(message)

    asyncio.run(_endpoint(context)(_scope(signature), receive, send))

    assert sent[0]["status"] == 200
    assert _stored(session) == 1


def test_a_client_that_hangs_up_before_its_body_is_sent_gets_nothing_stored(
    context: AppContext, setup: SetUp, session: Session
) -> None:
    messages: list[AsgiMessage] = [
        {"type": "http.request", "body": b"MessageSid=SM1", "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[AsgiMessage] = []

    async def receive() -> AsgiMessage:
        return messages.pop(0)

    async def send(message: AsgiMessage) -> None:
        sent.append(message)

    asyncio.run(_endpoint(context)(_scope("any"), receive, send))

    assert sent == []
    assert _stored(session) == 0


def _endpoint(context: AppContext) -> ASGIApp:
    checker = checker_for(TWILIO_AUTH_TOKEN, None)
    return inbound_sms_app(PUBLIC_URL, checker, context.intake.accept_inbound, lambda: None)


def _scope(signature: str) -> dict[str, object]:
    return {
        "type": "http",
        "method": "POST",
        "path": INBOUND,
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"x-twilio-signature", signature.encode()),
        ],
    }

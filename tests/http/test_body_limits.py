"""Request body limits: webhooks at most 64 KiB, other requests at most 1 MiB; 413 above,
before the body is read whole (DESIGN §2, Input limits).

The app is driven through httpx's ASGI transport, which hands the app the request body one
chunk at a time as the app asks for it: a generator body (sent chunked, no Content-Length)
counts exactly how much the server read."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.http.body_limits import BODY_LIMIT, WEBHOOK_BODY_LIMIT
from messagecenter.models import Message
from tests import live_server
from tests.conftest import PUBLIC_URL, TWILIO_AUTH_TOKEN
from tests.factories import SetUp, make_business

CHUNK = 16 * 1024
INBOUND = "/webhooks/twilio/sms"


class Endless:
    """A chunked body that never ends, counting the bytes the server pulled from it."""

    def __init__(self) -> None:
        self.read = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            self.read += CHUNK
            yield b"a" * CHUNK


def _post(context: AppContext, path: str, **options: object) -> httpx.Response:
    async def post() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(context=context, run_dispatcher=False))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            return await client.post(path, **options)  # type: ignore[arg-type]

    return asyncio.run(post())


def _signed_inbound(setup: SetUp, body: str) -> tuple[str, dict[str, str]]:
    form = {
        "MessageSid": "SM" + "b" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": "+12125550142",
        "To": setup.number.phone_number,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_URL + INBOUND, form)
    headers = {
        "X-Twilio-Signature": signature,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return urlencode(form), headers


@pytest.mark.parametrize(("path", "limit"), [(INBOUND, WEBHOOK_BODY_LIMIT), ("/login", BODY_LIMIT)])
def test_an_endless_chunked_body_is_refused_once_past_the_limit(
    context: AppContext, path: str, limit: int
) -> None:
    body = Endless()

    answer = _post(
        context,
        path,
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert answer.status_code == 413
    assert "The request body is too large" in answer.text  # a web page's POST: the error page
    assert limit < body.read <= limit + CHUNK  # read up to the limit, and not a chunk more


@pytest.mark.parametrize(
    "path", [INBOUND, "/webhooks/twilio/status", "/api/v1/messages", "/simulator/messages"]
)
def test_a_declared_length_over_the_limit_is_refused_without_reading_a_byte(
    context: AppContext, path: str
) -> None:
    body = Endless()
    size = 50 * 2**20

    answer = _post(context, path, content=body, headers={"Content-Length": str(size)})

    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"
    assert body.read == 0


def test_a_signed_webhook_is_refused_above_64_kib_and_stored_below(
    context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()

    big, headers = _signed_inbound(setup, "x" * WEBHOOK_BODY_LIMIT)
    assert _post(context, INBOUND, content=big, headers=headers).status_code == 413
    assert session.scalar(select(func.count()).select_from(Message)) == 0

    # Twilio sends at most 1,600 characters of text; a body well under the limit is taken.
    small, headers = _signed_inbound(setup, "y" * 1600)
    assert _post(context, INBOUND, content=small, headers=headers).status_code == 200


def test_a_request_up_to_1_mib_reaches_the_app(context: AppContext) -> None:
    """Just under the limit, chunked: handed on whole (the app answers it: 401, no key)."""

    async def chunks() -> AsyncIterator[bytes]:
        payload = json.dumps({"client_id": 1, "body": "z" * (BODY_LIMIT - 100)}).encode()
        for start in range(0, len(payload), CHUNK):
            yield payload[start : start + CHUNK]

    answer = _post(
        context, "/api/v1/messages", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert answer.status_code == 401


def test_a_real_server_refuses_a_large_chunked_post_before_it_ends(context: AppContext) -> None:
    """Over a socket: the 413 comes back while the client is still sending."""
    with live_server.serve(create_app(context=context, run_dispatcher=False)) as url:
        port = int(url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(
                f"POST {INBOUND} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"%x\r\n%s\r\n" % (CHUNK, b"a" * CHUNK)
            for _ in range(WEBHOOK_BODY_LIMIT // CHUNK + 2):
                sock.sendall(chunk)
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"

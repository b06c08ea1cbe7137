"""Twilio's inbound-text webhook as a bare ASGI endpoint: the intake's fast path.

It does what `routes.inbound_sms` does, rule for rule, without Starlette's router, exception
layers, Request object or Response classes: the body is read from `receive`, the two
signature headers and the query from the scope. The signature is checked first, with the
same checker (the `twilio` package's RequestValidator) over the same URL
(MESSAGECENTER_PUBLIC_URL + path + query as sent): a bad one is a 403 and nothing is stored,
even when the form is malformed. A form Twilio never sends (no MessageSid, From or To) is a
400 naming the field. Otherwise the text is handed to the intake, whose group commit holds it
durably before the 200 `<Response/>` is sent (replays and unrouted texts alike).

app.py puts it in front of the full app for POST /webhooks/twilio/sms, behind the edge
middlewares every response passes (request id and log line, security headers, body limits,
complete 500s); an unexpected error is left to the last of those.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from messagecenter import metrics
from messagecenter.carriers.base import InboundSms
from messagecenter.carriers.twilio.routes import EMPTY_TWIML
from messagecenter.carriers.twilio.signature import (
    SIGNATURE_HEADER,
    FormParams,
    SignatureChecker,
)
from messagecenter.carriers.twilio.webhooks import parse_inbound
from messagecenter.errors import InvalidInput

log = logging.getLogger(__name__)

_SIGNATURE = SIGNATURE_HEADER.lower().encode("latin-1")
_SETTINGS = b"x-twilio-webhooks-signature-settings"
_XML = [(b"content-type", b"text/xml; charset=utf-8")]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_ANSWER = EMPTY_TWIML.encode()
_REFUSED = b"Invalid Twilio signature.\n"


def inbound_sms_app(
    public_url: str,
    checker: SignatureChecker,
    accept: Callable[[InboundSms], Awaitable[bool]],
    wake_worker: Callable[[], None],
) -> ASGIApp:
    """The endpoint, given what the composition root (app.py) holds: the public URL and the
    checker the settings fix, the intake's `accept_inbound` (True when the worker has
    something new to do) and the worker's wake-up."""

    async def inbound_sms(scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if body is None:
            return  # the caller hung up before sending it all: nothing to answer
        params = FormParams.from_pairs(
            parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True)
        )
        path = scope.get("root_path", "") + scope["path"]
        query = scope.get("query_string", b"").decode("latin-1")
        url = public_url + path + (f"?{query}" if query else "")
        if not checker.is_valid(url, params, _signature_headers(scope)):
            log.warning("refused a webhook with a bad or missing signature: %s", path)
            metrics.signature_refused(path)
            await _answer(send, 403, _TEXT, _REFUSED)
            return
        try:
            inbound = parse_inbound(params)
        except InvalidInput as exc:
            await _answer(send, 400, _TEXT, (exc.message + "\n").encode())
            return
        # Stored durably (idempotent by MessageSid) before we answer.
        if await accept(inbound):
            wake_worker()
        metrics.inbound_accepted()
        await _answer(send, 200, _XML, _ANSWER)

    return inbound_sms


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body (BodyLimits, outside, has kept it within the webhook limit); None when
    the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _signature_headers(scope: Scope) -> dict[str, str]:
    """The signature and its settings header, the first of each if repeated (as Starlette's
    Headers.get answers)."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in (_SIGNATURE, _SETTINGS):
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})

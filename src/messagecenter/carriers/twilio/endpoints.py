"""Twilio's webhooks, inbound texts and delivery status callbacks, as bare ASGI endpoints.

They are the busiest requests the app serves, so they skip Starlette's router, exception
layers, Request object and Response classes: the body is read from `receive`, the two
signature headers and the query from the scope. Only POST is answered; any other method is a
405 naming it. The signature is checked first, with the `twilio` package's RequestValidator
over the URL Twilio signed (MESSAGECENTER_PUBLIC_URL + path + query as sent): a bad one is a
403 and nothing is stored, even when the form is malformed. A form Twilio never sends (an
inbound text without MessageSid, From or To; a status without MessageSid or MessageStatus) is
a 400 naming the field. Otherwise an inbound text is handed to the intake and a status report
to sending's reports, whose group commits hold it durably before the answer (200
`<Response/>` for a text, 204 for a status, replays and unknown ones alike).

app.py puts them in front of the full app for /webhooks/twilio/sms and /status, behind
the edge middlewares every response passes (request id and log line, security headers, body
limits, complete 500s); an unexpected error is left to the last of those.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from messagecenter import metrics
from messagecenter.carriers.base import InboundSms, StatusReport
from messagecenter.carriers.twilio.signature import (
    SIGNATURE_HEADER,
    FormParams,
    SignatureChecker,
)
from messagecenter.carriers.twilio.webhooks import parse_inbound, parse_status
from messagecenter.errors import InvalidInput

log = logging.getLogger(__name__)

_SIGNATURE = SIGNATURE_HEADER.lower().encode("latin-1")
_SETTINGS = b"x-twilio-webhooks-signature-settings"
_XML = [(b"content-type", b"text/xml; charset=utf-8")]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_ANSWER = b'<?xml version="1.0" encoding="UTF-8"?><Response/>'  # TwiML: send no reply
_REFUSED = b"Invalid Twilio signature.\n"
_ONLY_POST = [*_TEXT, (b"allow", b"POST")]


# What a webhook's handler answers: status, headers, body.
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]
Handler = Callable[[FormParams, str], Awaitable[Answer]]  # the verified form, the query


def inbound_sms_app(
    public_url: str,
    checker: SignatureChecker,
    accept: Callable[[InboundSms], Awaitable[bool]],
    wake_worker: Callable[[], None],
) -> ASGIApp:
    """The inbound-text endpoint, given what the composition root (app.py) holds: the public
    URL and the checker the settings fix, the intake's `accept_inbound` (True when the worker
    has something new to do) and the worker's wake-up."""

    async def inbound_sms(params: FormParams, _query: str) -> Answer:
        try:
            inbound = parse_inbound(params)
        except InvalidInput as exc:
            return 400, _TEXT, (exc.message + "\n").encode()
        # Stored durably (idempotent by MessageSid) before we answer.
        if await accept(inbound):
            wake_worker()
        metrics.inbound_accepted()
        return 200, _XML, _ANSWER

    return _signed_webhook(public_url, checker, inbound_sms)


def status_callback_app(
    public_url: str,
    checker: SignatureChecker,
    receive_report: Callable[[StatusReport], Awaitable[bool]],
) -> ASGIApp:
    """The status-callback endpoint: `receive_report` is sending's StatusReports.receive
    (group-committed with the reports that arrived together). Our message id is the query's
    `message` (the last one, as Starlette's query_params.get answers)."""

    async def status_callback(params: FormParams, query: str) -> Answer:
        ids = [value for name, value in parse_qsl(query) if name == "message"]
        try:
            report = parse_status(params, ids[-1] if ids else None)
        except InvalidInput as exc:
            return 400, _TEXT, (exc.message + "\n").encode()
        # To sending, which owns a message to its final status: written with the reports
        # that arrived together, committed before we answer (an error is a 500: Twilio may
        # retry).
        await receive_report(report)
        metrics.status_callback()
        return 204, [], b""

    return _signed_webhook(public_url, checker, status_callback)


def _signed_webhook(public_url: str, checker: SignatureChecker, handle: Handler) -> ASGIApp:
    """A webhook endpoint: the form read and its signature checked (403 when bad), then
    `handle` answers."""

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":  # Twilio only ever POSTs
            await _answer(send, 405, _ONLY_POST, b"Method Not Allowed: use POST.\n")
            return
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
        await _answer(send, *await handle(params, query))

    return endpoint


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
    if status != 204:  # a 204 has no body, and says no length (as Starlette's Response)
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

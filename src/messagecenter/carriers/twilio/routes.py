"""Twilio's webhooks: inbound texts and delivery status callbacks.

The signature is checked before anything else, so a forged request gets 403 even when its form
is malformed, and nothing is stored. Inbound answers 200 `<Response/>` (also for replays and
unrouted texts); status callbacks answer 204 (also for replays and unknown messages). Both
are answered only once their write has committed, in a batch with the webhooks that arrived
together (the intake's batches for texts, sending/reports.py's for status reports).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from messagecenter import metrics
from messagecenter.carriers.twilio.carrier import WEBHOOK_PREFIX
from messagecenter.carriers.twilio.signature import FormParams, checker_for
from messagecenter.carriers.twilio.webhooks import parse_inbound, parse_status
from messagecenter.context import AppContext
from messagecenter.errors import InvalidInput

log = logging.getLogger(__name__)
router = APIRouter(prefix=WEBHOOK_PREFIX, tags=["webhooks"], include_in_schema=False)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


async def _verified_form(request: Request) -> FormParams | Response:
    context: AppContext = request.app.state.context
    raw = await request.body()
    params = FormParams.from_pairs(
        parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
    )
    query = request.url.query
    url = context.settings.public_url + request.url.path + (f"?{query}" if query else "")
    checker = checker_for(
        context.settings.twilio_auth_token, context.settings.twilio_webhook_secret
    )
    if not checker.is_valid(url, params, request.headers):
        log.warning("refused a webhook with a bad or missing signature: %s", request.url.path)
        metrics.signature_refused(request.url.path)
        return Response("Invalid Twilio signature.\n", 403, media_type="text/plain")
    return params


@router.post("/sms")
async def inbound_sms(request: Request) -> Response:
    verified = await _verified_form(request)
    if isinstance(verified, Response):
        return verified
    try:
        inbound = parse_inbound(verified)
    except InvalidInput as exc:
        return Response(exc.message + "\n", 400, media_type="text/plain")
    context: AppContext = request.app.state.context
    # Stored durably (idempotent by MessageSid) before we answer.
    if await context.intake.accept_inbound(inbound):
        context.worker.wake()
    metrics.inbound_accepted()
    return Response(EMPTY_TWIML, 200, media_type="text/xml")


@router.post("/status", status_code=204)
async def status_callback(request: Request) -> Response:
    verified = await _verified_form(request)
    if isinstance(verified, Response):
        return verified
    try:
        report = parse_status(verified, request.query_params.get("message"))
    except InvalidInput as exc:
        return Response(exc.message + "\n", 400, media_type="text/plain")
    context: AppContext = request.app.state.context
    # To sending, which owns a message to its final status: written with the reports that
    # arrived together, committed before we answer (an error is a 500: Twilio may retry).
    await context.reports.receive(report)
    metrics.status_callback()
    return Response(status_code=204)

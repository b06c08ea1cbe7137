"""The app as a whole: health, the OpenAPI document, the error shape everywhere."""

from __future__ import annotations

import gc
from urllib.parse import urlencode

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session
from starlette.types import Receive, Scope, Send
from twilio.request_validator import RequestValidator

from messagecenter import collector
from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.models import Message
from tests.conftest import PUBLIC_URL, TWILIO_AUTH_TOKEN
from tests.factories import make_business


def test_healthz_answers_when_the_database_does(api: TestClient) -> None:
    reply = api.get("/healthz")
    assert reply.status_code == 200
    assert reply.json()["database"] == "ok"


def test_healthz_reports_an_unreachable_database() -> None:
    settings = Settings(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    engine = create_engine(settings.database_url, connect_args={"connect_timeout": 1})
    app = create_app(context=build_context(settings, engine=engine), run_dispatcher=False)
    with TestClient(app) as client:
        reply = client.get("/healthz")
    assert reply.status_code == 503
    assert reply.json()["database"] == "unreachable"


def test_openapi_document_lists_the_v1_api(api: TestClient) -> None:
    document = api.get("/openapi.json").json()
    paths = set(document["paths"])
    for path in (
        "/api/v1/clients",
        "/api/v1/clients/{client_id}",
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}/messages",
        "/api/v1/conversations/{conversation_id}/read",
        "/api/v1/conversations/{conversation_id}/unread",
        "/api/v1/messages",
        "/api/v1/unread",
        "/api/v1/usage",
        "/api/v1/events",
    ):
        assert path in paths, path
    assert "bearer" in str(document["components"]["securitySchemes"]).lower()


def test_unknown_routes_and_bad_json_use_the_error_shape(api: TestClient) -> None:
    missing = api.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    bad = api.post(
        "/api/v1/messages",
        content=b"{not json",
        headers={"Authorization": "Bearer x", "Content-Type": "application/json"},
    )
    assert bad.status_code in (400, 401)
    assert set(bad.json()["error"]) >= {"code", "message"}


def test_a_server_process_sets_the_collector_for_one_and_tests_do_not(
    context: AppContext,
) -> None:
    assert gc.get_freeze_count() == 0  # the `api` fixture's app does not freeze
    assert gc.get_threshold()[0] == collector.DEFAULT_THRESHOLDS[0]
    app = create_app(context=context, run_dispatcher=False, server_gc=True)
    try:
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
            # Startup's objects are out of the collector's reach, so full collections no
            # longer scan them; and the young generation is collected less often.
            assert gc.get_freeze_count() > 10_000
            assert gc.get_threshold()[0] == collector.GEN0_THRESHOLD
    finally:
        collector.restore_defaults()


# ------------------------------------------------------------ webhooks' lean app (lean_front.py)


class FullStackSpy:
    """Wraps the full app's middleware stack (sessions, NUL check, routes): the paths that
    reached it."""

    def __init__(self, app: FastAPI) -> None:
        self.paths: list[str] = []
        self._inner = app.middleware_stack or app.build_middleware_stack()
        app.middleware_stack = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self._inner(scope, receive, send)


def signed(form: dict[str, str], path: str = "/webhooks/twilio/sms") -> dict[str, str]:
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_URL + path, form)
    return {"X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"}


def test_webhooks_are_answered_without_the_full_apps_stack_and_keep_the_edge(
    context: AppContext, session: Session, clock: FrozenClock
) -> None:
    shop = make_business(session, context.carrier, clock.now())
    session.commit()
    app = create_app(context=context, run_dispatcher=False)
    with TestClient(app) as client:
        spy = FullStackSpy(app)
        form = {
            "MessageSid": "SM" + "5" * 32,
            "From": "+12125550142",
            "To": shop.number.phone_number,
            "Body": "Hello\x00there",  # a client's text is never refused, NUL or not
        }
        stored = client.post("/webhooks/twilio/sms", content=urlencode(form), headers=signed(form))
        forged = client.post("/webhooks/twilio/sms", data=form)
        forged_status = client.post("/webhooks/twilio/status", data={"MessageSid": "SM1"})
        too_large = client.post(
            "/webhooks/twilio/sms",
            content=b"Body=" + b"x" * (64 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert spy.paths == []  # none of them went through sessions or the page routes

        assert stored.status_code == 200, stored.text
        assert stored.text.endswith("<Response/>")
        assert (forged.status_code, forged_status.status_code, too_large.status_code) == (
            403,
            403,
            413,
        )
        for answer in (stored, forged, too_large):
            assert answer.headers["X-Request-ID"]
            assert answer.headers["Content-Security-Policy"].startswith("default-src 'self'")
            assert "set-cookie" not in answer.headers

        # The same paths with another method are theirs too (a 405); every other path is
        # the full app's.
        refused = client.get("/webhooks/twilio/sms")
        assert (refused.status_code, refused.headers["X-Request-ID"] != "") == (405, True)
        assert client.get("/healthz").status_code == 200
        assert spy.paths == ["/healthz"]
    session.rollback()
    if context.intake.queue_inbound:  # PostgreSQL: the webhook queues it for the workers
        context.intake.process_queued()
    kept = session.scalar(select(Message).where(Message.carrier_sid == form["MessageSid"]))
    assert kept is not None and kept.body_had_nul


def test_pages_keep_their_session_security_headers_and_nul_refusal(api: TestClient) -> None:
    page = api.get("/login")
    nul = api.post("/login", data={"email": "owner\x00@example.com", "password": "x"})

    assert page.status_code == 200
    assert page.headers["set-cookie"].startswith("mc_session=")
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert nul.status_code == 400

"""create_app(): settings, database, routers, and the in-process dispatcher."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp

from messagecenter import __version__, collector, metrics
from messagecenter.businesses.routes import router as business_router
from messagecenter.campaigns.routes import router as bulk_sends_router
from messagecenter.carriers.simulator.routes import router as simulator_router
from messagecenter.carriers.twilio.carrier import SMS_PATH, STATUS_PATH
from messagecenter.carriers.twilio.endpoints import inbound_sms_app, status_callback_app
from messagecenter.carriers.twilio.signature import SignatureChecker, checker_for
from messagecenter.clients.routes import router as clients_router
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.conversations.routes import router as conversations_router
from messagecenter.events import PostgresListener, libpq_dsn
from messagecenter.http.body_limits import BodyLimits
from messagecenter.http.docs import install_docs
from messagecenter.http.errors import ERROR_RESPONSES, install_error_handlers
from messagecenter.http.input_checks import RefuseNul
from messagecenter.http.lean_front import LeanFrontApp
from messagecenter.http.security_headers import SecurityHeaders
from messagecenter.http.server_errors import CompleteServerErrors
from messagecenter.intake.service import MAX_ATTEMPTS
from messagecenter.integrations.routes import router as webhooks_router
from messagecenter.logs import RequestLog
from messagecenter.notes.routes import router as notes_router
from messagecenter.notifications.routes import router as notifications_router
from messagecenter.numbers.routes import router as numbers_router
from messagecenter.operator_api.routes import router as operator_router
from messagecenter.saved_replies.routes import router as saved_replies_router
from messagecenter.sending.dispatcher import STOP_WAIT_SECONDS
from messagecenter.signin.service import SESSION_LIFETIME
from messagecenter.signin.throttle import LoginThrottle
from messagecenter.staff.service import prepare_stand_in_hash
from messagecenter.web.automated import router as automated_router
from messagecenter.web.bulk import router as bulk_page_router
from messagecenter.web.export import router as export_page_router
from messagecenter.web.hours import router as hours_page_router
from messagecenter.web.live import router as live_router
from messagecenter.web.live import staff_router as live_staff_router
from messagecenter.web.manage import router as manage_router
from messagecenter.web.notes import router as notes_page_router
from messagecenter.web.notices import router as notices_router
from messagecenter.web.phone import router as phone_page_router
from messagecenter.web.preferences import router as preferences_router
from messagecenter.web.presence import router as presence_router
from messagecenter.web.routes import router as web_router
from messagecenter.web.saved_replies import router as saved_replies_page_router
from messagecenter.web.unrouted import router as unrouted_page_router
from messagecenter.web.webhooks import router as webhooks_page_router

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "web" / "static"

# What every response of ours passes through, innermost first, on the full app and on the
# webhooks' lean one alike. CompleteServerErrors: an unexpected error still ends in a
# complete 500. BodyLimits: a body over its limit is a 413 before any layer reads it.
# SecurityHeaders: every response carries them, a 413 or 500 too. RequestLog, outermost of
# all: a request id for every log line, one line per request (logs.py).
EDGE_MIDDLEWARE: tuple[Callable[[ASGIApp], ASGIApp], ...] = (
    CompleteServerErrors,
    BodyLimits,
    SecurityHeaders,
    RequestLog,
)


def create_app(
    settings: Settings | None = None,
    *,
    context: AppContext | None = None,
    run_dispatcher: bool = True,
    server_gc: bool = False,
) -> FastAPI:
    """The ASGI app. `run_dispatcher` runs the outbox dispatcher inside this process (always
    so on SQLite; on PostgreSQL `worker` processes may do it instead). `server_gc` is for a
    server process: at startup the garbage collector is set for one (collector.py)."""
    context = context or build_context(settings or Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = context.stopping
        threads: list[threading.Thread] = []
        listener = None
        if not context.settings.is_sqlite and context.engine.dialect.name == "postgresql":
            listener = PostgresListener(libpq_dsn(context.settings.database_url), context.bus)
            listener.start()
        if run_dispatcher:
            thread = threading.Thread(
                target=context.worker.run_forever, args=(stop,), name="worker", daemon=True
            )
            thread.start()
            threads.append(thread)
        if server_gc:
            collector.tune_for_server()
        try:
            yield
        finally:
            # Shutdown (SIGTERM): claim nothing more, let the carrier call in flight finish
            # and record its answer, and give back the claimed messages not yet handed over.
            # The wait is one carrier call and a margin (STOP_WAIT_SECONDS). `serve` sets the
            # stop already when the signal arrives (cli._serve), before HTTP has drained.
            context.stop_dispatching()
            for thread in threads:
                thread.join(timeout=STOP_WAIT_SECONDS)
                if thread.is_alive():
                    log.error("the worker did not stop in time; its call is settled by lookup")
            if listener is not None:
                listener.stop()
            try:
                await context.intake.aclose()
            finally:
                context.reports.close()
                metrics.process_ended()

    app = LeanFrontApp(
        title="Message Center",
        version=__version__,
        description="Two-way SMS between small businesses and their clients.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from the app's own files (no CDN)
        redoc_url=None,
    )
    app.state.context = context
    # Signs sessions and CSRF tokens; generated once and kept beside the SQLite file if unset.
    app.state.secret_key = context.settings.resolved_secret_key()
    app.state.login_throttle = LoginThrottle()
    prepare_stand_in_hash()  # not on the first unknown email, whose time it would give away
    app.add_middleware(RefuseNul)  # a NUL in any field is a 400 naming it (input_checks.py)
    app.add_middleware(
        SessionMiddleware,
        secret_key=app.state.secret_key,
        session_cookie="mc_session",
        max_age=int(SESSION_LIFETIME.total_seconds()),  # the server ends it then too
        same_site="lax",
        https_only=context.settings.public_url.startswith("https://"),
    )
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    install_docs(app)
    install_error_handlers(app)
    for middleware in EDGE_MIDDLEWARE:  # innermost first: the last added is outermost
        app.add_middleware(middleware)
    # Twilio's webhooks, whatever the carrier (a number may still point at them), and the
    # busiest requests: bare ASGI endpoints (carriers/twilio/endpoints.py) that skip all
    # of the above but the edge (http/lean_front.py).
    app.put_in_front(_behind_the_edge(_status_callback(context)), [STATUS_PATH])
    app.put_in_front(_behind_the_edge(_inbound_sms(context)), [SMS_PATH])

    api = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES)
    api.include_router(clients_router)
    api.include_router(conversations_router)
    api.include_router(notifications_router)
    api.include_router(bulk_sends_router)
    api.include_router(business_router)
    api.include_router(numbers_router)
    api.include_router(webhooks_router)
    api.include_router(saved_replies_router)
    api.include_router(notes_router)
    api.include_router(live_router)
    app.include_router(api)
    app.include_router(operator_router)  # its own token, never a business's key
    app.include_router(live_staff_router)
    app.include_router(web_router)
    app.include_router(phone_page_router)
    app.include_router(unrouted_page_router)
    app.include_router(manage_router)
    app.include_router(automated_router)
    app.include_router(webhooks_page_router)
    app.include_router(bulk_page_router)
    app.include_router(hours_page_router)
    app.include_router(export_page_router)
    app.include_router(saved_replies_page_router)
    app.include_router(presence_router)
    app.include_router(notices_router)
    app.include_router(notes_page_router)
    app.include_router(preferences_router)
    if context.simulator is not None:
        app.include_router(simulator_router)

    settings = context.settings
    app.add_api_route(  # Prometheus; a token or loopback only (metrics.py)
        "/metrics",
        metrics.endpoint(context.sessions, context.clock, settings.metrics_token, MAX_ATTEMPTS),
        methods=["GET"],
        include_in_schema=False,
    )

    @app.get("/healthz", tags=["health"])
    def healthz() -> JSONResponse:
        """200 when the app and its database answer; 503 otherwise."""
        try:
            with context.sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception as exc:
            log.warning("health check: database unreachable: %s", exc)
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return app


def _inbound_sms(context: AppContext) -> ASGIApp:
    return inbound_sms_app(
        context.settings.public_url,
        _twilio_checker(context),
        context.intake.accept_inbound,
        # Queued (PostgreSQL): the worker processes them; recorded (SQLite): their replies
        # are due, and their outgoing-webhook events already committed.
        context.worker.wake_for_queued_texts
        if context.intake.queue_inbound
        else context.worker.wake,
    )


def _behind_the_edge(endpoint: ASGIApp) -> ASGIApp:
    """A bare ASGI endpoint wrapped in the edge middlewares only (innermost first)."""
    for middleware in EDGE_MIDDLEWARE:
        endpoint = middleware(endpoint)
    return endpoint


def _status_callback(context: AppContext) -> ASGIApp:
    return status_callback_app(
        context.settings.public_url, _twilio_checker(context), context.reports.receive
    )


def _twilio_checker(context: AppContext) -> SignatureChecker:
    settings = context.settings
    return checker_for(settings.twilio_auth_token, settings.twilio_webhook_secret)


def create_app_from_env() -> FastAPI:
    """Factory for `serve --workers N`: each worker process builds its own app and dispatches."""
    return create_app(Settings(), server_gc=True)


def create_web_app_from_env() -> FastAPI:
    """Factory for `serve --workers N --no-worker`: web only; `worker` processes do the
    background work."""
    return create_app(Settings(), run_dispatcher=False, server_gc=True)

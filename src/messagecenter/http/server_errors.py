"""The last word on an unexpected exception: log it, answer 500, keep the connection.

Starlette's ServerErrorMiddleware answers 500 and then raises the exception again so that the
server logs it; uvicorn, seeing an exception after the response started, closes the
connection. A client that reused that keep-alive connection (a browser, a proxy's pool) had
its next request reset. This middleware sits just inside it, logs the traceback itself and
completes the 500, so the server sees a finished response and keeps the connection open.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from messagecenter.http.errors import error_response

log = logging.getLogger("messagecenter.server_errors")  # the name logs are filtered by


class CompleteServerErrors:
    """Pure ASGI middleware (BaseHTTPMiddleware would buffer streamed responses)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception:
            if started:
                raise  # half a response is out: only closing the connection can end it
            log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            response = error_response(
                Request(scope),
                500,
                "internal_error",
                "Something went wrong on our side; it has been logged. Please try again.",
            )
            await response(scope, receive, send)

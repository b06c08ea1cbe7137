"""Request body limits (DESIGN §2, Input limits): webhooks at most 64 KiB, any other request
at most 1 MiB; a larger body gets 413 before it is read whole.

Twilio's webhooks are a few KiB of form fields, and nothing the app takes is near 1 MiB; the
limits only stop a caller from making the server hold what it sends (four unsigned 50 MB
posts once took it from 136 to 463 MB). A declared Content-Length over the limit is refused
without reading a byte. A body without one (chunked) is read here up to the limit and handed
on, or refused as soon as it passes the limit; either way at most the limit is ever held.

Pure ASGI, and the outermost of the app's own middleware: the refusal is a response, never an
exception raised through the layers inside (FastAPI's own `max_body_size` raises one, which
CompleteServerErrors would answer as a 500, and RefuseNul would read the body before it).
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from messagecenter.http.errors import error_response

WEBHOOK_PREFIX = "/webhooks/"
WEBHOOK_BODY_LIMIT = 64 * 1024
BODY_LIMIT = 1024 * 1024


def limit_for(path: str) -> int:
    return WEBHOOK_BODY_LIMIT if path.startswith(WEBHOOK_PREFIX) else BODY_LIMIT


class BodyLimits:
    """Pure ASGI middleware: 413 for a body over its path's limit, before it is read whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None and declared <= limit:
            # The server reads exactly the declared length (HTTP framing): nothing to count.
            await self.app(scope, receive, send)
            return
        if declared is None:
            messages = await _read_up_to(receive, limit)
            if messages is not None:
                await self.app(scope, _replay(messages, receive), send)
                return
        await _too_large(scope, receive, send, limit)


def _content_length(scope: Scope) -> int | None:
    """The declared length; None when there is none (chunked). The server refuses a
    malformed one before the app sees the request."""
    value = Headers(scope=scope).get("content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


async def _read_up_to(receive: Receive, limit: int) -> list[Message] | None:
    """The body's messages while they total at most `limit` bytes; None as soon as they pass
    it (the rest is never read)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages  # the client went away: the app sees it as it would have
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands the app the messages already read, then the rest as it comes
    (the disconnect a streaming response waits for)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    where = "a webhook" if limit == WEBHOOK_BODY_LIMIT else "a request"
    size = f"{limit // 2**20} MiB" if limit % 2**20 == 0 else f"{limit // 2**10} KiB"
    message = f"The request body is too large: {where} may send at most {size}."
    response = error_response(Request(scope), 413, "body_too_large", message)
    await response(scope, receive, send)

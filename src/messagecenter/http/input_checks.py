"""The edge's check for NUL characters: refused with a 400 naming the field, before any route.

PostgreSQL cannot store a NUL (U+0000) in text, so one that reached a query or an insert
answered 500 there (and SQLite stored it). This middleware looks at everything a route reads
text from: the path, the query string, and url-encoded or JSON bodies; a multipart body (no
route takes an upload) is refused with a 415. One check here instead of one per field, so a
new field or page cannot forget it.

Carrier webhooks are let through: they carry a client's text, which is never refused (the
intake replaces a NUL and keeps the fact; see intake.py), and Twilio would only retry a 400.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from messagecenter.http.body_limits import BODY_LIMIT
from messagecenter.http.errors import error_response
from messagecenter.sms.text import NUL

# Paths whose text comes from a client's phone: replaced in the intake, never refused.
EXEMPT_PREFIXES = ("/webhooks/", "/simulator/")
# BodyLimits sits outside this middleware (app.py) and has already answered 413 to any body
# over BODY_LIMIT, so every body that reaches here is read and checked whole. The cap only
# keeps this middleware from buffering without end were it ever mounted without BodyLimits.
MAX_CHECKED_BODY = BODY_LIMIT


class RefuseNul:
    """Pure ASGI middleware (no BaseHTTPMiddleware: it would buffer streamed responses)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        if _has_body(scope) and _content_type(scope) == "multipart/form-data":
            # No route here takes an upload, yet Form() parses multipart too: refused whole
            # rather than parsed here, so its fields cannot slip past the check below.
            message = (
                "Multipart bodies are not accepted here: send the form url-encoded "
                "(application/x-www-form-urlencoded) or JSON."
            )
            response = error_response(Request(scope), 415, "unsupported_media_type", message)
            await response(scope, receive, send)
            return
        field = nul_field_in_path(scope["path"]) or nul_field_in_query(scope["query_string"])
        if field is None and _reads_text_body(scope):
            messages, complete = await _read_body(receive)
            receive = _replay(messages, receive)
            if complete:
                field = nul_field_in_body(_content_type(scope), _body_bytes(messages))
        if field is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        message = f"{field}: must not contain a NUL character (U+0000)."
        response = error_response(request, 400, "invalid_input", message, field)
        await response(scope, receive, send)


def nul_field_in_path(path: str) -> str | None:
    return "path" if NUL in path else None


def nul_field_in_query(query_string: bytes) -> str | None:
    """The first query parameter whose name or value holds a NUL (after %-decoding)."""
    if b"%00" not in query_string and b"\x00" not in query_string:
        return None
    return _first_nul_pair(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))


def nul_field_in_body(content_type: str, body: bytes) -> str | None:
    if content_type == "application/x-www-form-urlencoded":
        if b"%00" not in body and b"\x00" not in body:
            return None
        return _first_nul_pair(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if content_type == "application/json" or content_type.endswith("+json"):
        if b"\\u0000" not in body and b"\x00" not in body:
            return None
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):
            # Not JSON, or nested deeper than the parser's recursion: the route's own parse
            # fails the same way and answers 400.
            return None
        return _first_nul_in_json(document)
    return None


def _first_nul_pair(pairs: list[tuple[str, str]]) -> str | None:
    for name, value in pairs:
        if NUL in name or NUL in value:
            return _printable(name)
    return None


def _first_nul_in_json(document: Any) -> str | None:
    """The dotted path of the first string (or key) holding a NUL. Walked with an explicit
    stack, not recursion: a document nested thousands deep must not exhaust Python's stack."""
    stack: list[tuple[Any, list[str]]] = [(document, [])]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if NUL in value:
                return ".".join(path) or "body"
        elif isinstance(value, dict):
            for key in value:
                if NUL in key:
                    return ".".join([*path, _printable(key)])
            # Reversed onto the stack, so members are looked at in document order.
            stack.extend((item, [*path, key]) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((item, [*path, str(i)]) for i, item in reversed(list(enumerate(value))))
    return None


def _printable(name: str) -> str:
    return name.replace(NUL, "\\0") or "(empty name)"


def _content_type(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == b"content-type":
            return str(value.decode("latin-1").split(";")[0].strip().lower())
    return ""


def _has_body(scope: Scope) -> bool:
    return scope["method"] not in ("GET", "HEAD", "OPTIONS", "DELETE")


def _reads_text_body(scope: Scope) -> bool:
    if not _has_body(scope):
        return False
    content_type = _content_type(scope)
    return content_type in ("application/x-www-form-urlencoded", "application/json") or (
        content_type.endswith("+json")
    )


async def _read_body(receive: Receive) -> tuple[list[Message], bool]:
    """The body's messages as received, and whether they hold the whole body (a body beyond
    MAX_CHECKED_BODY is left unread after that point and passed on unchecked)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False  # the client went away
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, True
        if size > MAX_CHECKED_BODY:
            return messages, False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands the app the messages already read, then the rest as it comes."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _body_bytes(messages: list[Message]) -> bytes:
    return b"".join(message.get("body", b"") for message in messages)

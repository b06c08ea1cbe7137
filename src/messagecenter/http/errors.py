"""Every error answers {"error": {"code", "message"[, "field"]}} (DESIGN.md §2, JSON API)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from messagecenter.carriers.base import CarrierError
from messagecenter.errors import DomainError
from messagecenter.http.deps import LoginRequired
from messagecenter.http.pages import error_page
from messagecenter.sms.content_rules import ContentRefused


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def _wants_html(request: Request) -> bool:
    """Staff pages get an HTML error page; the API, webhooks and carrier endpoints JSON."""
    path = request.url.path
    if path.startswith(("/api/", "/webhooks/", "/simulator/", "/healthz", "/app/")):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "POST"


def error_response(
    request: Request, status: int, code: str, message: str, field: str | None = None
) -> Response:
    """The error as the caller reads it: a staff page gets the HTML error page, everything
    else the JSON error body."""
    if _wants_html(request):
        return error_page(request, status, message)
    return JSONResponse(error_body(code, message, field), status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(request: Request, _exc: LoginRequired) -> Response:
        if _wants_html(request):
            return RedirectResponse("/login", 303)
        return JSONResponse(error_body("not_authenticated", "Sign in first."), 401)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        if _wants_html(request):
            return error_page(request, exc.status_code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        body = error_body(exc.code, exc.message, exc.field)
        if isinstance(exc, ContentRefused):
            body["error"]["rule"] = exc.rule  # which acceptable-use rule refused it
        body["error"].update(exc.details)
        return JSONResponse(body, exc.status_code, headers=headers)

    @app.exception_handler(CarrierError)
    async def _carrier(_request: Request, exc: CarrierError) -> JSONResponse:
        message = f"The carrier could not do that just now: {exc.message}"
        return JSONResponse(error_body("carrier_unavailable", message), 503)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = list(first.get("loc", ()))
        if loc and loc[0] in ("body", "query", "header", "path"):
            loc = loc[1:]  # where the value came from; the rest names the field
        location = [str(part) for part in loc]
        field = ".".join(location) or None
        if _wants_html(request):
            status, words = plain_words(first)
            return error_page(request, status, words)
        message = str(first.get("msg", "The request is not valid."))
        if field:
            message = f"{field}: {message}"
        return JSONResponse(error_body("invalid_input", message, field), 400)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> Response:
        # A backstop behind input_checks.RefuseNul: PostgreSQL refuses a NUL in text (psycopg
        # says "cannot contain NUL (0x00) bytes"), so one that got past the edge is the
        # caller's bad input, a 400 as on SQLite's side of the check, not a 500.
        if not _is_nul_refusal(exc):
            raise exc  # any other data error is ours: CompleteServerErrors logs it, 500
        message = "The request must not contain a NUL character (U+0000)."
        return error_response(request, 400, "invalid_input", message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_html(request):
            words = PAGE_WORDS.get(exc.status_code, str(exc.detail))
            return error_page(request, exc.status_code, words)
        codes = {404: "not_found", 405: "method_not_allowed", 401: "not_authenticated"}
        code = codes.get(exc.status_code, "http_error")
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, headers=headers)


# The staff pages' words for Starlette's own errors (its detail is "Not Found").
PAGE_WORDS = {
    404: "There is no page at this address. Check the link, or start again from the inbox.",
    405: "This address does not take that kind of request.",
}
_CHOICES = re.compile(r"^\^\((?P<choices>[\w|]*)\)\$$")  # a pattern such as ^(unread|read)$


def plain_words(error: Mapping[str, Any]) -> tuple[int, str]:
    """A staff page's refusal of one bad value, as a status and a sentence a person reads:
    what was wrong and what is allowed, never the value itself (it came from the URL, where
    anyone could have written it). An id in the path that cannot be one names no record:
    404, as an id of a record that is not there."""
    loc = [str(part) for part in error.get("loc", ())]
    source, name = (loc[0], loc[-1]) if loc else ("", "")
    kind, limits = str(error.get("type", "")), error.get("ctx") or {}
    if source == "path":
        thing = name.removesuffix("_id").replace("_", " ") or "page"
        return 404, f"There is no such {thing}: the address does not name one."
    label = f"The {name.replace('_', ' ')}" if name else "A value"
    choices = _CHOICES.match(str(limits.get("pattern", "")))
    if kind == "string_pattern_mismatch" and choices:
        listed = ", ".join(c or "(none)" for c in choices["choices"].split("|"))
        words = f"{label} must be one of: {listed}."
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        words = f"{label} must be a whole number."
    elif kind == "greater_than_equal":
        words = f"{label} must be {limits.get('ge')} or more."
    elif kind == "less_than_equal":
        words = f"{label} must be {limits.get('le')} or less."
    elif kind == "string_too_long":
        words = f"{label} is too long: at most {limits.get('max_length')} characters."
    elif kind == "missing":
        words = f"{label} is missing."
    else:
        words = f"{label} is not one this page takes."
    return 400, words + " Change it and try again."


def _is_nul_refusal(exc: DataError) -> bool:
    reason = str(exc.orig)
    return "NUL" in reason or "0x00" in reason


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path. Starlette's own 405 names only the first
    route that matched the path, though GET and PATCH of one resource are separate routes."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Bad input; `field` names what to fix"},
    401: {"description": "Missing or bad API key"},
    403: {"description": "Not permitted"},
    404: {"description": "Not found (also another business's data)"},
    409: {"description": "Client unsubscribed, allowance used up, or a conflicting request"},
    503: {"description": "The carrier could not be reached; try again"},
}

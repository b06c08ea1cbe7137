"""Domain errors: each carries a stable code, a message that says what to fix, and the HTTP
status the JSON API answers with (DESIGN.md §2, JSON API)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        # More for the caller to act on, beside code and message (the JSON API adds it to
        # the error object).
        self.details: dict[str, Any] = {}
        if code is not None:
            self.code = code


class InvalidInput(DomainError):
    """400: the request itself is wrong; `field` names what to fix."""

    status_code = 400
    code = "invalid_input"


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"


class NotPermitted(DomainError):
    status_code = 403
    code = "not_permitted"


class NotFound(DomainError):
    """404, also for another business's data: its existence is not revealed."""

    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class ClientUnsubscribed(Conflict):
    code = "client_unsubscribed"


class AllowanceExhausted(Conflict):
    code = "allowance_exhausted"

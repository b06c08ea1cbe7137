"""CSRF tokens for the staff pages' forms: one random token per browser session, posted back
as the form's `csrf` field and compared in constant time."""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request

from messagecenter.errors import NotPermitted

SESSION_CSRF = "csrf"


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get(SESSION_CSRF)
    if (
        not expected
        or not submitted
        or not hmac.compare_digest(
            str(expected).encode(),
            submitted.encode(),  # bytes: any character may be posted
        )
    ):
        raise NotPermitted(
            "This form has expired or did not come from this site. Reload the page and try again.",
            code="csrf_failed",
        )

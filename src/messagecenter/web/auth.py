"""Staff sign-in for the web app: signed session cookies, CSRF tokens, login throttling."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from messagecenter.api.deps import SessionDep
from messagecenter.errors import DomainError, NotPermitted
from messagecenter.models import Business, StaffMember
from messagecenter.staff.service import staff_by_email, verify_password

SESSION_STAFF = "staff_id"
SESSION_CSRF = "csrf"
MAX_FAILURES = 5  # per email and per address, within the window
FAILURE_WINDOW_SECONDS = 15 * 60


class LoginRequired(Exception):
    """Raised by web routes for anyone not signed in; answered with a redirect to /login."""


class LoginThrottle:
    """Failed sign-ins per email and per client address, in a sliding window (per process)."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW_SECONDS) -> None:
        self._limit = limit
        self._window = window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> float:
        """Seconds until another attempt is allowed (0 when allowed now)."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key in keys:
                failures = self._failures.get(key)
                while failures and now - failures[0] > self._window:
                    failures.popleft()
                if failures and len(failures) >= self._limit:
                    wait = max(wait, self._window - (now - failures[0]))
        return wait

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)


class LoginRefused(DomainError):
    status_code = 401
    code = "login_refused"


class TooManySignIns(LoginRefused):
    status_code = 429
    code = "too_many_attempts"


def sign_in(
    session: Session, request: Request, throttle: LoginThrottle, email: str, password: str
) -> StaffMember:
    keys = (f"email:{email.strip().lower()}", f"ip:{_client_address(request)}")
    wait = throttle.retry_after(*keys)
    if wait > 0:
        raise TooManySignIns(
            f"Too many failed sign-ins. Try again in {max(1, round(wait / 60))} minute(s)."
        )
    staff = staff_by_email(session, email)
    if staff is None or not staff.active or not verify_password(staff.password_hash, password):
        throttle.failed(*keys)
        raise LoginRefused("That email and password do not match an active login.")
    throttle.succeeded(*keys)
    request.session.clear()  # a fresh session on sign-in (no fixation)
    request.session[SESSION_STAFF] = staff.id
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return staff


def sign_out(request: Request) -> None:
    request.session.clear()


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


def current_staff(request: Request, session: SessionDep) -> StaffMember:
    staff_id = request.session.get(SESSION_STAFF)
    staff = session.get(StaffMember, staff_id) if isinstance(staff_id, int) else None
    if staff is None or not staff.active:
        request.session.clear()
        raise LoginRequired()
    return staff


StaffDep = Annotated[StaffMember, Depends(current_staff)]


def staff_business(session: SessionDep, staff: StaffDep) -> Business:
    business = session.get(Business, staff.business_id)
    assert business is not None
    return business


StaffBusinessDep = Annotated[Business, Depends(staff_business)]


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"

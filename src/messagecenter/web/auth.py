"""Staff sign-in for the web app: server-side sessions behind a signed cookie, CSRF tokens, and
sign-in throttling that every process shares through the database."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from messagecenter.api.deps import SessionDep
from messagecenter.db import session_scope
from messagecenter.errors import DomainError, NotPermitted
from messagecenter.events import access_ended, queue_event_on_commit
from messagecenter.models import Business, StaffMember, WebSession
from messagecenter.staff.service import check_sign_in, staff_by_email
from messagecenter.web.throttle import LoginThrottle, client_address

if TYPE_CHECKING:
    from messagecenter.context import AppContext

SESSION_ID = "sid"  # the web session's random token; the database keeps only its SHA-256
SESSION_CSRF = "csrf"
SESSION_LIFETIME = timedelta(hours=12)  # from sign-in; the cookie's max_age too (app.py)


class LoginRequired(Exception):
    """Raised by web routes for anyone not signed in; answered with a redirect to /login."""


class LoginRefused(DomainError):
    status_code = 401
    code = "login_refused"


class TooManySignIns(LoginRefused):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, wait: timedelta) -> None:
        self.retry_after = max(1, math.ceil(wait.total_seconds()))  # whole seconds, as HTTP says
        if self.retry_after < 120:
            when = f"{self.retry_after} second{'' if self.retry_after == 1 else 's'}"
        else:
            when = f"{math.ceil(self.retry_after / 60)} minutes"
        super().__init__(f"Too many failed sign-ins. Try again in {when}.")


# ---------------------------------------------------------------------------- sessions


def sign_in(context: AppContext, request: Request, email: str, password: str) -> StaffMember:
    """Check the password (throttled) and start a web session for the cookie, ending the one
    this browser had. Raises LoginRefused, or TooManySignIns while a delay runs."""
    email = email.strip().lower()
    if not email or not password:
        raise LoginRefused("Enter your email and password.")
    throttle: LoginThrottle = request.app.state.login_throttle
    address = client_address(request, context.settings.trusted_proxies)
    # Whatever was typed, known or not; keyed, so the table's keys cannot be tried offline
    # against a list of emails.
    account = _keyed_digest(request, email)
    with session_scope(context.sessions) as session:
        wait = throttle.attempt(session, address, account, context.clock)
    if wait > timedelta(0):
        raise TooManySignIns(wait)
    with session_scope(context.sessions) as session:
        member = staff_by_email(session, email)
    # Outside any transaction: argon2's 0.7 s must not hold SQLite's write lock. It runs
    # whether or not the email has a login (check_sign_in), so the time does not tell.
    matches = check_sign_in(member, password)
    if member is None or not matches:
        raise LoginRefused("That email and password do not match an active login.")
    token = secrets.token_urlsafe(32)
    with session_scope(context.sessions) as session:
        throttle.succeeded(session, address, account)
        _end_session(session, request.session.get(SESSION_ID))  # this browser's last one
        now = context.clock.now()
        session.add(
            WebSession(
                id=_digest(token),
                staff_id=member.id,
                created_at=now,
                expires_at=now + SESSION_LIFETIME,
            )
        )
    request.session.clear()  # a fresh cookie on sign-in (no fixation)
    request.session[SESSION_ID] = token
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return member


def sign_out(context: AppContext, request: Request) -> None:
    """End the session on the server (a copy of the cookie is useless from now on), and,
    once that commits, its open event streams in every process."""
    token = request.session.get(SESSION_ID)
    request.session.clear()
    with session_scope(context.sessions) as session:
        _end_session(session, token)


def _end_session(session: Session, token: object) -> None:
    """Delete the web session of a cookie's token, if any, and close its event streams once
    the transaction commits."""
    if not isinstance(token, str):
        return
    found = session.execute(
        select(WebSession.id, StaffMember.business_id)
        .join(StaffMember, StaffMember.id == WebSession.staff_id)
        .where(WebSession.id == _digest(token))
    ).first()
    if found is None:
        return
    session.execute(delete(WebSession).where(WebSession.id == found.id))
    queue_event_on_commit(session, access_ended(found.business_id, web_session=found.id))


def session_staff(session: Session, request: Request) -> tuple[StaffMember, str] | None:
    """The active staff member signed in by this request's cookie, and their web session's
    id; None if there is none, it has ended or expired, or they were deactivated. One read."""
    token = request.session.get(SESSION_ID)
    if not isinstance(token, str):
        return None
    now = request.app.state.context.clock.now()
    found = session.execute(
        select(StaffMember, WebSession.id)
        .join(WebSession, WebSession.staff_id == StaffMember.id)
        .where(
            WebSession.id == _digest(token),
            WebSession.expires_at > now,
            StaffMember.active.is_(True),
        )
    ).first()
    return None if found is None else (found[0], found[1])


def current_staff(request: Request, session: SessionDep) -> StaffMember:
    found = session_staff(session, request)
    if found is None:
        request.session.clear()
        raise LoginRequired()
    return found[0]


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _keyed_digest(request: Request, value: str) -> str:
    key: str = request.app.state.secret_key
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


# ---------------------------------------------------------------------------- CSRF


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


StaffDep = Annotated[StaffMember, Depends(current_staff)]


def staff_business(session: SessionDep, staff: StaffDep) -> Business:
    business = session.get(Business, staff.business_id)
    assert business is not None
    return business


StaffBusinessDep = Annotated[Business, Depends(staff_business)]

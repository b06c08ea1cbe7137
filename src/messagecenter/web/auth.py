"""Staff sign-in for the web app: server-side sessions behind a signed cookie, CSRF tokens, and
sign-in throttling that every process shares through the database."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeSerializer
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
DEVICE_COOKIE = "mc_device"  # a browser that has signed in to an account (web/throttle.py)
DEVICE_LIFETIME = timedelta(days=365)


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


@dataclass(frozen=True)
class SignedIn:
    member: StaffMember
    device_cookie: str  # for remember_device: the answer to the sign-in sets it


def sign_in(context: AppContext, request: Request, email: str, password: str) -> SignedIn:
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
    device = _known_device(request, account, context.clock.now())
    with session_scope(context.sessions) as session:
        wait = throttle.attempt(session, address, account, context.clock, device)
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
        throttle.succeeded(session, address, account, device)
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
    return SignedIn(member, _device_cookie(request, account, context.clock.now()))


# ---------------------------------------------------------------------------- device cookies


def remember_device(context: AppContext, response: Response, signed_in: SignedIn) -> None:
    """Set the device cookie on the answer to a sign-in. It outlives the session and signing
    out (it signs nobody in: it only keys this browser's sign-in failures on its own)."""
    response.set_cookie(
        DEVICE_COOKIE,
        signed_in.device_cookie,
        max_age=int(DEVICE_LIFETIME.total_seconds()),
        path="/login",  # sent only where it is read
        secure=context.settings.public_url.startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def _device_serializer(request: Request) -> URLSafeSerializer:
    # A salt of its own: a session cookie, signed with the same key, is not a device cookie.
    return URLSafeSerializer(request.app.state.secret_key, salt="mc-device")


def _device_cookie(request: Request, account: str, now: datetime) -> str:
    """A new device: a random id, for the account's keyed digest (not the email), until a
    year from now by the app's clock."""
    until = int((now + DEVICE_LIFETIME).timestamp())
    payload = {"account": account, "device": secrets.token_urlsafe(24), "until": until}
    return str(_device_serializer(request).dumps(payload))


def _known_device(request: Request, account: str, now: datetime) -> str | None:
    """The device id of this request's device cookie if it is genuine, unexpired and for the
    email typed; else None, and the attempt counts as from a browser never seen."""
    cookie = request.cookies.get(DEVICE_COOKIE)
    if not cookie:
        return None
    try:
        payload = _device_serializer(request).loads(cookie)
    except BadSignature:  # forged, altered or signed with another key
        return None
    if not isinstance(payload, dict):
        return None
    device, until, named = payload.get("device"), payload.get("until"), payload.get("account")
    if not (isinstance(device, str) and isinstance(until, int) and isinstance(named, str)):
        return None
    if until <= now.timestamp() or not hmac.compare_digest(named, account):
        return None  # expired, or another account's: this browser never signed in to this one
    return device


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

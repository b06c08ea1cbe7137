"""Staff sign-in for the web pages: the session cookie (signed; the server keeps the session,
signin/), the device cookie, and the signed-in staff member as a dependency (CSRF tokens:
http/csrf.py)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from messagecenter.db import session_scope
from messagecenter.http.client_address import client_address
from messagecenter.http.csrf import SESSION_CSRF
from messagecenter.http.deps import LoginRequired, SessionDep
from messagecenter.models import Business, StaffMember
from messagecenter.signin import service as signin
from messagecenter.signin.service import SessionStaff
from messagecenter.signin.throttle import LoginThrottle

if TYPE_CHECKING:
    from messagecenter.context import AppContext

SESSION_ID = "sid"  # the web session's random token; the database keeps only its SHA-256
DEVICE_COOKIE = "mc_device"  # a browser that has signed in to an account (signin/throttle.py)
DEVICE_LIFETIME = timedelta(days=365)


# ---------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class SignedIn:
    member: StaffMember
    device_cookie: str  # for remember_device: the answer to the sign-in sets it


def sign_in(context: AppContext, request: Request, email: str, password: str) -> SignedIn:
    """Sign in (signin.service.sign_in, throttled by this client's address and device) and
    give this browser a fresh cookie for the new web session (no fixation)."""
    throttle: LoginThrottle = request.app.state.login_throttle
    # Whatever was typed, known or not; keyed, so the table's keys cannot be tried offline
    # against a list of emails.
    account = _keyed_digest(request, email.strip().lower())
    member, token = signin.sign_in(
        context.sessions,
        context.clock,
        throttle,
        address=client_address(request, context.settings.trusted_proxies),
        account=account,
        device=_known_device(request, account, context.clock.now()),
        email=email,
        password=password,
        ending=request.session.get(SESSION_ID),
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
        signin.end_web_session(session, token)


def session_staff(session: Session, request: Request) -> SessionStaff | None:
    """The active staff member signed in by this request's cookie, with their business and
    their web session's id; None if there is none, it has ended or expired, or they were
    deactivated."""
    now = request.app.state.context.clock.now()
    return signin.staff_of_session(session, request.session.get(SESSION_ID), now)


def signed_in_staff(request: Request, session: SessionDep) -> SessionStaff:
    found = session_staff(session, request)
    if found is None:
        request.session.clear()
        raise LoginRequired()
    return found


SignedInDep = Annotated[SessionStaff, Depends(signed_in_staff)]  # read once per request


def current_staff(signed_in: SignedInDep) -> StaffMember:
    return signed_in.member


def _keyed_digest(request: Request, value: str) -> str:
    key: str = request.app.state.secret_key
    return hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()


StaffDep = Annotated[StaffMember, Depends(current_staff)]


def staff_business(signed_in: SignedInDep) -> Business:
    return signed_in.business


StaffBusinessDep = Annotated[Business, Depends(staff_business)]

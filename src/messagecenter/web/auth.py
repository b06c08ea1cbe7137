"""Staff sign-in for the web app: server-side sessions behind a signed cookie, CSRF tokens, and
sign-in throttling that every process shares through the database."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from messagecenter.api.deps import SessionDep
from messagecenter.db import insert_ignore_many, session_scope
from messagecenter.errors import DomainError, NotPermitted
from messagecenter.events import access_ended, queue_event_on_commit
from messagecenter.models import Business, SignInFailure, StaffMember, WebSession
from messagecenter.staff.service import check_sign_in, staff_by_email

if TYPE_CHECKING:
    from messagecenter.context import AppContext

SESSION_ID = "sid"  # the web session's random token; the database keeps only its SHA-256
SESSION_CSRF = "csrf"
SESSION_LIFETIME = timedelta(hours=12)  # from sign-in; the cookie's max_age too (app.py)

Network = IPv4Network | IPv6Network


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
            when = f"{self.retry_after} seconds"
        else:
            when = f"{math.ceil(self.retry_after / 60)} minutes"
        super().__init__(f"Too many failed sign-ins. Try again in {when}.")


# ---------------------------------------------------------------------------- throttling


@dataclass(frozen=True)
class Backoff:
    """After `free` failures, each further one doubles the wait: `first`, 2x, 4x ... `cap`."""

    free: int
    first: timedelta
    cap: timedelta

    def delay(self, failures: int) -> timedelta:
        if failures < self.free:
            return timedelta(0)
        doublings = failures - self.free
        return self.cap if doublings >= 32 else min(self.first * 2**doublings, self.cap)


class LoginThrottle:
    """Failed sign-ins, counted in the database so every process (`--workers`) shares them.

    No fixed lockout: a delay grows with the failures of a key and is forgotten a day after
    the last one. The delay is keyed on (account, address), because anything keyed on the
    account alone lets a stranger lock its owner out, and anything keyed on the address alone
    locks out everyone behind one NAT or proxy. So a stranger hammering an email only slows
    themself; the owner still signs in from their own address. Guessing one password from
    many addresses is bounded per address (and by argon2's cost); IPv6 counts per /64, the
    block one subscriber is given.

    One address spraying many accounts meets a second, address-wide delay. It starts later
    and stays short (at most 30 s), so a colleague at the same address who types the right
    password waits briefly at worst.

    Each attempt is counted as a failure before its password is checked, in one short
    transaction holding the key's rows, so parallel requests cannot slip past a delay; a
    success then clears its (account, address) key and takes its count off the address.
    """

    def __init__(
        self,
        per_account: Backoff = Backoff(5, timedelta(seconds=15), timedelta(minutes=15)),
        per_address: Backoff = Backoff(20, timedelta(seconds=1), timedelta(seconds=30)),
        forget_after: timedelta = timedelta(hours=24),
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.forget_after = forget_after

    def attempt(self, session: Session, address: str, account: str, now: datetime) -> timedelta:
        """Count an attempt as failed and return 0; or, while a delay runs, count nothing and
        return how long is left."""
        rows = self._locked_rows(session, address, account, now)
        for row in rows:
            if row.last_failed_at <= now - self.forget_after:
                row.failures, row.retry_at = 0, now  # forgotten, not yet cleared away
        wait = max(row.retry_at - now for row in rows)
        if wait > timedelta(0):
            return wait
        for row in rows:
            row.failures += 1
            row.last_failed_at = now
            backoff = self.per_address if row.account == "" else self.per_account
            row.retry_at = now + backoff.delay(row.failures)
        session.execute(
            delete(SignInFailure).where(SignInFailure.last_failed_at < now - self.forget_after)
        )
        return timedelta(0)

    def succeeded(self, session: Session, address: str, account: str) -> None:
        session.execute(
            delete(SignInFailure).where(
                SignInFailure.address == address, SignInFailure.account == account
            )
        )
        # Not cleared: one good password must not wipe what others did from the address.
        session.execute(
            update(SignInFailure)
            .where(
                SignInFailure.address == address,
                SignInFailure.account == "",
                SignInFailure.failures > 0,
            )
            .values(failures=SignInFailure.failures - 1)
        )

    def _locked_rows(
        self, session: Session, address: str, account: str, now: datetime
    ) -> list[SignInFailure]:
        """The key's two rows (created if new), locked until the transaction ends (rows on
        PostgreSQL, the database on SQLite: BEGIN IMMEDIATE), always in the same order."""
        insert_ignore_many(
            session,
            SignInFailure.__table__,  # type: ignore[arg-type]
            [
                dict(address=address, account=key, failures=0, retry_at=now, last_failed_at=now)
                for key in ("", account)
            ],
            ["address", "account"],
        )
        return list(
            session.scalars(
                select(SignInFailure)
                .where(SignInFailure.address == address, SignInFailure.account.in_(("", account)))
                .order_by(SignInFailure.account)
                .with_for_update()
            )
        )


def client_address(request: Request, trusted: Sequence[Network]) -> str:
    """Where the request came from, as the throttle counts it. X-Forwarded-For is believed only
    when the connection comes from a trusted proxy, and read from the right: each trusted hop
    vouches for the one before it, and the first untrusted one is the client."""
    peer = request.client.host if request.client else ""
    address = _parse_address(peer)
    if address is None:
        return peer[:64] or "unknown"
    if any(address in network for network in trusted):
        hops = [
            hop.strip()
            for header in request.headers.getlist("x-forwarded-for")
            for hop in header.split(",")
        ]
        for hop in reversed(hops):
            forwarded = _parse_address(hop)
            if forwarded is None:  # not written by a proxy: stop at the last one vouched for
                break
            address = forwarded
            if not any(forwarded in network for network in trusted):
                break
    if isinstance(address, IPv6Address):
        return str(ip_network(f"{address}/64", strict=False))
    return str(address)


def _parse_address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


# ---------------------------------------------------------------------------- sessions


def sign_in(context: AppContext, request: Request, email: str, password: str) -> StaffMember:
    """Check the password (throttled) and start a web session for the cookie. Raises
    LoginRefused, or TooManySignIns while a delay runs."""
    email = email.strip().lower()
    if not email or not password:
        raise LoginRefused("Enter your email and password.")
    throttle: LoginThrottle = request.app.state.login_throttle
    address = client_address(request, context.settings.trusted_proxies)
    account = _digest(email)  # whatever was typed, known or not: the table holds no emails
    with session_scope(context.sessions) as session:
        wait = throttle.attempt(session, address, account, context.clock.now())
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
        now = context.clock.now()
        session.execute(delete(WebSession).where(WebSession.expires_at <= now))  # long gone
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
    if not isinstance(token, str):
        return
    with session_scope(context.sessions) as session:
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

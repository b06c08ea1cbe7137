"""Web sessions on the server: started at sign-in, ended at sign-out (or by expiry), and the
housekeeping of sessions and forgotten sign-in failures. A session is known by the SHA-256 of
its random token: the cookie holds the token, the database only its digest."""

from __future__ import annotations

import hashlib
import math
import secrets
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.orm import Session, sessionmaker

from messagecenter.clock import Clock
from messagecenter.db import session_scope
from messagecenter.errors import DomainError
from messagecenter.events import access_ended, queue_event_on_commit
from messagecenter.models import Business, StaffMember
from messagecenter.signin import queries
from messagecenter.signin.throttle import FORGET_AFTER, LoginThrottle
from messagecenter.staff.service import check_sign_in, staff_by_email

SESSION_LIFETIME = timedelta(hours=12)  # from sign-in; the cookie's max_age too (app.py)


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


def sign_in(
    sessions: sessionmaker[Session],
    clock: Clock,
    throttle: LoginThrottle,
    *,
    address: str,
    account: str,
    device: str | None,
    email: str,
    password: str,
    ending: object,
) -> tuple[StaffMember, str]:
    """Check the password (throttled) and start a web session, ending the one `ending` (the
    browser's last token) named. Returns the member and the new session's token. Raises
    LoginRefused, or TooManySignIns while a delay runs. Each step is its own short unit of
    work: the attempt must count even when the password is wrong."""
    email = email.strip().lower()
    if not email or not password:
        raise LoginRefused("Enter your email and password.")
    with session_scope(sessions) as session:
        wait = throttle.attempt(session, address, account, clock, device)
    if wait > timedelta(0):
        raise TooManySignIns(wait)
    with session_scope(sessions) as session:
        member = staff_by_email(session, email)
    # Outside any transaction: argon2's 0.7 s must not hold SQLite's write lock. It runs
    # whether or not the email has a login (check_sign_in), so the time does not tell.
    matches = check_sign_in(member, password)
    if member is None or not matches:
        raise LoginRefused("That email and password do not match an active login.")
    token = secrets.token_urlsafe(32)
    with session_scope(sessions) as session:
        throttle.succeeded(session, address, account, device)
        end_web_session(session, ending)  # this browser's last one
        start_web_session(session, member.id, token, clock.now())
    return member, token


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_web_session(session: Session, staff_id: int, token: str, now: datetime) -> None:
    queries.add_web_session(session, token_digest(token), staff_id, now, now + SESSION_LIFETIME)


def end_web_session(session: Session, token: object) -> None:
    """Delete the web session of a cookie's token, if any, and close its event streams once
    the transaction commits."""
    if not isinstance(token, str):
        return
    digest = token_digest(token)
    business_id = queries.web_session_business(session, digest)
    if business_id is None:
        return
    queries.delete_web_session(session, digest)
    queue_event_on_commit(session, access_ended(business_id, web_session=digest))


class SessionStaff(NamedTuple):
    """Who a web session signs in: the staff member, their business, the session's id."""

    member: StaffMember
    business: Business
    web_session: str


def staff_of_session(session: Session, token: object, now: datetime) -> SessionStaff | None:
    """The active staff member signed in by a cookie's token, with their business and their
    web session's id; None if there is none, it has ended or expired, or they were
    deactivated. One read."""
    if not isinstance(token, str):
        return None
    digest = token_digest(token)
    found = queries.active_staff_of_session(session, digest, now)
    return None if found is None else SessionStaff(found[0], found[1], digest)


def purge_sign_ins(session: Session, now: datetime, forget_after: timedelta = FORGET_AFTER) -> None:
    """Housekeeping (the background worker): failures forgotten and sessions expired. Apart
    from any sign-in's transaction, and on PostgreSQL skipping rows a sign-in holds, so it
    never waits for one nor deadlocks with one."""
    queries.delete_failures_before(session, now - forget_after)
    queries.delete_sessions_expired(session, now)

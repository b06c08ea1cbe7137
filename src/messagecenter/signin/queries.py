"""Sign-in's SQL: failed-attempt rows (created and locked in one statement, cleared, purged)
and web sessions (stored by the SHA-256 of their token)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from messagecenter.models import Business, SignInFailure, StaffMember, WebSession

# ---------------------------------------------------------------------------- failures


def locked_failure_rows(
    session: Session, keys: list[tuple[str, str]], now: datetime
) -> list[SignInFailure]:
    """The (address, account) rows of `keys`, created if new, locked until the transaction
    ends (rows on PostgreSQL, the database on SQLite: BEGIN IMMEDIATE), in `keys`' order.

    One statement both creates and locks: ON CONFLICT DO UPDATE locks a row that exists
    (DO NOTHING would not, and a purge could delete it before a later SELECT FOR UPDATE)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(SignInFailure).values(
        [
            dict(address=address, account=key, failures=0, retry_at=now, last_failed_at=now)
            for address, key in keys
        ]
    )
    locking = stmt.on_conflict_do_update(
        index_elements=["address", "account"],
        set_={"address": stmt.excluded.address},  # no change: only the lock is wanted
    ).returning(SignInFailure)
    return list(session.scalars(locking, execution_options={"populate_existing": True}).all())


def clear_failures(session: Session, address: str, account: str) -> None:
    session.execute(
        delete(SignInFailure).where(
            SignInFailure.address == address, SignInFailure.account == account
        )
    )


def take_one_off_address(session: Session, address: str) -> None:
    """One failure fewer on the address-wide row ("" account), never below none."""
    take_one_off(session, address, "")


def take_one_off(session: Session, address: str, account: str) -> None:
    """One failure fewer on a row, never below none."""
    session.execute(
        update(SignInFailure)
        .where(
            SignInFailure.address == address,
            SignInFailure.account == account,
            SignInFailure.failures > 0,
        )
        .values(failures=SignInFailure.failures - 1)
    )


def delete_failures_before(session: Session, before: datetime) -> None:
    """Rows whose last failure is at or before `before`; on PostgreSQL skipping rows a
    sign-in holds, so it never waits for one nor deadlocks with one."""
    stale = select(SignInFailure.address, SignInFailure.account).where(
        SignInFailure.last_failed_at <= before
    )
    if session.get_bind().dialect.name == "postgresql":
        stale = stale.with_for_update(skip_locked=True)
    session.execute(
        delete(SignInFailure).where(tuple_(SignInFailure.address, SignInFailure.account).in_(stale))
    )


# ---------------------------------------------------------------------------- web sessions


def add_web_session(
    session: Session, digest: str, staff_id: int, created_at: datetime, expires_at: datetime
) -> None:
    session.add(
        WebSession(id=digest, staff_id=staff_id, created_at=created_at, expires_at=expires_at)
    )


def web_session_business(session: Session, digest: str) -> int | None:
    """The business of the staff member whose web session this is; None if there is none."""
    return session.scalar(
        select(StaffMember.business_id)
        .join(WebSession, WebSession.staff_id == StaffMember.id)
        .where(WebSession.id == digest)
    )


def web_session_expiry(session: Session, web_session: str) -> datetime | None:
    """When a web session ends (its id is the digest the cookie's token names)."""
    return session.scalar(select(WebSession.expires_at).where(WebSession.id == web_session))


def delete_web_session(session: Session, digest: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == digest))


_STAFF_OF_SESSION = (  # built once: every signed-in request reads it
    select(StaffMember, Business)
    .join(WebSession, WebSession.staff_id == StaffMember.id)
    .join(Business, Business.id == StaffMember.business_id)
    .where(
        WebSession.id == bindparam("digest"),
        WebSession.expires_at > bindparam("now"),
        StaffMember.active.is_(True),
    )
)


def active_staff_of_session(
    session: Session, digest: str, now: datetime
) -> tuple[StaffMember, Business] | None:
    """The active staff member of an unexpired web session, with their business (every page
    needs both). One read."""
    row = session.execute(_STAFF_OF_SESSION, {"digest": digest, "now": now}).first()
    return None if row is None else (row[0], row[1])


def delete_sessions_expired(session: Session, now: datetime) -> None:
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))

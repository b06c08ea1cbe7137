"""Staff members and their passwords (argon2id)."""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from messagecenter.clients.phone import parse_cell_phone
from messagecenter.errors import Conflict, InvalidInput, NotFound
from messagecenter.events import access_ended, queue_event_on_commit
from messagecenter.models import StaffMember, WebSession
from messagecenter.models.staff import BADGE_ALL, BADGE_MINE, ROLE_OWNER, ROLE_STAFF

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def check_sign_in(member: StaffMember | None, password: str) -> bool:
    """Whether `password` signs `member` in. argon2 runs exactly once either way: for an
    unknown email or an inactive login against a stand-in hash, so the answer takes as long
    as for a known one and the time does not tell which emails have a login."""
    if member is None or not member.active:
        verify_password(_stand_in_hash(_hasher), password)
        return False
    return verify_password(member.password_hash, password)


def prepare_stand_in_hash() -> None:
    """Make the stand-in hash now (app start), so the first unknown email a process sees does
    not pay for a second hash, which would tell it apart by its time."""
    _stand_in_hash(_hasher)


@lru_cache(maxsize=1)
def _stand_in_hash(hasher: PasswordHasher) -> str:
    """A hash of a random password, by the hasher in use (the same cost as real ones)."""
    return hasher.hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def create_staff_member(
    session: Session,
    *,
    business_id: int,
    email: str,
    name: str,
    role: str,
    can_send_sms: bool,
    password: str,
    at: datetime,
) -> StaffMember:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidInput(f"{email!r} is not an email address.", field="email")
    _check_role(role)
    if len(password) < 8:
        raise InvalidInput("Passwords need at least 8 characters.", field="password")
    if session.scalar(select(StaffMember.id).where(func.lower(StaffMember.email) == email)):
        raise Conflict(f"{email} already has a login.", code="email_taken")
    member = StaffMember(
        business_id=business_id,
        email=email,
        name=name.strip() or email,
        role=role,
        can_send_sms=can_send_sms or role == ROLE_OWNER,
        password_hash=hash_password(password),
        active=True,
        created_at=at,
    )
    session.add(member)
    session.flush()
    return member


def _check_role(role: str) -> None:
    if role not in (ROLE_OWNER, ROLE_STAFF):
        raise InvalidInput("The role must be 'owner' or 'staff'.", field="role")


def staff_by_email(session: Session, email: str) -> StaffMember | None:
    return session.scalar(
        select(StaffMember).where(func.lower(StaffMember.email) == email.strip().lower())
    )


def list_staff(session: Session, business_id: int) -> list[StaffMember]:
    return list(
        session.scalars(
            select(StaffMember)
            .where(StaffMember.business_id == business_id)
            .order_by(StaffMember.active.desc(), StaffMember.name)
        )
    )


def update_staff_member(
    session: Session,
    business_id: int,
    staff_id: int,
    *,
    acting: StaffMember,
    role: str | None = None,
    can_send_sms: bool | None = None,
    active: bool | None = None,
) -> StaffMember:
    """Change a login of the same business; an owner cannot lock themself out."""
    member = staff_member(session, business_id, staff_id)
    if member.id == acting.id and (active is False or (role is not None and role != ROLE_OWNER)):
        raise Conflict("You cannot deactivate yourself or give up your own owner role.")
    if role is not None:
        _check_role(role)
        member.role = role
    if can_send_sms is not None:
        member.can_send_sms = can_send_sms or member.role == ROLE_OWNER
    if active is not None:
        if member.active and not active:
            end_staff_sessions(session, member)
        member.active = active
    session.flush()
    return member


def staff_member(session: Session, business_id: int, staff_id: int) -> StaffMember:
    """A login of this business; NotFound for another business's (its existence not told)."""
    member = session.scalar(
        select(StaffMember).where(
            StaffMember.id == staff_id, StaffMember.business_id == business_id
        )
    )
    if member is None:
        raise NotFound("No such staff member.")
    return member


def owners(session: Session, business_id: int) -> list[StaffMember]:
    """The business's active owners, oldest login first."""
    return list(
        session.scalars(
            select(StaffMember)
            .where(
                StaffMember.business_id == business_id,
                StaffMember.role == ROLE_OWNER,
                StaffMember.active.is_(True),
            )
            .order_by(StaffMember.created_at, StaffMember.id)
        )
    )


def reset_password(session: Session, member: StaffMember) -> str:
    """Give `member` a new generated password, returned to be handed over once. Their
    sessions end: a reset is what follows a password that leaked or was forgotten, and
    whoever holds the old one must be shut out, not only from the next sign-in."""
    password = generate_password()
    member.password_hash = hash_password(password)
    end_staff_sessions(session, member)
    session.flush()
    return password


def end_staff_sessions(session: Session, member: StaffMember) -> None:
    """Sign `member` out everywhere: their web sessions end, and once this commits every
    process closes their open event streams."""
    session.execute(delete(WebSession).where(WebSession.staff_id == member.id))
    queue_event_on_commit(session, access_ended(member.business_id, staff_id=member.id))


def set_cell_phone(session: Session, member: StaffMember, raw: str, country: str) -> StaffMember:
    """A staff member's own cell phone (where "Send a test" of an automated message goes),
    checked as a client's is; blank clears it."""
    member.cell_phone = parse_cell_phone(raw, country) if raw.strip() else None
    session.flush()
    return member


def set_badge_preference(
    session: Session, member: StaffMember, counts: str, shown: bool
) -> StaffMember:
    """What the staff member's top-bar Message badge counts (all unread, or only the
    conversations assigned to them) and whether it shows."""
    if counts not in (BADGE_ALL, BADGE_MINE):
        raise InvalidInput(
            f"The badge counts '{BADGE_ALL}' (all unread) or '{BADGE_MINE}' (assigned to me).",
            field="badge_counts",
        )
    member.badge_counts = counts
    member.badge_shown = shown
    session.flush()
    return member

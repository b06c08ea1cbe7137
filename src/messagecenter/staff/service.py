"""Staff members and their passwords (argon2id)."""

from __future__ import annotations

import secrets
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.errors import Conflict, InvalidInput
from messagecenter.models import StaffMember
from messagecenter.models.staff import ROLE_OWNER, ROLE_STAFF

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


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
    if role not in (ROLE_OWNER, ROLE_STAFF):
        raise InvalidInput("The role must be 'owner' or 'staff'.", field="role")
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


def staff_by_email(session: Session, email: str) -> StaffMember | None:
    return session.scalar(
        select(StaffMember).where(func.lower(StaffMember.email) == email.strip().lower())
    )

"""Staff members (web app users) and API keys (JSON API credentials)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

ROLE_OWNER = "owner"
ROLE_STAFF = "staff"
# What the top bar's Message badge counts for a staff member.
BADGE_ALL = "all"  # the business's unread client messages (the shared rule)
BADGE_MINE = "mine"  # the unread client messages of conversations assigned to them


class StaffMember(Base):
    __tablename__ = "staff_members"
    __table_args__ = (
        CheckConstraint("role IN ('owner', 'staff')", name="role"),
        CheckConstraint("badge_counts IN ('all', 'mine')", name="badge_counts"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(10))
    can_send_sms: Mapped[bool] = mapped_column(Boolean, default=False)
    # E.164: where "Send a test" of an automated message goes.
    cell_phone: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    badge_counts: Mapped[str] = mapped_column(String(10), default=BADGE_ALL)
    badge_shown: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # shown to identify the key
    # SHA-256 of the whole key: keys are 256-bit random, so a fast hash is enough.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

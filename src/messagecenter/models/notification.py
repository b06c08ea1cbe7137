"""Automated notifications: each business's templates, and every notification a booking
system triggered (queued with its message, skipped with its reason, or cancelled)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

# Where a notification stands. "Sent" is not stored: it is read from its message's status.
NOTIFICATION_QUEUED = "queued"  # its message is in the outbox (or beyond)
NOTIFICATION_SKIPPED = "skipped"  # not sent, for `reason`
NOTIFICATION_CANCELLED = "cancelled"  # withdrawn (or replaced) before its message went
NOTIFICATION_STATES = (NOTIFICATION_QUEUED, NOTIFICATION_SKIPPED, NOTIFICATION_CANCELLED)

# The due key of a notification without send_at: one "send now" per (type, reference).
DUE_NOW = "now"


class NotificationTemplate(Base):
    """A business's own switch and wording for one notification type; a type without a row
    uses the catalogue's default (so a new business starts with the defaults)."""

    __tablename__ = "notification_templates"
    __table_args__ = (UniqueConstraint("business_id", "type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    type: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean)
    body: Mapped[str | None] = mapped_column(Text)  # None: the catalogue's default wording
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Notification(Base):
    """One trigger of a notification type for a client and a reference (the booking).

    (business, type, reference, due_key) is unique: whatever the booking system retries, the
    same notification is one row and at most one message."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("business_id", "type", "reference", "due_key"),
        CheckConstraint("status IN ('queued', 'skipped', 'cancelled')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    type: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(200))
    # send_at in UTC ISO form, or DUE_NOW: a NULL would not be unique in the key.
    due_key: Mapped[str] = mapped_column(String(40))
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(12))
    reason_code: Mapped[str | None] = mapped_column(String(40))  # machine word of the reason
    reason: Mapped[str | None] = mapped_column(Text)  # in words, for people
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"), index=True)
    # The client confirmed the booking by answering its message YES (that text's id).
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmation_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


@dataclass(frozen=True, slots=True)
class NotificationRecord:
    """A notification a trigger has just written, as it now stands, made from what was written
    instead of being read back (a batch of a thousand answers without loading a thousand
    rows). Read as a Notification is: the same attribute names."""

    id: int
    business_id: int
    type: str
    category: str
    reference: str
    due_key: str
    send_at: datetime | None
    client_id: int
    data: dict[str, Any]
    status: str
    reason_code: str | None
    reason: str | None
    message_id: int | None
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None = None
    confirmation_message_id: int | None = None

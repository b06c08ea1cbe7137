"""A bulk send: one text (a template) to many clients, chosen or picked by a filter. Its
messages go through the same compose path as every send and carry its id, so its progress is
read from them; the clients it skipped are counted by reason on the record itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

# Where a bulk send stands.
BULK_SCHEDULED = "scheduled"  # waits for send_at; text and audience may still change
BULK_SENT = "sent"  # its messages are in the outbox (the dispatcher sends them at its pace)
BULK_CANCELLED = "cancelled"  # cancelled before it went, or its unsent rest withdrawn
BULK_STATES = (BULK_SCHEDULED, BULK_SENT, BULK_CANCELLED)


class BulkSend(Base):
    __tablename__ = "bulk_sends"
    __table_args__ = (
        # The creator's key: creating the same send again answers the first one.
        UniqueConstraint("business_id", "request_key"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in BULK_STATES) + ")", name="status"
        ),
        Index("ix_bulk_sends_due", "status", "send_at"),  # the worker's scheduled ones
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    request_key: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)  # the template ([Firstname] ...), as written
    category: Mapped[str] = mapped_column(String(20))  # marketing or account
    # {"client_ids": [...]} or {"filter": {...}}: who it goes to, as chosen
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12))
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: at once
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    recipients: Mapped[int] = mapped_column(Integer, default=0)  # messages queued
    units: Mapped[int] = mapped_column(Integer, default=0)  # allowance units they use
    skipped: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # reason: clients
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

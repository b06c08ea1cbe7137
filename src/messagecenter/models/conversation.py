"""Conversations: one per business and client phone number."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

# Inbox folders.
FOLDER_UNREAD = "unread"  # the client wrote and no staff member has opened it since
FOLDER_READ = "read"  # opened, not answered
FOLDER_REPLIED = "replied"  # the business answered last
FOLDER_ARCHIVED = "archived"  # put away by staff until the client writes again
FOLDERS = (FOLDER_UNREAD, FOLDER_READ, FOLDER_REPLIED, FOLDER_ARCHIVED)

# A client's phone as the carrier sent it: E.164 (16 characters at most) or a channel address
# such as `whatsapp:+447700900123`. Twilio's addresses are shorter; a longer sender is kept
# with the unrouted texts (see intake.py).
CARRIER_PHONE_LENGTH = 64


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        UniqueConstraint("business_id", "phone"),
        CheckConstraint("folder IN ('unread', 'read', 'replied', 'archived')", name="folder"),
        CheckConstraint("unread_count >= 0", name="unread_not_negative"),
        # The inbox's order (pinned first, newest first), with and without a folder: a page is
        # read straight off the index even with 100,000 conversations.
        # blocked_at last: a folder's count (blocked numbers left out) reads the index alone.
        Index(
            "ix_conversations_inbox",
            "business_id",
            "folder",
            "pinned",
            "last_message_at",
            "id",
            "blocked_at",
        ),
        Index(
            "ix_conversations_all", "business_id", "pinned", "last_message_at", "id", "blocked_at"
        ),
        Index("ix_conversations_client_id", "client_id"),
        Index("ix_conversations_assignee", "business_id", "assignee_id"),
        # The few blocked ones, for their view and its count.
        Index(
            "ix_conversations_blocked",
            "business_id",
            "blocked_at",
            sqlite_where=text("blocked_at IS NOT NULL"),
            postgresql_where=text("blocked_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    # The client's number (E.164) or channel address, as the carrier sent it.
    phone: Mapped[str] = mapped_column(String(CARRIER_PHONE_LENGTH))
    # None while the sender is an unidentified contact.
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id"))
    folder: Mapped[str] = mapped_column(String(10))
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    muted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Blocked by staff: its texts are kept and counted but stay out of the inbox and the badge
    # (a blocked conversation is muted; `muted_by_block` says the block did it, so unblocking
    # unmutes it again).
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    muted_by_block: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The last after-hours answer sent here (at most one per 12 hours: intake/after_hours.py).
    after_hours_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_message_preview: Mapped[str] = mapped_column(String(160), default="")
    last_read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The staff member who answers it (an active one of the business), None: unassigned.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

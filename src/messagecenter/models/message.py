"""Messages (which are also the outbox) and the carrier's status callbacks."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

DIRECTION_INBOUND = "inbound"  # from the client to the business
DIRECTION_OUTBOUND = "outbound"  # from the business (or the carrier on its behalf)

# Who wrote a message.
SENDER_CLIENT = "client"  # the client's phone
SENDER_STAFF = "staff"  # a staff member in the web app
SENDER_API_KEY = "api_key"  # an integration using an API key
SENDER_AUTOMATED = "automated"  # notifications and the app's own keyword replies
SENDER_CARRIER = "carrier"  # the carrier's automatic keyword reply; uses no units

# Where an outbound message is in our outbox (statuses are in messagecenter.sending.status).
DISPATCH_PENDING = "pending"  # waiting for the dispatcher
DISPATCH_HELD = "held"  # a dispatcher holds it but has not called the carrier yet
DISPATCH_SENDING = "sending"  # handed to the carrier (at claimed_at): settled by our id only
# Written only by dispatchers older than migration 0006, which may have called the carrier
# without marking it first: as ambiguous as sending (a rolling upgrade leaves some behind).
DISPATCH_CLAIMED = "claimed"
UNSETTLED_SQL = "dispatch_state IN ('sending', 'claimed')"
# The outbox's order: replies and transactional texts first, bulk traffic (a bulk send's
# texts, marketing) after them; the claim orders by this expression, which an index serves.
BULK_LAST_SQL = "(CASE WHEN bulk_send_id IS NOT NULL OR category = 'marketing' THEN 1 ELSE 0 END)"
DISPATCH_ACCEPTED = "accepted"  # the carrier took it (we hold its sid)
DISPATCH_REJECTED = "rejected"  # the carrier refused it before accepting; units given back
DISPATCH_NONE = "none"  # inbound and carrier entries: nothing to dispatch


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint("direction IN ('inbound', 'outbound')", name="direction"),
        CheckConstraint("units >= 0", name="units_not_negative"),
        UniqueConstraint("carrier_sid"),
        Index("ix_messages_conversation", "conversation_id", "created_at"),
        Index("ix_messages_conversation_id", "conversation_id", "id"),  # a thread's pages
        Index("ix_messages_business_created", "business_id", "created_at"),
        Index(
            "ix_messages_outbox",
            "next_attempt_at",
            sqlite_where=text("dispatch_state = 'pending'"),
            postgresql_where=text("dispatch_state = 'pending'"),
        ),
        Index(
            "ix_messages_held",
            "claimed_at",
            sqlite_where=text("dispatch_state = 'held'"),
            postgresql_where=text("dispatch_state = 'held'"),
        ),
        Index(
            "ix_messages_unsettled",
            "next_attempt_at",
            sqlite_where=text(UNSETTLED_SQL),
            postgresql_where=text(UNSETTLED_SQL),
        ),
        Index(
            "ix_messages_outbox_priority",
            text(BULK_LAST_SQL),
            "next_attempt_at",
            "id",
            sqlite_where=text("dispatch_state = 'pending'"),
            postgresql_where=text("dispatch_state = 'pending'"),
        ),
        Index("ix_messages_bulk_send", "bulk_send_id", "status"),  # a bulk send's progress
        # The marketing frequency cap: a business's recent marketing texts, per phone.
        Index("ix_messages_business_category", "business_id", "category", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(10))
    sender_type: Mapped[str] = mapped_column(String(10))
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    # E.164 or a channel address (whatsapp:+...), as the carrier sent it: CARRIER_PHONE_LENGTH.
    from_phone: Mapped[str] = mapped_column(String(64))
    to_phone: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, default="")
    # The client's text held NUL characters, stored as U+FFFD (the database cannot hold one).
    body_had_nul: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    encoding: Mapped[str] = mapped_column(String(5))
    segments: Mapped[int] = mapped_column(Integer)
    units: Mapped[int] = mapped_column(Integer)  # allowance units this message uses
    status: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(String(300))
    carrier_sid: Mapped[str | None] = mapped_column(String(64))
    # The sid was matched by a lookup (same text, numbers and time), so it may be a twin's:
    # the carrier's own answer to our create, or a callback naming our id, takes it over.
    carrier_sid_from_lookup: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    # A client's text: the automated message it answers (notifications.replies links it).
    reply_to_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # An outbound message's notification category (reminders, account, marketing), if any:
    # the marketing frequency cap counts these.
    category: Mapped[str | None] = mapped_column(String(20))
    bulk_send_id: Mapped[int | None] = mapped_column(ForeignKey("bulk_sends.id"))
    # Outbox bookkeeping.
    dispatch_state: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Pending: when it is due. Sending (or claimed): when to ask the carrier about it next.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the current dispatch step began: held, or handed to the carrier (sending).
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Quiet hours (sending/quiet_holds.py): an automated, bulk or scheduled text waits out
    # the client's night. Set when it was queued; the dispatcher checks again when it claims
    # one after `quiet_open_until`, when the window it was due in had closed.
    quiet_hours: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Held: the window's opening it waits for (its due time then), in `quiet_zone`'s clock.
    quiet_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quiet_zone: Mapped[str | None] = mapped_column(String(64))  # IANA name
    quiet_open_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MessageStatusEvent(Base):
    """Every distinct status report for a message; an exact replay adds nothing."""

    __tablename__ = "message_status_events"
    __table_args__ = (UniqueConstraint("message_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    # The carrier's word, e.g. "sending" or "partially_delivered".
    status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UnroutedMessage(Base):
    """An inbound text whose To is no business's active number: kept for the operator,
    attached to no business. (A text to an active number is always a conversation, whatever
    its sender; only a From or To longer than any carrier address, 64 characters, which
    Twilio never sends, lands here too.)"""

    __tablename__ = "unrouted_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_sid: Mapped[str] = mapped_column(String(64), unique=True)
    # As the carrier sent them, however long (nothing the carrier sends may be lost).
    from_phone: Mapped[str] = mapped_column(Text)
    to_phone: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")
    body_had_nul: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""Outgoing webhooks: the endpoints a business registered, and one delivery row per event and
endpoint (the outbox of what the booking system is told)."""

from __future__ import annotations

from datetime import datetime

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

# The events an endpoint may subscribe to, each with what it reports.
EVENT_MESSAGE_RECEIVED = "message.received"  # a client's text was recorded
EVENT_MESSAGE_STATUS = "message.status"  # an outbound message's status moved forward
EVENT_CLIENT_OPTED_OUT = "client.opted_out"  # a phone unsubscribed from the business's texts
EVENT_CLIENT_OPTED_IN = "client.opted_in"  # ... and subscribed again
EVENT_NOTIFICATION_SKIPPED = "notification.skipped"  # a notification was not sent, with why
EVENT_NOTIFICATION_CONFIRMED = "notification.confirmed"  # a client confirmed a booking (YES)
EVENT_TYPES = (
    EVENT_MESSAGE_RECEIVED,
    EVENT_MESSAGE_STATUS,
    EVENT_CLIENT_OPTED_OUT,
    EVENT_CLIENT_OPTED_IN,
    EVENT_NOTIFICATION_SKIPPED,
    EVENT_NOTIFICATION_CONFIRMED,
)

# Where a delivery stands.
DELIVERY_PENDING = "pending"  # due at next_attempt_at (a claim pushes that back: the lease)
DELIVERY_DELIVERED = "delivered"  # the endpoint answered 2xx
DELIVERY_FAILED = "failed"  # no 2xx until its give-up time; "send again" revives it
DELIVERY_CANCELLED = "cancelled"  # its endpoint was deleted before it was delivered
DELIVERY_STATES = (DELIVERY_PENDING, DELIVERY_DELIVERED, DELIVERY_FAILED, DELIVERY_CANCELLED)


class WebhookEndpoint(Base):
    """A URL of a business's own system, the events it wants, and the secret that signs them
    (shown once; kept, since every delivery is signed with it)."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(100))  # whsec_<base64 key>
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(Base):
    """One event for one endpoint, written in the transaction of the change it reports.

    `body` is the exact JSON sent (and signed) on every attempt; `event_id` is the same on
    every attempt and for every endpoint the event goes to (receivers de-duplicate by it)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        CheckConstraint("state IN ('pending', 'delivered', 'failed', 'cancelled')", name="state"),
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The claim of the attempt under way (its lease runs to next_attempt_at): an outcome is
    # recorded only by the claim that made it.
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    give_up_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""The business's SMS numbers: at most one active per business; released ones are kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

NUMBER_ACTIVE = "active"  # routes inbound texts to its business
NUMBER_RELEASED = "released"  # given back to the carrier; texts to it are unrouted


class SmsNumber(Base):
    __tablename__ = "sms_numbers"
    __table_args__ = (
        Index(
            "uq_sms_numbers_active_phone",
            "phone_number",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index(
            "uq_sms_numbers_active_business",
            "business_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    phone_number: Mapped[str] = mapped_column(String(20))  # E.164
    country: Mapped[str] = mapped_column(String(2))
    carrier: Mapped[str] = mapped_column(String(20))
    carrier_sid: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))
    # True where the carrier answers STOP/START/HELP itself (Twilio's default on ordinary
    # numbers); False makes the app send the confirmations and the help text.
    carrier_handles_keywords: Mapped[bool] = mapped_column(Boolean, default=True)
    # Messages a second the carrier takes from this number; None: the default for its type
    # and country (numbers/rates.py). The dispatcher never sends faster (sending/pacing.py).
    send_rate: Mapped[int | None] = mapped_column(Integer)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SendPacing(Base):
    """A sending number's next free send slot (sending/pacing.py): locked in the claim that
    gives its messages their slots, so any number of dispatching processes share its rate.
    Keyed by the phone messages go from, whichever business holds or held it."""

    __tablename__ = "send_pacing"

    from_phone: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_slot_at: Mapped[datetime] = mapped_column(UTCDateTime)

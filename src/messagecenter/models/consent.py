"""SMS consent: the current state per business and phone number, and every change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime
from messagecenter.models.conversation import CARRIER_PHONE_LENGTH

CONSENT_OPT_OUT = "opt_out"
CONSENT_OPT_IN = "opt_in"

# How a consent change came about.
SOURCE_KEYWORD = "keyword"  # the client texted STOP / START ...
SOURCE_CARRIER_21610 = "carrier_error_21610"  # the carrier refused: recipient unsubscribed


class PhoneConsent(Base):
    """Consent belongs to the phone number and the business, not to a client profile."""

    __tablename__ = "phone_consents"
    __table_args__ = (UniqueConstraint("business_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    phone: Mapped[str] = mapped_column(String(CARRIER_PHONE_LENGTH))  # as the carrier sent it
    opted_out: Mapped[bool] = mapped_column(Boolean)
    keyword: Mapped[str | None] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(30))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ConsentRecord(Base):
    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_business_phone", "business_id", "phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    phone: Mapped[str] = mapped_column(String(CARRIER_PHONE_LENGTH))  # as the carrier sent it
    action: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(30))
    keyword: Mapped[str | None] = mapped_column(String(20))
    # The business number involved (a message's From or To, so as wide).
    sms_number: Mapped[str | None] = mapped_column(String(CARRIER_PHONE_LENGTH))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

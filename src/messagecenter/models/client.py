"""Client profiles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime


class Client(Base):
    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_business_id_cell_phone", "business_id", "cell_phone"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    cell_phone: Mapped[str | None] = mapped_column(String(20))  # E.164, mobile-capable
    # Set when the carrier says this number cannot receive SMS (errors 21211/21614/21612).
    cell_phone_error: Mapped[str | None] = mapped_column(String(200))
    # SMS switch per notification category; automated messages respect them.
    sms_reminders: Mapped[bool] = mapped_column(Boolean, default=True)
    sms_account: Mapped[bool] = mapped_column(Boolean, default=True)
    sms_marketing: Mapped[bool] = mapped_column(Boolean, default=False)
    # IANA name (e.g. America/Denver); None: judged from the cell phone's number (quiet hours).
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""Saved replies: a business's answers to what clients often ask, inserted from the composer
or used through the API, with the client's and the business's variables ([Firstname] ...)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

MAX_NAME = 60


class SavedReply(Base):
    __tablename__ = "saved_replies"
    # Its name is what staff type after "/" in the composer: one per business.
    __table_args__ = (UniqueConstraint("business_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

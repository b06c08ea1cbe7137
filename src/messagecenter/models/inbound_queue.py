"""Client texts as the carrier's webhook delivered them, waiting to be processed.

The webhook stores a text here (one insert, idempotent by carrier sid) and answers at once;
the background worker turns it into a message in batches. Once here, a text is never lost:
a row leaves the queue only in the transaction that stores its message.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime


class InboundQueueItem(Base):
    __tablename__ = "inbound_queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    carrier_sid: Mapped[str] = mapped_column(String(64), unique=True)
    # However long the carrier sent them: a row that cannot be stored is a text lost.
    from_phone: Mapped[str] = mapped_column(Text)
    to_phone: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text, default="")  # NUL characters already replaced
    body_had_nul: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    media_urls: Mapped[list[str]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Processing failures (a bug, never the text's content): retried MAX_ATTEMPTS times, then
    # parked for the operator (`messagecenter inbound parked`).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)

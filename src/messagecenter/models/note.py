"""Internal notes: what staff leave for each other in a conversation's thread. Never sent to
the client, never counted in the allowance, never unread; kept in the history and the export."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

MAX_NOTE_CHARACTERS = 2000
MAX_AUTHOR_LABEL = 120


class Note(Base):
    __tablename__ = "notes"
    # The thread shows a conversation's notes in time order among its messages.
    __table_args__ = (
        Index("ix_notes_conversation_id_created_at", "conversation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    # The staff member who wrote it; None for a note written through the API (a key is not a
    # person), whose author_label then names the key ("API key Front desk").
    author_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    author_label: Mapped[str] = mapped_column(String(MAX_AUTHOR_LABEL))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NoteMention(Base):
    """A staff member named in a note, until they open its conversation: the mention waits
    for them on every page, so it reaches them even when none of theirs was open."""

    __tablename__ = "note_mentions"
    __table_args__ = (Index("ix_note_mentions_staff_unseen", "staff_member_id", "seen_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    staff_member_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: still waiting

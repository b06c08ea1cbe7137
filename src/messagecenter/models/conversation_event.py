"""What happened to a conversation besides its messages (its assignee changed), shown as a
small line in the thread in time order, and each staff member's own read marker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime

EVENT_ASSIGNED = "assigned"  # assignee_id: the new assignee, None when left unassigned


class ConversationEvent(Base):
    __tablename__ = "conversation_events"
    __table_args__ = (
        CheckConstraint("kind IN ('assigned')", name="kind"),
        Index("ix_conversation_events_conversation", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    business_id: Mapped[int] = mapped_column(ForeignKey("businesses.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    kind: Mapped[str] = mapped_column(String(20))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    # Who made the change: a staff member on the page, or an API key.
    staff_member_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StaffReadMarker(Base):
    """The newest message a staff member has seen in a conversation: what is newer is "new
    since I last looked" for them (the shared unread state is the conversation's own)."""

    __tablename__ = "staff_read_markers"

    staff_member_id: Mapped[int] = mapped_column(
        ForeignKey("staff_members.id", ondelete="CASCADE"), primary_key=True
    )
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), primary_key=True
    )
    last_read_message_id: Mapped[int] = mapped_column(Integer)

"""JSON shapes of the internal notes API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from messagecenter.models.note import MAX_NOTE_CHARACTERS


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Longer than the limit so that the service refuses it saying what the limit is.
    body: str = Field(
        max_length=MAX_NOTE_CHARACTERS * 2,
        description=f"the note, at most {MAX_NOTE_CHARACTERS:,} characters; @Name or @ plus "
        "the part of a staff member's email before @ mentions them (they are told live)",
    )


class MentionOut(BaseModel):
    staff_id: int
    name: str


class NoteOut(BaseModel):
    id: int
    conversation_id: int
    author: str = Field(description='the staff member\'s name, or "API key <its name>"')
    author_staff_id: int | None = Field(description="None for a note written through the API")
    body: str
    mentions: list[MentionOut]
    created_at: datetime


class NoteList(BaseModel):
    items: list[NoteOut]

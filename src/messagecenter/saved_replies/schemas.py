"""JSON shapes of the saved replies API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from messagecenter.models.ids import MAX_ID
from messagecenter.models.saved_reply import MAX_NAME


class SavedReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        max_length=MAX_NAME,
        description="one word staff type after / in the composer: lowercase letters, digits, "
        "dashes (e.g. hours)",
    )
    body: str = Field(
        max_length=3200,
        description="the text, with [Firstname], [Lastname], [Fullname], [BusinessName], "
        "[BusinessPhone] or [SmsNumber] filled in for each client",
    )


class SavedReplyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=MAX_NAME)
    body: str | None = Field(default=None, max_length=3200)


class SavedReplyOut(BaseModel):
    id: int
    name: str
    body: str
    created_at: datetime
    updated_at: datetime


class SavedReplyList(BaseModel):
    items: list[SavedReplyOut]


class SavedReplyTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    saved_reply_id: int = Field(ge=1, le=MAX_ID)
    conversation_id: int = Field(ge=1, le=MAX_ID)


class SavedReplyTextOut(BaseModel):
    body: str = Field(description="the saved reply filled in for the conversation's client")

"""JSON shapes for conversations and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StrictBool, StrictInt

from messagecenter.clients.schemas import SubscriptionOut
from messagecenter.models.ids import MAX_ID

# The 1,600-character limit is checked after CRLF becomes LF (by the service, with a clear
# message); the schema only bounds what is worth reading.
MAX_BODY = 3200


class SenderOut(BaseModel):
    type: str  # client, staff, api_key, automated, carrier
    name: str


class MessageOut(BaseModel):
    id: int
    conversation_id: int
    direction: Literal["inbound", "outbound"]
    sender: SenderOut
    body: str
    media_urls: list[str]
    segments: int
    encoding: str
    units: int
    status: str
    error_code: int | None
    error_message: str | None
    created_at: datetime
    updated_at: datetime


class ConversationOut(BaseModel):
    id: int
    phone: str
    client_id: int | None
    client_name: str | None  # None while the sender is an unidentified contact
    folder: Literal["unread", "read", "replied", "archived"]
    unread_count: int
    pinned: bool
    muted: bool
    last_message_at: datetime
    last_message_preview: str
    subscription: SubscriptionOut
    foreign_number_warning: str | None


class ConversationPage(BaseModel):
    items: list[ConversationOut]
    total: int
    limit: int
    offset: int


class ConversationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Strict: 0, 1 or "true" are refused, not read as a boolean or a number.
    pinned: StrictBool | None = None
    muted: StrictBool | None = None
    archived: StrictBool | None = None
    client_id: StrictInt | None = Field(
        default=None, ge=1, le=MAX_ID, description="link an unidentified sender"
    )


class MessageIn(BaseModel):
    """Send to a client profile or into an existing conversation."""

    model_config = ConfigDict(extra="forbid")

    client_id: StrictInt | None = Field(default=None, ge=1, le=MAX_ID)
    conversation_id: StrictInt | None = Field(default=None, ge=1, le=MAX_ID)
    body: str = Field(default="", max_length=MAX_BODY)
    media_urls: list[HttpUrl] = Field(default_factory=list, max_length=10)


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(default="", max_length=MAX_BODY)
    media_urls: list[HttpUrl] = Field(default_factory=list, max_length=10)


class SentOut(BaseModel):
    message: MessageOut
    warnings: list[str]


class MessagePage(BaseModel):
    items: list[MessageOut]

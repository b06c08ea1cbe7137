"""JSON shapes for conversations and messages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    StrictInt,
)

from messagecenter.clients.schemas import SubscriptionOut
from messagecenter.models.ids import MAX_ID

# The 1,600-character limit is checked after CRLF becomes LF (by the service, with a clear
# message); the schema only bounds what is worth reading.
MAX_BODY = 3200
# Messages in one batch send (the request's 1 MiB limit applies too).
MAX_BATCH = 1000


class SenderOut(BaseModel):
    type: str  # client, staff, api_key, automated, carrier
    name: str


class ReplyToOut(BaseModel):
    """The automated message a client's text answers (sent within the day before it)."""

    message_id: int
    notification_id: int
    type: str  # the notification type, e.g. booking_reminder
    reference: str  # the booking system's reference
    label: str  # as the thread shows it: "Booking reminder, Fri 10:00 AM"
    confirms: bool  # this text confirmed the notification (a yes to a text that asked)


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
    reply_to: ReplyToOut | None = None
    # Queued and held for the client's quiet hours: when it goes, and that in words.
    waits_until: datetime | None = None
    waits_until_note: str | None = None
    created_at: datetime
    updated_at: datetime


class SearchMatchOut(BaseModel):
    """A search's match in a conversation's messages: the newest message holding the text."""

    message_id: int
    body: str
    created_at: datetime
    highlights: list[tuple[int, int]] = Field(
        description="where the searched text occurs in `body`: [start, end) character offsets"
    )


class ConversationOut(BaseModel):
    id: int
    phone: str
    client_id: int | None
    client_name: str | None  # None while the sender is an unidentified contact
    folder: Literal["unread", "read", "replied", "archived"]
    unread_count: int
    pinned: bool
    muted: bool
    blocked: bool
    last_message_at: datetime
    last_message_preview: str
    subscription: SubscriptionOut
    foreign_number_warning: str | None
    # The staff member who answers it; both None while it is unassigned.
    assignee_id: int | None = None
    assignee_name: str | None = None
    # Only in a search whose text a message of the conversation holds.
    search_match: SearchMatchOut | None = None


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
    blocked: StrictBool | None = Field(
        default=None,
        description="block the number: its texts are still stored and counted but stay out of "
        "the conversation lists (but `folder=blocked`) and the unread count; false brings it back",
    )
    client_id: StrictInt | None = Field(
        default=None, ge=1, le=MAX_ID, description="link an unidentified sender"
    )
    assignee_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="assign the conversation to an active staff member of the business; "
        "null leaves it unassigned (omit it to keep the assignee)",
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
    last_seen_message_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="the conversation's newest message you have seen: if anyone wrote after "
        "it, nothing is sent and the answer is 409 conversation_changed with the newer messages",
    )
    saved_reply_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="send a saved reply, filled in for the conversation's client, not a body",
    )


class SentOut(BaseModel):
    message: MessageOut
    warnings: list[str]


class MessagePage(BaseModel):
    """A page of a thread, oldest first: the newest messages, or those before a cursor."""

    items: list[MessageOut]
    # The cursor for the next (older) page: its oldest message's id, passed as `before`;
    # None once the thread's first message is in this page.
    before: int | None = None
    # The next page's URL (the same limit, `before` set), or None at the thread's start.
    next: str | None = None


def _integral(value: object) -> object:
    """JSON has one number type: 907.0 is the integer its schema says (a string, a bool or
    907.5 still is not)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# The bounds before the validator, so that the document states them (minimum, maximum).
JsonId = Annotated[StrictInt, Field(ge=1, le=MAX_ID), BeforeValidator(_integral)]


class BatchMessageIn(MessageIn):
    """One message of a batch: a client (by profile) or a conversation, as a single send."""

    client_id: JsonId | None = None
    conversation_id: JsonId | None = None

    category: Literal["reminders", "account", "marketing"] | None = Field(
        default=None,
        description="a notification category: refused for a client who switched it off",
    )


class BatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[BatchMessageIn] = Field(
        min_length=1,
        max_length=MAX_BATCH,
        description=f"1 to {MAX_BATCH:,} messages (and at most 1 MiB of JSON); split a larger "
        "send into several requests",
    )


class ItemError(BaseModel):
    code: str = Field(description="as a single send's error: e.g. client_unsubscribed")
    message: str = Field(description="what happened and what to do, in words")
    field: str | None = Field(default=None, description="the item's field to fix, if any")


class BatchItemOut(BaseModel):
    index: int = Field(description="the item's position in `messages`, from 0")
    status: Literal["queued", "refused"]
    message: MessageOut | None = Field(default=None, description="the queued message")
    error: ItemError | None = Field(default=None, description="why it was refused")
    warnings: list[str] = Field(default_factory=list)


class BatchOut(BaseModel):
    queued: int
    refused: int
    results: list[BatchItemOut] = Field(description="one per item, in the request's order")

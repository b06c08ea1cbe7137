"""JSON shapes of the trigger API and the templates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)

from messagecenter.models.ids import MAX_ID
from messagecenter.notifications.catalogue import TYPES

# Items in one batch (booking systems send tomorrow's reminders at once; 1 MiB applies too).
MAX_BATCH = 1000


def _iso_only(value: object) -> object:
    """A date and time as the document says: an ISO 8601 string (pydantic would also take a
    number of seconds)."""
    if isinstance(value, int | float):
        raise ValueError("give an ISO 8601 date and time with its offset, e.g. 2026-12-01T15:00Z")
    return value


IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]

TRIGGERABLE = [t.name for t in TYPES.values() if t.triggerable]


def _triggerable(value: str) -> str:
    if value not in TRIGGERABLE:
        raise ValueError("use one of: " + ", ".join(TRIGGERABLE))
    return value


TriggerableType = Annotated[str, AfterValidator(_triggerable)]


class NotificationData(BaseModel):
    """Values for the booking variables: [BookingDate] and [BookingTime] from `booking_at`
    (shown in the business's time zone and its country's format), [Service], [StaffName],
    [Location]. The client's names and the business's come from their profiles."""

    model_config = ConfigDict(extra="forbid")

    booking_at: IsoDatetime | None = None
    service: str | None = Field(default=None, max_length=200)
    staff_name: str | None = Field(default=None, max_length=200)
    location: str | None = Field(default=None, max_length=200)


class NotificationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: TriggerableType = Field(
        description="a type a booking system may trigger (GET /notification-templates)",
        json_schema_extra={"enum": list(TRIGGERABLE)},
    )
    reference: str = Field(min_length=1, max_length=200, description="your booking's id")
    client_id: StrictInt | None = Field(default=None, ge=1, le=MAX_ID)
    cell_phone: str | None = Field(
        default=None, max_length=40, description="instead of client_id: the client's cell phone"
    )
    data: NotificationData = Field(default_factory=NotificationData)
    send_at: IsoDatetime | None = Field(
        default=None, description="when to send (at most a year ahead); now when absent"
    )
    cancel: StrictBool = Field(
        default=False,
        description="withdraw the pending notifications of this type and reference instead",
    )


class NotificationBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    notifications: list[NotificationIn] = Field(max_length=MAX_BATCH)


NotificationStatus = Literal["queued", "sent", "failed", "skipped", "cancelled"]


class NotificationOut(BaseModel):
    id: int
    type: str
    category: str
    reference: str
    client_id: int
    send_at: datetime | None
    status: NotificationStatus
    reason_code: str | None
    reason: str | None
    message_id: int | None
    message_status: str | None
    # The client answered its message with a yes (a confirmable type whose text asked).
    confirmed_at: datetime | None
    confirmation_message_id: int | None
    created_at: datetime
    updated_at: datetime


class ItemError(BaseModel):
    code: str
    message: str
    field: str | None


class NotificationResult(BaseModel):
    """One trigger's answer: `result` is queued, skipped or cancelled (what became of it), or
    refused (nothing recorded; see `error`). `replayed` says an earlier identical trigger
    answered and nothing new was sent."""

    result: Literal["queued", "skipped", "cancelled", "refused"]
    replayed: bool = False
    notification: NotificationOut | None = None
    cancelled: list[NotificationOut] = Field(default_factory=list)  # no deep copy per item
    error: ItemError | None = None


class NotificationBatchItem(NotificationResult):
    index: int


class NotificationBatchOut(BaseModel):
    results: list[NotificationBatchItem]


class TemplateOut(BaseModel):
    type: str
    label: str
    category: str
    enabled: bool
    body: str
    customised: bool
    default_body: str
    variables: list[str]


class TemplatePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: StrictBool | None = None
    body: str | None = Field(default=None, max_length=1600)
    reset_body: StrictBool = Field(default=False, description="back to the default wording")


class TemplateList(BaseModel):
    items: list[TemplateOut]

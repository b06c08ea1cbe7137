"""JSON shapes of bulk sends: the audience, the preview, the send and its progress."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt

from messagecenter.models.ids import MAX_ID

MAX_CHOSEN = 10_000  # clients chosen by id in one send (a filter reaches any number)


class FilterIn(BaseModel):
    """A filter over the All Clients report; each part narrows it. Dates are days in the
    business's time zone, both ends included."""

    model_config = ConfigDict(extra="forbid")

    can_receive: StrictBool = Field(False, description="only clients whose phone takes texts")
    subscription: Literal["any", "subscribed", "unsubscribed"] = "any"
    marketing_on: StrictBool = Field(False, description="only clients with marketing texts on")
    created_from: date | None = None
    created_to: date | None = None
    last_texted_from: date | None = None
    last_texted_to: date | None = None


class AudienceIn(BaseModel):
    """Chosen clients (`client_ids`) or a `filter`; neither: every client."""

    model_config = ConfigDict(extra="forbid")

    client_ids: list[Annotated[StrictInt, Field(ge=1, le=MAX_ID)]] | None = Field(
        None, min_length=1, max_length=MAX_CHOSEN
    )
    filter: FilterIn | None = None


class BulkTextIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(
        max_length=3200,
        description="the text; [Firstname], [Lastname], [Fullname], [BusinessName], "
        "[BusinessPhone] and [SmsNumber] are filled in for each client",
    )
    category: Literal["marketing", "account", "personal"] = Field(
        "marketing",
        description="marketing (offers, news: the client's marketing switch and the frequency "
        "cap apply), account (word about the business itself, e.g. a closure) or personal (a "
        "text to one client; no notification switch applies, consent does)",
    )
    audience: AudienceIn = Field(default_factory=AudienceIn)


class BulkSendIn(BulkTextIn):
    request_key: str = Field(
        min_length=1,
        max_length=100,
        description="your key for this send: sending the same again answers the first send",
    )
    send_at: AwareDatetime | None = Field(
        None,
        description="schedule it (at most a year ahead); consent, switches and the allowance "
        "are checked again when it goes. Absent: it goes now",
    )


class BulkSendPatch(BaseModel):
    """A scheduled send's changes (each part given); a send that went is a 409."""

    model_config = ConfigDict(extra="forbid")

    body: str | None = Field(None, max_length=3200)
    category: Literal["marketing", "account", "personal"] | None = None
    audience: AudienceIn | None = None
    send_at: AwareDatetime | None = None


class SkippedOut(BaseModel):
    reason: str  # no_cell_phone, unsubscribed, switched_off, frequency_cap, ...
    words: str
    clients: int


class PreviewOut(BaseModel):
    recipients: int
    skipped: list[SkippedOut]
    units: int
    remaining: int | None = Field(description="units the plan has left; null: no limit")
    fits: bool
    sample: str | None = Field(description="the text as the first recipient gets it")


class ProgressOut(BaseModel):
    queued: int
    sent: int
    delivered: int
    failed: int
    cancelled: int
    skipped: int


class BulkSendOut(BaseModel):
    id: int
    status: Literal["scheduled", "sent", "cancelled"]
    body: str
    category: str
    audience: dict[str, object]
    recipients: int
    units: int
    skipped: list[SkippedOut]
    progress: ProgressOut
    replayed: bool = False
    send_at: datetime | None
    created_at: datetime
    sent_at: datetime | None
    cancelled_at: datetime | None


class BulkSendList(BaseModel):
    items: list[BulkSendOut]

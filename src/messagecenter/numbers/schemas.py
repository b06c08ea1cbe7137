"""JSON shapes for the SMS number."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from messagecenter.numbers.rates import MAX_SEND_RATE


class SmsNumberOut(BaseModel):
    phone_number: str
    country: str
    status: str  # active or released
    carrier: str
    carrier_handles_keywords: bool
    send_rate: int | None  # the number's own setting; null: its type's default
    effective_send_rate: int  # what the dispatcher keeps to: the setting, else the default
    acquired_at: datetime
    released_at: datetime | None


class NumbersOut(BaseModel):
    active: SmsNumberOut | None
    history: list[SmsNumberOut]


class SuggestionsOut(BaseModel):
    country: str  # the country of the numbers offered (GB for IE, IM, JE and GG)
    number_type: str  # local (US, CA) or mobile (GB, AU)
    suggestions: list[str]


class ChooseNumberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone_number: str = Field(min_length=1, max_length=40, description="one of the suggestions")


class ChangeNumberIn(ChooseNumberIn):
    confirm: StrictBool = Field(
        default=False,
        description="true once the owner has read the warning that replies to the old number "
        "will no longer reach the business",
    )


class NumberPatch(BaseModel):
    """The number's settings to change (each one given)."""

    model_config = ConfigDict(extra="forbid")

    carrier_handles_keywords: StrictBool | None = Field(
        None,
        description="true: the carrier answers STOP, START and HELP (Twilio's default); false: "
        "the app answers with the business's own texts (Settings → Automated messages)",
    )
    # A whole number; JSON may write it 10.0 (a schema's integer), and 10.5 is refused.
    send_rate: int | None = Field(
        None,
        ge=1,
        le=MAX_SEND_RATE,
        description="texts a second the number may send (the carrier's throughput for it); "
        "null: the default of its type and country (1 for a US/CA local number, 3 toll-free, "
        "10 for a UK/AU mobile)",
    )

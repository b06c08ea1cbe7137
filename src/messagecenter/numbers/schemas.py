"""JSON shapes for the SMS number."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool


class SmsNumberOut(BaseModel):
    phone_number: str
    country: str
    status: str  # active or released
    carrier: str
    carrier_handles_keywords: bool
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


class KeywordAnswersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier_handles_keywords: StrictBool = Field(
        description="true: the carrier answers STOP, START and HELP (Twilio's default); false: "
        "the app answers with the business's own texts (Settings → Automated messages)"
    )

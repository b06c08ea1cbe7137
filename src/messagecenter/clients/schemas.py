"""JSON shapes for client profiles."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from messagecenter.clients.service import ClientChanges


class ClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(default="", max_length=100)
    email: str | None = Field(default=None, max_length=254)
    cell_phone: str | None = Field(default=None, max_length=40)
    # Strict: 0, 1 or "yes" are refused, not read as a boolean.
    sms_reminders: StrictBool = True
    sms_account: StrictBool = True
    sms_marketing: StrictBool = False
    # IANA name (quiet hours follow it); None: judged from the cell phone number.
    timezone: str | None = Field(default=None, max_length=64)

    def changes(self) -> ClientChanges:
        return ClientChanges(**self.model_dump())


class ClientPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)
    cell_phone: str | None = Field(default=None, max_length=40)
    sms_reminders: StrictBool | None = None
    sms_account: StrictBool | None = None
    sms_marketing: StrictBool | None = None
    timezone: str | None = Field(default=None, max_length=64)

    def changes(self) -> ClientChanges:
        given = self.model_dump(exclude_unset=True)
        for clearable in ("email", "cell_phone", "timezone"):  # an explicit null clears these
            if clearable in given and given[clearable] is None:
                given[clearable] = ""
        return ClientChanges(**given)


class SubscriptionOut(BaseModel):
    subscribed: bool
    changed_at: datetime | None
    keyword: str | None
    source: str | None


class ClientOut(BaseModel):
    id: int
    first_name: str
    last_name: str
    email: str | None
    cell_phone: str | None
    cell_phone_valid_for_sms: bool
    cell_phone_problem: str | None
    sms_reminders: bool
    sms_account: bool
    sms_marketing: bool
    timezone: str | None
    subscription: SubscriptionOut
    created_at: datetime
    updated_at: datetime


class ClientPage(BaseModel):
    items: list[ClientOut]
    total: int
    limit: int
    offset: int

"""JSON shapes of the webhook endpoints API and its delivery log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from messagecenter.integrations.service import MAX_URL_LENGTH

EventType = Literal[
    "message.received",
    "message.status",
    "client.opted_out",
    "client.opted_in",
    "notification.skipped",
    "notification.confirmed",
]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        description="an http(s) URL at a public address (private and loopback ones are "
        "refused unless the operator allows them)",
    )
    events: list[EventType] = Field(min_length=1, max_length=20, description="what to send")
    description: str = Field(default="", max_length=200)


class EndpointOut(BaseModel):
    id: int
    url: str
    description: str
    events: list[str]
    created_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(
        description="signs every delivery (Standard Webhooks `whsec_...`); shown only here, once"
    )


class EndpointList(BaseModel):
    items: list[EndpointOut]


class DeliveryOut(BaseModel):
    id: int
    event_id: str = Field(description="the `webhook-id` header: the same on every attempt")
    event_type: str
    state: Literal["pending", "delivered", "failed", "cancelled"]
    attempts: int
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    give_up_at: datetime
    created_at: datetime


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]

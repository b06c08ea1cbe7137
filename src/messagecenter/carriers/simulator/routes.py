"""The simulated carrier's own endpoints: a client's phone that texts the business."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from messagecenter.api.deps import ContextDep
from messagecenter.clients.phone import parse_phone
from messagecenter.errors import Conflict

router = APIRouter(prefix="/simulator", tags=["simulator"])


class PhoneText(BaseModel):
    """A text typed on a (simulated) client phone."""

    model_config = ConfigDict(extra="forbid")

    from_phone: str = Field(max_length=40, description="the client's phone, E.164")
    to_phone: str = Field(max_length=40, description="the business's SMS number, E.164")
    body: str = Field(default="", max_length=1600)
    media_urls: list[HttpUrl] = Field(default_factory=list, max_length=10)


class PhoneTextOut(BaseModel):
    message_sid: str


@router.post("/messages", response_model=PhoneTextOut, status_code=201)
def text_the_business(text: PhoneText, context: ContextDep) -> PhoneTextOut:
    simulator = context.simulator
    if simulator is None:
        raise Conflict("The simulated carrier is not in use.", code="not_simulator")
    from_phone = parse_phone(text.from_phone, "US", field="from_phone")
    to_phone = parse_phone(text.to_phone, "US", field="to_phone")
    sid = simulator.receive_from_phone(
        from_phone, to_phone, text.body, [str(u) for u in text.media_urls]
    )
    return PhoneTextOut(message_sid=sid)

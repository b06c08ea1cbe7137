"""The simulated carrier's own endpoints: a client's phone that texts the business.

Only there when the simulator is the carrier (app.py), and only for someone acting for the
business that owns `to_phone`: an API key of that business, or one of its staff signed in to
the web app. Otherwise anyone who reached the server could text STOP to every business's
number in the name of its clients. `MESSAGECENTER_SIMULATOR_OPEN=1` lets anyone post (tests
and benchmarks that play many phones at once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, HttpUrl
from sqlalchemy.orm import Session

from messagecenter.apikeys.service import authenticate
from messagecenter.clients.phone import parse_phone
from messagecenter.conversations.present import active_number_of
from messagecenter.errors import Conflict, NotAuthenticated, NotFound
from messagecenter.http.deps import ContextDep, LoginRequired, SessionDep
from messagecenter.web.auth import signed_in_staff

router = APIRouter(prefix="/simulator", tags=["simulator"])
_bearer = HTTPBearer(auto_error=False, description="An API key of the business texted")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class PhoneText(BaseModel):
    """A text typed on a (simulated) client phone."""

    model_config = ConfigDict(extra="forbid")

    from_phone: str = Field(max_length=40, description="the client's phone, E.164")
    to_phone: str = Field(max_length=40, description="the business's SMS number, E.164")
    body: str = Field(default="", max_length=1600)
    media_urls: list[HttpUrl] = Field(default_factory=list, max_length=10)


class PhoneTextOut(BaseModel):
    message_sid: str


@router.post(
    "/messages",
    response_model=PhoneTextOut,
    status_code=201,
    responses={
        401: {"description": "Neither an API key nor a signed-in staff member"},
        404: {"description": "`to_phone` is not the SMS number of the caller's business"},
    },
)
def text_the_business(
    text: PhoneText,
    context: ContextDep,
    request: Request,
    session: SessionDep,
    credentials: BearerDep,
) -> PhoneTextOut:
    simulator = context.simulator
    if simulator is None:
        raise Conflict("The simulated carrier is not in use.", code="not_simulator")
    caller = (
        None if context.settings.simulator_open else _caller_business(request, session, credentials)
    )
    from_phone = parse_phone(text.from_phone, "US", field="from_phone")
    to_phone = parse_phone(text.to_phone, "US", field="to_phone")
    if caller is not None and active_number_of(session, caller) != to_phone:
        # Another business's number or none at all: which, is not revealed.
        raise NotFound("to_phone is not your business's SMS number.", field="to_phone")
    session.close()  # the simulated carrier writes in its own unit of work
    sid = simulator.receive_from_phone(
        from_phone, to_phone, text.body, [str(u) for u in text.media_urls]
    )
    return PhoneTextOut(message_sid=sid)


def _caller_business(
    request: Request, session: Session, credentials: HTTPAuthorizationCredentials | None
) -> int:
    """The business the caller acts for: its API key's, else its signed-in staff member's."""
    if credentials is not None:
        return authenticate(session, credentials.credentials).business_id
    try:
        return signed_in_staff(request, session).member.business_id
    except LoginRequired:
        raise NotAuthenticated(
            "Send an API key of the business texted as 'Authorization: Bearer <key>', "
            "or sign in to the web app as its staff.",
            code="not_authenticated",
        ) from None

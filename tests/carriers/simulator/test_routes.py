"""POST /simulator/messages: a person playing the client's phone texts the business."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import Message
from tests.factories import make_business

CLIENT_PHONE = "+12125550142"


def test_a_text_from_the_phone_arrives_unread(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    assert api.get("/api/v1/unread", headers=setup.auth).json() == {"unread": 0}

    answer = api.post(
        "/simulator/messages",
        json={"from_phone": CLIENT_PHONE, "to_phone": setup.number.phone_number, "body": "Hi!"},
    )

    assert answer.status_code == 201, answer.text
    sid = answer.json()["message_sid"]
    assert re.fullmatch(r"SM[0-9a-f]{32}", sid)
    assert api.get("/api/v1/unread", headers=setup.auth).json() == {"unread": 1}
    message = session.scalar(select(Message).where(Message.carrier_sid == sid))
    assert message is not None
    assert (message.business_id, message.direction, message.from_phone, message.body) == (
        setup.business.id,
        "inbound",
        CLIENT_PHONE,
        "Hi!",
    )


def test_phones_are_parsed_to_e164(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    national = setup.number.phone_number.removeprefix("+1")
    answer = api.post(
        "/simulator/messages",
        json={"from_phone": "(212) 555-0142", "to_phone": national, "body": "Hello"},
    )
    assert answer.status_code == 201, answer.text
    message = session.scalar(
        select(Message).where(Message.carrier_sid == answer.json()["message_sid"])
    )
    assert message is not None
    assert (message.from_phone, message.to_phone) == (CLIENT_PHONE, setup.number.phone_number)
    assert api.get("/api/v1/unread", headers=setup.auth).json() == {"unread": 1}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"from_phone": "garbage", "to_phone": "{number}"}, "from_phone"),
        ({"from_phone": "+1212555", "to_phone": "{number}"}, "from_phone"),
        ({"from_phone": CLIENT_PHONE, "to_phone": "not a phone"}, "to_phone"),
        ({"from_phone": "", "to_phone": "{number}"}, "from_phone"),
        ({"to_phone": "{number}", "body": "x"}, "from_phone"),
        ({"from_phone": CLIENT_PHONE, "to_phone": "{number}", "extra": 1}, "extra"),
    ],
)
def test_bad_input_gets_400_with_the_error_shape_and_stores_nothing(
    api: TestClient,
    context: AppContext,
    session: Session,
    clock: FrozenClock,
    payload: dict[str, object],
    field: str,
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    body = {k: (setup.number.phone_number if v == "{number}" else v) for k, v in payload.items()}
    before = session.scalar(select(func.count()).select_from(Message))

    answer = api.post("/simulator/messages", json=body)

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field
    assert isinstance(error["message"], str)
    assert error["message"]
    assert session.scalar(select(func.count()).select_from(Message)) == before
    assert api.get("/api/v1/unread", headers=setup.auth).json() == {"unread": 0}

"""POST /simulator/messages: a person playing the client's phone texts the business."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.models import Message
from tests.factories import make_business
from tests.web.conftest import owner_email_of, sign_in

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
        headers=setup.auth,
    )

    assert answer.status_code == 201, answer.text
    context.intake.process_queued()  # the worker's step: PostgreSQL queues the text
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
        headers=setup.auth,
    )
    assert answer.status_code == 201, answer.text
    context.intake.process_queued()
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

    answer = api.post("/simulator/messages", json=body, headers=setup.auth)

    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["field"] == field
    assert isinstance(error["message"], str)
    assert error["message"]
    assert session.scalar(select(func.count()).select_from(Message)) == before
    assert api.get("/api/v1/unread", headers=setup.auth).json() == {"unread": 0}


# ---------------------------------------------------------------------------- who may text


def _inbound_count(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "inbound")
        )
        or 0
    )


def test_an_anonymous_text_is_refused_and_stores_nothing(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    """Anyone who reached the server could otherwise unsubscribe any business's clients."""
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    stop = {"from_phone": CLIENT_PHONE, "to_phone": setup.number.phone_number, "body": "STOP"}

    for headers in ({}, {"Authorization": "Bearer mc_not_a_key"}):
        answer = api.post("/simulator/messages", json=stop, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] in {"not_authenticated", "bad_api_key"}

    assert _inbound_count(session) == 0


def test_a_key_texts_only_its_own_business_number(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    ours = make_business(session, context.carrier, clock.now())
    theirs = make_business(session, context.carrier, clock.now())
    session.commit()

    answer = api.post(
        "/simulator/messages",
        json={"from_phone": CLIENT_PHONE, "to_phone": theirs.number.phone_number, "body": "STOP"},
        headers=ours.auth,
    )

    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["field"] == "to_phone"
    assert _inbound_count(session) == 0


def test_signed_in_staff_text_their_own_business_number_only(
    context: AppContext, session: Session, clock: FrozenClock
) -> None:
    ours = make_business(session, context.carrier, clock.now())
    theirs = make_business(session, context.carrier, clock.now())
    session.commit()
    app = create_app(context=context, run_dispatcher=False)
    # https, like public_url: the session cookie is Secure and goes back only over https.
    with TestClient(app, base_url="https://testserver") as browser:
        signed_in = sign_in(browser, owner_email_of(session, ours.business.id), ours.owner_password)
        assert signed_in.status_code == 303

        own = browser.post(
            "/simulator/messages",
            json={"from_phone": CLIENT_PHONE, "to_phone": ours.number.phone_number, "body": "Hi"},
        )
        other = browser.post(
            "/simulator/messages",
            json={"from_phone": CLIENT_PHONE, "to_phone": theirs.number.phone_number, "body": "Hi"},
        )

    assert own.status_code == 201, own.text
    assert other.status_code == 404, other.text
    context.intake.process_queued()
    businesses = session.scalars(select(Message.business_id).where(Message.direction == "inbound"))
    assert list(businesses) == [ours.business.id]


def test_the_open_setting_lets_anyone_text(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    session: Session,
    clock: FrozenClock,
) -> None:
    context = build_context(
        settings.model_copy(update={"simulator_open": True}),
        clock=clock,
        engine=engine,
        sessions=sessions,
    )
    setup = make_business(session, context.carrier, clock.now())
    session.commit()
    with TestClient(create_app(context=context, run_dispatcher=False)) as anyone:
        answer = anyone.post(
            "/simulator/messages",
            json={"from_phone": CLIENT_PHONE, "to_phone": setup.number.phone_number, "body": "x"},
        )
    assert answer.status_code == 201, answer.text
    context.intake.process_queued()
    assert _inbound_count(session) == 1


def test_the_open_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().simulator_open is False
    monkeypatch.setenv("MESSAGECENTER_SIMULATOR_OPEN", "1")
    assert Settings().simulator_open is True

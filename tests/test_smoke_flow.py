"""The whole loop through the API on the simulated carrier: send, dispatch, callbacks, reply."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from tests.factories import make_business, make_client


def test_send_and_deliver_then_reply(
    api: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    client = make_client(session, setup.business, clock.now())
    session.commit()

    sent = api.post(
        "/api/v1/messages",
        json={"client_id": client.id, "body": "See you at 4!"},
        headers=setup.auth,
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()["message"]
    assert message["status"] == "queued"
    assert (message["segments"], message["encoding"], message["units"]) == (1, "GSM-7", 1)

    assert context.dispatcher.run_once() == 1
    clock.advance(timedelta(seconds=5))
    context.carrier.tick()
    fetched = api.get(f"/api/v1/messages/{message['id']}", headers=setup.auth).json()
    assert fetched["status"] == "delivered"

    simulator = context.simulator
    assert simulator is not None
    simulator.receive_from_phone("+12125550142", setup.number.phone_number, "Thanks!")
    context.intake.process_queued()  # the worker's step: PostgreSQL queues the text
    unread = api.get("/api/v1/unread", headers=setup.auth).json()
    assert unread == {"unread": 1}
    usage = api.get("/api/v1/usage", headers=setup.auth).json()
    assert usage["used"] == 2

"""POST /api/v1/message-batches: many sends in one request, each answered on its own."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import queries
from messagecenter.conversations.schemas import MAX_BATCH
from messagecenter.models import Client, Conversation, Message
from tests.conversations.test_routes import assert_error, message_count
from tests.factories import SetUp, make_business, make_client, text_from

MARIA = "+12125550142"
JOHN = "+12125550143"
STRANGER = "+12125550177"


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now(), business_phone="+12125550100")
    session.commit()
    return setup


@pytest.fixture
def maria(session: Session, clock: FrozenClock, shop: SetUp) -> Client:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    session.commit()
    return client


@pytest.fixture
def john(session: Session, clock: FrozenClock, shop: SetUp) -> Client:
    client = make_client(session, shop.business, clock.now(), first_name="John", cell_phone=JOHN)
    session.commit()
    return client


@pytest.fixture
def other(session: Session, context: AppContext, clock: FrozenClock, shop: SetUp) -> SetUp:
    """A second business with a client and a conversation of its own."""
    setup = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    make_client(session, setup.business, clock.now(), first_name="Theirs", cell_phone=MARIA)
    text_from(session, setup.number, MARIA, "their secret", clock.now())
    session.commit()
    return setup


def batch(api: TestClient, setup: SetUp, items: list[dict[str, Any]], **headers: str) -> Any:
    return api.post(
        "/api/v1/message-batches", json={"messages": items}, headers={**setup.auth, **headers}
    )


def conversations(session: Session, business_id: int) -> int:
    session.expire_all()
    return int(
        session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.business_id == business_id)
        )
        or 0
    )


def test_each_item_is_answered_in_order_queued_or_refused_with_its_error(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp, maria: Client, john: Client
) -> None:
    text_from(session, shop.number, STRANGER, "STOP", clock.now())
    stopped = make_client(session, shop.business, clock.now(), first_name="S", cell_phone=STRANGER)
    session.commit()
    before = message_count(session, shop.business.id)

    answer = batch(
        api,
        shop,
        [
            {"client_id": maria.id, "body": "a" * 161},
            {"client_id": john.id, "body": ""},
            {"client_id": stopped.id, "body": "Sale!"},
            {"client_id": maria.id, "conversation_id": None, "body": "x", "category": "marketing"},
            {"body": "to nobody"},
            {"client_id": john.id, "body": "Hello \U0001f600", "category": "reminders"},
        ],
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["queued"], body["refused"]) == (2, 4)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(6))
    assert [r["status"] for r in results] == [
        "queued", "refused", "refused", "refused", "refused", "queued"
    ]  # fmt: skip
    first = results[0]["message"]
    assert (first["segments"], first["encoding"], first["units"]) == (2, "GSM-7", 1)
    assert first["sender"] == {"type": "api_key", "name": "Owner's key"}
    assert results[5]["message"]["encoding"] == "UCS-2"
    assert results[0]["error"] is None and results[0]["warnings"] == []
    errors = [(r["error"]["code"], r["error"]["field"]) for r in results[1:5]]
    assert errors == [
        ("invalid_input", "body"),
        ("client_unsubscribed", None),
        ("category_off", None),
        ("invalid_input", "client_id"),
    ]
    assert "STOP" in results[2]["error"]["message"]
    assert "exactly one of client_id or conversation_id" in results[4]["error"]["message"]
    for queued in (results[0], results[5]):
        stored = session.get(Message, queued["message"]["id"])
        assert stored is not None and stored.business_id == shop.business.id
        assert stored.dispatch_state == "pending"
    assert message_count(session, shop.business.id) == before + 2


def test_items_go_into_conversations_by_id_too(
    api: TestClient, session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    text_from(session, shop.number, STRANGER, "who is this?", clock.now())
    session.commit()
    conversation = queries.conversation_for_phone(session, shop.business.id, STRANGER)
    assert conversation is not None

    answer = batch(
        api,
        shop,
        [
            {"conversation_id": conversation.id, "body": "This is Studio!"},
            {
                "conversation_id": conversation.id,
                "body": "",
                "media_urls": ["https://m.test/a.png"],
            },
        ],
    )

    assert answer.status_code == 200, answer.text
    sent = [r["message"] for r in answer.json()["results"]]
    assert [m["conversation_id"] for m in sent] == [conversation.id] * 2
    assert [m["units"] for m in sent] == [1, 3]
    assert conversations(session, shop.business.id) == 1


def test_a_hard_stop_takes_items_in_order_while_they_fit(
    api: TestClient, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=2, policy="hard_stop")
    three = [
        make_client(session, setup.business, clock.now(), first_name=f"C{i}", cell_phone=phone)
        for i, phone in enumerate((MARIA, JOHN, STRANGER))
    ]
    session.commit()

    answer = batch(api, setup, [{"client_id": c.id, "body": "Hi"} for c in three])

    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == ["queued", "queued", "refused"]
    assert results[2]["error"]["code"] == "allowance_exhausted"
    assert "2 of 2 units used" in results[2]["error"]["message"]
    assert api.get("/api/v1/usage", headers=setup.auth).json()["used"] == 2
    assert queries.conversation_for_phone(session, setup.business.id, STRANGER) is None


def test_another_businesss_client_or_conversation_refuses_the_whole_batch(
    api: TestClient, session: Session, shop: SetUp, maria: Client, other: SetUp
) -> None:
    theirs = session.scalar(select(Client.id).where(Client.business_id == other.business.id))
    their_conversation = queries.conversation_for_phone(session, other.business.id, MARIA)
    assert theirs is not None and their_conversation is not None
    before_theirs = message_count(session, other.business.id)

    by_client = batch(
        api, shop, [{"client_id": maria.id, "body": "ok"}, {"client_id": theirs, "body": "Hi"}]
    )
    by_conversation = batch(
        api,
        shop,
        [
            {"client_id": maria.id, "body": "ok"},
            {"client_id": maria.id, "body": "ok"},
            {"conversation_id": their_conversation.id, "body": "Hi"},
        ],
    )
    unknown = batch(api, shop, [{"client_id": 987654, "body": "Hi"}])

    error = assert_error(by_client, 404, "not_found")
    assert error["field"] == "messages.1.client_id"
    error = assert_error(by_conversation, 404, "not_found")
    assert error["field"] == "messages.2.conversation_id"
    assert "their secret" not in by_conversation.text
    assert_error(unknown, 404, "not_found")
    # Nothing was sent, not even the good items before the bad one.
    assert message_count(session, shop.business.id) == 0
    assert conversations(session, shop.business.id) == 0
    assert message_count(session, other.business.id) == before_theirs
    assert api.get("/api/v1/usage", headers=shop.auth).json()["used"] == 0


def test_the_batch_limit_and_malformed_items_are_400_naming_what_to_fix(
    api: TestClient, session: Session, shop: SetUp, maria: Client
) -> None:
    item = {"client_id": maria.id, "body": "Hi"}

    too_many = batch(api, shop, [item] * (MAX_BATCH + 1))
    empty = batch(api, shop, [])
    bad_category = batch(api, shop, [item, {**item, "category": "gossip"}])
    unknown_field = batch(api, shop, [{**item, "to": "+12125550142"}])
    nul = batch(api, shop, [item, {"client_id": maria.id, "body": "Hi\u0000there"}])

    error = assert_error(too_many, 400, "invalid_input")
    assert error["field"] == "messages" and "1000" in error["message"]
    assert assert_error(empty, 400, "invalid_input")["field"] == "messages"
    assert assert_error(bad_category, 400, "invalid_input")["field"] == "messages.1.category"
    assert assert_error(unknown_field, 400, "invalid_input")["field"] == "messages.0.to"
    error = assert_error(nul, 400, "invalid_input")
    assert "NUL" in error["message"] and "messages" in error["message"]
    assert message_count(session, shop.business.id) == 0


def test_exactly_the_limit_is_accepted(
    api: TestClient, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10_000)
    client = make_client(session, setup.business, clock.now(), cell_phone=MARIA)
    session.commit()

    answer = batch(api, setup, [{"client_id": client.id, "body": "Hi"}] * MAX_BATCH)

    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["queued"] == MAX_BATCH
    assert message_count(session, setup.business.id) == MAX_BATCH


def test_requests_without_a_valid_key_are_401(api: TestClient, maria: Client) -> None:
    items = {"messages": [{"client_id": maria.id, "body": "Hi"}]}
    assert_error(api.post("/api/v1/message-batches", json=items), 401)
    wrong = {"Authorization": "Bearer mc_not-a-key"}
    assert_error(api.post("/api/v1/message-batches", json=items, headers=wrong), 401)


def test_an_idempotency_key_makes_a_retry_send_nothing_and_answer_the_same(
    api: TestClient, session: Session, shop: SetUp, maria: Client, john: Client
) -> None:
    items = [{"client_id": maria.id, "body": "Hi"}, {"client_id": john.id, "body": ""}]

    first = batch(api, shop, items, **{"Idempotency-Key": "bulk-2026-11-16"})
    again = batch(api, shop, items, **{"Idempotency-Key": "bulk-2026-11-16"})
    changed = batch(api, shop, items[:1], **{"Idempotency-Key": "bulk-2026-11-16"})

    assert first.status_code == 200, first.text
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert_error(changed, 409, "idempotency_key_reused")
    assert message_count(session, shop.business.id) == 1

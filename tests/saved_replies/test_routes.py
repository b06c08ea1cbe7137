"""Saved replies over the API: kept per business, checked when saved, filled in for a
conversation's client, and sent through a reply."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from tests.factories import (
    MARIA,
    STRANGER,
    SetUp,
    conversation_of,
    make_business,
    make_client,
    text_from,
)

PATH = "/api/v1/saved-replies"
HOURS = "Hi [Firstname], we're open 9-5 weekdays. [BusinessName]"


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now())
    make_client(session, setup.business, clock.now(), first_name="Maria", cell_phone=MARIA)
    text_from(session, setup.number, MARIA, "When are you open?", clock.now())
    text_from(session, setup.number, STRANGER, "Who is this?", clock.now())
    session.commit()
    return setup


def create(api: TestClient, shop: SetUp, **body: str) -> Any:
    return api.post(PATH, json=body, headers=shop.auth)


def test_a_saved_reply_is_kept_listed_changed_and_deleted(api: TestClient, shop: SetUp) -> None:
    made = create(api, shop, name="Hours", body=HOURS)
    assert made.status_code == 201, made.text
    reply = made.json()
    assert reply["name"] == "hours"  # typed after "/": lowercase
    assert [r["name"] for r in api.get(PATH, headers=shop.auth).json()["items"]] == ["hours"]
    changed = api.patch(f"{PATH}/{reply['id']}", json={"name": "opening"}, headers=shop.auth)
    assert changed.status_code == 200 and changed.json()["body"] == HOURS
    assert api.delete(f"{PATH}/{reply['id']}", headers=shop.auth).status_code == 204
    assert api.get(PATH, headers=shop.auth).json()["items"] == []


@pytest.mark.parametrize(
    ("body", "status", "field", "says"),
    [
        ({"name": "two words", "body": "Hi"}, 400, "name", "one short word"),
        ({"name": "hours", "body": "  "}, 400, "body", "Write the reply's text"),
        (
            {"name": "hours", "body": "On [BookingDate]"},
            400,
            "body",
            "[BookingDate] is not available",
        ),
    ],
)
def test_a_bad_saved_reply_is_refused_and_nothing_is_kept(
    api: TestClient, shop: SetUp, body: dict[str, str], status: int, field: str, says: str
) -> None:
    refused = api.post(PATH, json=body, headers=shop.auth)
    assert refused.status_code == status
    assert refused.json()["error"]["field"] == field and says in refused.json()["error"]["message"]
    assert api.get(PATH, headers=shop.auth).json()["items"] == []


def test_a_name_is_one_reply_s(api: TestClient, shop: SetUp) -> None:
    assert create(api, shop, name="hours", body=HOURS).status_code == 201
    taken = create(api, shop, name="hours", body="Other")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "name_taken"


def test_filled_in_for_the_conversation_s_client_and_sent_through_a_reply(
    api: TestClient, session: Session, shop: SetUp
) -> None:
    reply_id = create(api, shop, name="hours", body=HOURS).json()["id"]
    conversation = conversation_of(session, shop.business, MARIA)
    text = api.post(
        "/api/v1/saved-reply-texts",
        json={"saved_reply_id": reply_id, "conversation_id": conversation.id},
        headers=shop.auth,
    )
    expected = f"Hi Maria, we're open 9-5 weekdays. {shop.business.name}"
    assert text.status_code == 200 and text.json() == {"body": expected}
    sent = api.post(
        f"/api/v1/conversations/{conversation.id}/messages",
        json={"saved_reply_id": reply_id},
        headers=shop.auth,
    )
    assert sent.status_code == 201, sent.text
    assert sent.json()["message"]["body"] == expected


def test_a_variable_an_unknown_sender_lacks_is_refused_naming_it(
    api: TestClient, session: Session, shop: SetUp
) -> None:
    reply_id = create(api, shop, name="hours", body=HOURS).json()["id"]
    stranger = conversation_of(session, shop.business, STRANGER)
    refused = api.post(
        f"/api/v1/conversations/{stranger.id}/messages",
        json={"saved_reply_id": reply_id},
        headers=shop.auth,
    )
    assert refused.status_code == 400 and "[Firstname]" in refused.json()["error"]["message"]


def test_another_business_s_saved_reply_is_not_found(
    api: TestClient, session: Session, context: AppContext, clock: FrozenClock, shop: SetUp
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    session.commit()
    theirs = create(api, other, name="hours", body="Secret").json()["id"]
    assert api.patch(f"{PATH}/{theirs}", json={"body": "x"}, headers=shop.auth).status_code == 404
    conversation = conversation_of(session, shop.business, MARIA)
    used = api.post(
        "/api/v1/saved-reply-texts",
        json={"saved_reply_id": theirs, "conversation_id": conversation.id},
        headers=shop.auth,
    )
    assert used.status_code == 404

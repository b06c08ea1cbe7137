"""Internal notes over the API: written and listed per conversation, signed by the API key
(a key is not a staff member), mentions named; refused when empty or too long; another
business's conversation is not found."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import Message, Note
from messagecenter.models.note import MAX_NOTE_CHARACTERS
from messagecenter.staff.service import create_staff_member
from tests.factories import MARIA, SetUp, conversation_of, count, make_business, text_from


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now())
    text_from(session, setup.number, MARIA, "Can I move to 4pm?", clock.now())
    session.commit()
    return setup


def path(session: Session, shop: SetUp) -> str:
    return f"/api/v1/conversations/{conversation_of(session, shop.business, MARIA).id}/notes"


def test_a_note_is_written_and_listed_signed_by_the_key(
    api: TestClient, session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    casey = create_staff_member(
        session, business_id=shop.business.id, email="casey@studio.example", name="Casey",
        role="staff", can_send_sms=True, password="password-123", at=clock.now(),
    )  # fmt: skip
    session.commit()
    messages = count(session, Message)
    made = api.post(path(session, shop), json={"body": "@CASEY call her"}, headers=shop.auth)
    assert made.status_code == 201, made.text
    note = made.json()
    assert note["author"].startswith("API key ") and note["author_staff_id"] is None
    assert note["mentions"] == [{"staff_id": casey.id, "name": "Casey"}]
    listed = api.get(path(session, shop), headers=shop.auth)
    assert listed.status_code == 200 and listed.json()["items"] == [note]
    assert count(session, Message) == messages  # nothing sent


@pytest.mark.parametrize(
    ("body", "says"),
    [(" \n ", "Write the note's text."), ("x" * (MAX_NOTE_CHARACTERS + 1), "the limit is 2,000")],
)
def test_an_empty_or_too_long_note_is_refused_and_nothing_is_kept(
    api: TestClient, session: Session, shop: SetUp, body: str, says: str
) -> None:
    refused = api.post(path(session, shop), json={"body": body}, headers=shop.auth)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["field"] == "body" and says in error["message"]
    assert count(session, Note) == 0


def test_another_business_s_conversation_is_not_found(
    api: TestClient, session: Session, shop: SetUp, context: AppContext, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    session.commit()
    theirs = path(session, shop)
    assert api.get(theirs, headers=other.auth).status_code == 404
    assert api.post(theirs, json={"body": "hi"}, headers=other.auth).status_code == 404
    assert count(session, Note) == 0

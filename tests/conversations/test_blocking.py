"""Blocked numbers: texts still stored and counted, but out of the inbox, the badge and the
after-hours answer; unblocking brings the conversation back as it was."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.businesses import hours
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import queries, service
from messagecenter.errors import Conflict
from messagecenter.models import Message
from tests.factories import (
    JOHN,
    MARIA,
    SetUp,
    badge,
    conversation_of,
    count,
    make_business,
    text_from,
    used,
)


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now())
    text_from(session, setup.number, MARIA, "Hi", clock.now())
    text_from(session, setup.number, MARIA, "Hello?", clock.now())
    text_from(session, setup.number, JOHN, "Book me in", clock.now())
    session.commit()
    return setup


def listed(session: Session, shop: SetUp, folder: str | None = None) -> list[str]:
    rows, total = queries.list_conversations(
        session, shop.business.id, queries.ConversationFilter(folder=folder)
    )
    assert total == len(rows)
    return sorted(conversation.phone for conversation, _ in rows)


def test_blocking_takes_the_number_out_of_the_inbox_and_the_badge(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    maria = conversation_of(session, shop.business, MARIA)
    assert badge(session, shop.business) == 3
    service.block(session, shop.business.id, maria.id, clock.now())
    assert badge(session, shop.business) == 1
    assert listed(session, shop) == [JOHN] and listed(session, shop, "unread") == [JOHN]
    assert listed(session, shop, queries.FOLDER_BLOCKED) == [MARIA]
    assert queries.folder_counts(session, shop.business.id, ["unread", "blocked"]) == {
        "all": 1, "unread": 1, "blocked": 1,
    }  # fmt: skip

    # Her texts are still stored and counted, and stay out of the badge.
    before = used(session, shop.business, clock.now())
    messages = count(session, Message, Message.business_id == shop.business.id)
    text_from(session, shop.number, MARIA, "Why no answer?", clock.now() + timedelta(minutes=1))
    assert count(session, Message, Message.business_id == shop.business.id) == messages + 1
    assert used(session, shop.business, clock.now()) == before + 1
    assert badge(session, shop.business) == 1

    service.unblock(session, shop.business.id, maria.id)
    assert badge(session, shop.business) == 4  # her three unread texts count again
    assert listed(session, shop) == [MARIA, JOHN] and listed(session, shop, "blocked") == []


def test_a_number_muted_before_it_was_blocked_stays_muted_and_cannot_be_unmuted_while_blocked(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    maria = conversation_of(session, shop.business, MARIA)
    service.update_flags(session, shop.business.id, maria.id, muted=True)
    service.block(session, shop.business.id, maria.id, clock.now())
    with pytest.raises(Conflict, match="unblock it first"):
        service.update_flags(session, shop.business.id, maria.id, muted=False)
    service.unblock(session, shop.business.id, maria.id)
    session.refresh(maria)
    assert maria.muted and badge(session, shop.business) == 1


def test_a_blocked_number_gets_no_after_hours_answer(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    hours.save_week(session, shop.business.id, {0: (time(9), time(10))})
    service.block(
        session, shop.business.id, conversation_of(session, shop.business, MARIA).id, clock.now()
    )
    saturday_night = clock.now().replace(year=2026, month=12, day=6, hour=3)
    assert text_from(session, shop.number, MARIA, "Open?", saturday_night).replies == []
    assert len(text_from(session, shop.number, JOHN, "Open?", saturday_night).replies) == 1


def test_the_api_blocks_lists_and_unblocks(api: TestClient, session: Session, shop: SetUp) -> None:
    maria = conversation_of(session, shop.business, MARIA)
    blocked = api.patch(
        f"/api/v1/conversations/{maria.id}", json={"blocked": True}, headers=shop.auth
    )
    assert blocked.status_code == 200 and blocked.json()["blocked"] is True
    everyone = api.get("/api/v1/conversations", headers=shop.auth).json()["items"]
    assert [c["phone"] for c in everyone] == [JOHN]
    hidden = api.get("/api/v1/conversations?folder=blocked", headers=shop.auth).json()["items"]
    assert [c["phone"] for c in hidden] == [MARIA]
    back = api.patch(
        f"/api/v1/conversations/{maria.id}", json={"blocked": False}, headers=shop.auth
    )
    assert back.json()["blocked"] is False and back.json()["muted"] is False

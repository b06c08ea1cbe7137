"""Presence: a staff page's word that it has a conversation open goes out on the business's
live stream, only for the business's own conversations, and never to an API key's stream."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.events import EventBus, LiveEvent
from messagecenter.models import SmsNumber
from messagecenter.web import presence
from messagecenter.web.live import StreamHolder, event_stream
from messagecenter.web.presence import PRESENCE
from tests.factories import MARIA, conversation_of, make_business, text_from
from tests.web.conftest import Shop


def test_the_word_goes_out_for_this_business_s_conversation_only(
    shop: Shop,
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    business = session.merge(shop.business)
    number = session.scalars(select(SmsNumber).where(SmsNumber.business_id == business.id)).one()
    text_from(session, number, MARIA, "hello", clock.now())
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    text_from(session, other.number, MARIA, "theirs", clock.now())
    session.commit()
    own = conversation_of(session, business, MARIA).id
    theirs = conversation_of(session, other.business, MARIA).id
    # What the route raises for its commit to send (by NOTIFY on PostgreSQL, straight to the
    # bus on SQLite: the streams' own tests cover both ways).
    heard: list[LiveEvent] = []
    monkeypatch.setattr(presence, "queue_event_on_commit", lambda _s, event: heard.append(event))

    assert shop.clerk.post(f"/app/presence/{theirs}", json={"typing": True}).status_code == 404
    assert [e for e in heard if e.type == PRESENCE] == []

    assert shop.clerk.post(f"/app/presence/{own}", json={"typing": True}).status_code == 204
    (event,) = [e for e in heard if e.type == PRESENCE]
    assert event.business_id == business.id
    assert event.data["conversation_id"] == own and event.data["typing"] is True
    assert event.data["name"] == "Casey" and event.data["seconds"] > 0


class LeavesAfter:
    """A client that goes after the stream has looked `times` times."""

    def __init__(self, times: int) -> None:
        self.left = times

    async def is_disconnected(self) -> bool:
        self.left -= 1
        return self.left < 0


def _types_heard(holder: StreamHolder) -> list[str]:
    async def read() -> list[str]:
        bus = EventBus()
        stream = event_stream(LeavesAfter(2), bus, holder)  # type: ignore[arg-type]
        first = await anext(stream)  # subscribed: what is published now reaches it
        bus.publish(LiveEvent(1, PRESENCE, {"conversation_id": 1, "staff_id": 9}))
        bus.publish(LiveEvent(1, "message.created", {"conversation_id": 1}))
        return [first] + [chunk async for chunk in stream]

    chunks = asyncio.run(read())
    return [c.split("\n")[0].removeprefix("event: ") for c in chunks if c.startswith("event:")]


def test_a_staff_stream_carries_presence_and_an_api_key_s_does_not() -> None:
    assert _types_heard(StreamHolder(1, staff_id=3)) == [PRESENCE, "message.created"]
    assert _types_heard(StreamHolder(1, api_key_id=5)) == ["message.created"]

"""Assignment and per-staff read state: who answers a conversation (an active staff member of
its business, or nobody), the event each change leaves, each staff member's read marker and
badge; and the same through the JSON API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import assignment, queries
from messagecenter.conversations.assignment import ChangedBy
from messagecenter.errors import InvalidInput
from messagecenter.events import pending_events
from messagecenter.models import ConversationEvent, StaffMember
from messagecenter.staff.service import create_staff_member, set_badge_preference
from tests.factories import JOHN, MARIA, SetUp, conversation_of, make_business, text_from


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now(), business_phone="+12125550100")
    session.commit()
    return setup


def add_staff(session: Session, setup: SetUp, name: str, clock: FrozenClock) -> StaffMember:
    return create_staff_member(
        session, business_id=setup.business.id, email=f"{name.lower()}@studio.example",
        name=name, role="staff", can_send_sms=True, password="a-long-password-1",
        at=clock.now(),
    )  # fmt: skip


def owner_of(session: Session, setup: SetUp) -> StaffMember:
    owner = session.scalar(select(StaffMember).where(StaffMember.business_id == setup.business.id))
    assert owner is not None
    return owner


def events_of(session: Session, conversation_id: int) -> list[tuple[int | None, int | None]]:
    rows = session.execute(
        select(ConversationEvent.assignee_id, ConversationEvent.staff_member_id)
        .where(ConversationEvent.conversation_id == conversation_id)
        .order_by(ConversationEvent.id)
    )
    return [(row[0], row[1]) for row in rows]


# ---------------------------------------------------------------------------- service


def test_assigning_keeps_an_event_and_tells_the_assignee_live(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    casey = add_staff(session, shop, "Casey", clock)
    owner = owner_of(session, shop)
    text_from(session, shop.number, MARIA, "Hello?", clock.now())
    maria = conversation_of(session, shop.business, MARIA)

    assignment.assign(
        session, shop.business.id, maria.id, casey.id, by=ChangedBy(owner.id), at=clock.now()
    )

    assert conversation_of(session, shop.business, MARIA).assignee_id == casey.id
    assert events_of(session, maria.id) == [(casey.id, owner.id)]
    told = [e for e in pending_events(session) if e.type == "conversation.assigned"]
    assert [(e.data["assignee_id"], e.data["by_staff_id"]) for e in told] == [(casey.id, owner.id)]
    lines = assignment.event_lines(session, shop.business.id, maria.id)
    assert [line.text for line in lines] == [f"Assigned to Casey by {owner.name}"]


def test_unassigning_and_assigning_the_same_one_again(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    casey = add_staff(session, shop, "Casey", clock)
    text_from(session, shop.number, MARIA, "Hello?", clock.now())
    maria = conversation_of(session, shop.business, MARIA)
    by = ChangedBy(casey.id)
    assignment.assign(session, shop.business.id, maria.id, casey.id, by=by, at=clock.now())
    assignment.assign(session, shop.business.id, maria.id, casey.id, by=by, at=clock.now())
    assert events_of(session, maria.id) == [(casey.id, casey.id)]  # no change, no event

    assignment.assign(session, shop.business.id, maria.id, None, by=by, at=clock.now())
    assert conversation_of(session, shop.business, MARIA).assignee_id is None
    assert events_of(session, maria.id) == [(casey.id, casey.id), (None, casey.id)]
    lines = assignment.event_lines(session, shop.business.id, maria.id)
    assert lines[-1].text == "Left unassigned by Casey"


def test_only_an_active_staff_member_of_the_same_business_can_be_assigned(
    session: Session, context: AppContext, shop: SetUp, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    stranger = owner_of(session, other)
    gone = add_staff(session, shop, "Gone", clock)
    gone.active = False
    text_from(session, shop.number, MARIA, "Hello?", clock.now())
    maria = conversation_of(session, shop.business, MARIA)
    by = ChangedBy(owner_of(session, shop).id)

    for assignee, says in ((stranger.id, "No such staff member"), (gone.id, "deactivated")):
        with pytest.raises(InvalidInput, match=says) as refused:
            assignment.assign(session, shop.business.id, maria.id, assignee, by=by, at=clock.now())
        assert refused.value.field == "assignee_id"
    assert conversation_of(session, shop.business, MARIA).assignee_id is None
    assert events_of(session, maria.id) == []


def new_for(session: Session, staff_id: int, conversation_ids: list[int]) -> set[int]:
    return assignment.new_among(queries.row_marks(session, staff_id, conversation_ids))


def test_each_staff_member_has_their_own_read_marker(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    casey = add_staff(session, shop, "Casey", clock)
    owner = owner_of(session, shop)
    text_from(session, shop.number, MARIA, "Hello?", clock.now())
    text_from(session, shop.number, JOHN, "Hi", clock.now())
    maria = conversation_of(session, shop.business, MARIA)
    john = conversation_of(session, shop.business, JOHN)
    both = [maria.id, john.id]
    assert new_for(session, owner.id, both) == {maria.id, john.id}

    assignment.mark_seen(session, owner.id, maria)

    assert new_for(session, owner.id, both) == {john.id}
    assert new_for(session, casey.id, both) == {maria.id, john.id}  # still new
    clock.advance(timedelta(minutes=1))
    text_from(session, shop.number, MARIA, "Still there?", clock.now())
    assert new_for(session, owner.id, both) == {maria.id, john.id}


def test_the_badge_counts_all_unread_or_only_the_staff_members_own(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    casey = add_staff(session, shop, "Casey", clock)
    text_from(session, shop.number, MARIA, "Hello?", clock.now())
    text_from(session, shop.number, MARIA, "Anyone?", clock.now())
    text_from(session, shop.number, JOHN, "Hi", clock.now())
    maria = conversation_of(session, shop.business, MARIA)
    assignment.assign(session, shop.business.id, maria.id, casey.id, by=ChangedBy(casey.id),
                      at=clock.now())  # fmt: skip
    assert assignment.badge_count(session, casey, 3) == 3  # the shared rule by default

    set_badge_preference(session, casey, "mine", True)
    assert assignment.badge_count(session, casey, 3) == 2
    with pytest.raises(InvalidInput, match="assigned to me"):
        set_badge_preference(session, casey, "some", True)


# ---------------------------------------------------------------------------- API


def test_the_api_assigns_and_unassigns_and_shows_the_assignee(
    api: TestClient, session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    casey = add_staff(session, shop, "Casey", clock)
    text_from(session, shop.number, MARIA, "Hello?", clock.now())
    session.commit()
    maria = conversation_of(session, shop.business, MARIA)
    url = f"/api/v1/conversations/{maria.id}"

    assigned = api.patch(url, json={"assignee_id": casey.id}, headers=shop.auth)
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["assignee_id"], assigned.json()["assignee_name"]) == (casey.id, "Casey")
    listed = api.get("/api/v1/conversations", headers=shop.auth).json()["items"]
    assert [c["assignee_name"] for c in listed] == ["Casey"]

    mine = api.get("/api/v1/conversations", params={"assignee_id": casey.id}, headers=shop.auth)
    assert [c["id"] for c in mine.json()["items"]] == [maria.id]
    nobody = api.get("/api/v1/conversations", params={"unassigned": True}, headers=shop.auth)
    assert nobody.json()["items"] == []

    kept = api.patch(url, json={"pinned": True}, headers=shop.auth)  # omitted: kept
    assert kept.json()["assignee_id"] == casey.id
    cleared = api.patch(url, json={"assignee_id": None}, headers=shop.auth)
    assert (cleared.json()["assignee_id"], cleared.json()["assignee_name"]) == (None, None)
    session.expire_all()
    assert events_of(session, maria.id) == [(casey.id, None), (None, None)]


def test_the_api_refuses_a_staff_member_of_another_business_and_changes_nothing(
    api: TestClient, session: Session, context: AppContext, shop: SetUp, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    stranger = owner_of(session, other)
    text_from(session, shop.number, MARIA, "Hello?", clock.now())
    session.commit()
    maria = conversation_of(session, shop.business, MARIA)

    refused = api.patch(
        f"/api/v1/conversations/{maria.id}", json={"assignee_id": stranger.id}, headers=shop.auth
    )

    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["field"] == "assignee_id"
    session.expire_all()
    assert conversation_of(session, shop.business, MARIA).assignee_id is None
    assert events_of(session, maria.id) == []

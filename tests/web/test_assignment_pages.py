"""The assignment form in the conversation's header, and My preferences: what the top-bar
Message badge counts for each staff member, and whether it shows."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.models import Conversation, SmsNumber, StaffMember
from tests.factories import MARIA, text_from
from tests.web.conftest import CLERK_EMAIL, Shop, csrf_of


def receive(session: Session, shop: Shop, phone: str, body: str, clock: FrozenClock) -> int:
    number = session.scalar(select(SmsNumber).where(SmsNumber.business_id == shop.business.id))
    assert number is not None
    text_from(session, number, phone, body, clock.now())
    session.commit()
    found = session.scalar(select(Conversation.id).where(Conversation.phone == phone))
    assert found is not None
    return int(found)


def badge_of(html: str) -> tuple[str, bool]:
    found = re.search(r'<span id="unread-badge" [^>]*?( hidden)?>(\d+)</span>', html)
    assert found, "no badge on the page"
    return found.group(2), found.group(1) is None


def clerk_id(session: Session) -> int:
    found = session.scalar(select(StaffMember.id).where(StaffMember.email == CLERK_EMAIL))
    assert found is not None
    return int(found)


def test_the_badge_counts_all_unread_or_only_mine_and_can_be_hidden(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "Can I move my massage?", clock)
    page = shop.clerk.get("/preferences")
    assert badge_of(page.text) == ("1", True)  # the shared rule by default

    saved = shop.clerk.post(
        "/preferences",
        data={"badge_counts": "mine", "badge_shown": "1", "csrf": csrf_of(page.text)},
    )
    assert saved.status_code == 200, saved.text
    assert badge_of(saved.text) == ("0", True)  # nothing assigned to the clerk yet
    assert badge_of(shop.owner.get("/inbox").text) == ("1", True)  # the owner's is their own

    conversation = shop.owner.get(f"/conversations/{maria}")
    assigned = shop.owner.post(
        f"/conversations/{maria}/assignee",
        data={"assignee_id": str(clerk_id(session)), "csrf": csrf_of(conversation.text)},
    )
    assert "Assigned to Casey by" in assigned.text
    assert badge_of(shop.clerk.get("/inbox").text) == ("1", True)
    assert shop.clerk.get("/app/badge").json() == {"unread": 1}

    page = shop.clerk.get("/preferences")
    hidden = shop.clerk.post(
        "/preferences", data={"badge_counts": "mine", "csrf": csrf_of(page.text)}
    )
    assert badge_of(hidden.text) == ("1", False)


def test_a_refused_assignee_is_said_and_changes_nothing(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    maria = receive(session, shop, MARIA, "Hello?", clock)
    session.execute(
        StaffMember.__table__.update()  # type: ignore[attr-defined]
        .where(StaffMember.email == CLERK_EMAIL)
        .values(active=False)
    )
    session.commit()
    page = shop.owner.get(f"/conversations/{maria}")
    refused = shop.owner.post(
        f"/conversations/{maria}/assignee",
        data={"assignee_id": str(clerk_id(session)), "csrf": csrf_of(page.text)},
    )
    assert "Casey is deactivated" in refused.text
    session.expire_all()
    assert session.scalar(select(Conversation.assignee_id).where(Conversation.id == maria)) is None

"""Blocking a number from the conversation page: it says whose number it is, the conversation
moves to the Blocked view, and Unblock brings it back."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.models import SmsNumber
from tests.factories import MARIA, conversation_of, make_client, text_from
from tests.web.conftest import Shop, csrf_of


def test_staff_block_and_unblock_a_client_s_number(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    business = session.merge(shop.business)
    number = session.scalars(select(SmsNumber).where(SmsNumber.business_id == business.id)).one()
    make_client(
        session, business, clock.now(), first_name="Maria", last_name="Lopez", cell_phone=MARIA
    )
    text_from(session, number, MARIA, "Stop texting me please", clock.now())
    session.commit()
    maria = conversation_of(session, business, MARIA)
    path = f"/conversations/{maria.id}"

    page = shop.clerk.get(path)
    assert "This is Maria Lopez's number: blocking it hides their texts too." in page.text
    blocked = shop.clerk.post(
        f"{path}/state", data={"csrf": csrf_of(page.text), "action": "block"}, follow_redirects=True
    )
    assert blocked.status_code == 200
    assert 'id="blocked-note"' in blocked.text and "Unblock" in blocked.text
    inbox = shop.clerk.get("/inbox/list").text
    assert "Stop texting me please" not in inbox
    assert "Stop texting me please" in shop.clerk.get("/inbox/list?folder=blocked").text

    back = shop.clerk.post(
        f"{path}/state",
        data={"csrf": csrf_of(blocked.text), "action": "unblock"},
        follow_redirects=True,
    )
    assert back.status_code == 200 and 'id="block-number"' in back.text
    assert "Stop texting me please" in shop.clerk.get("/inbox/list").text

"""Which texts a browser notification announces, and what it says: a client's text in a
conversation that is neither muted nor blocked; never a business's own text or another
business's."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import assignment, service
from messagecenter.conversations.assignment import ChangedBy
from messagecenter.models import SmsNumber, StaffMember
from messagecenter.sending.compose import Sender, send_message
from tests.factories import JOHN, MARIA, conversation_of, make_business, make_client, text_from
from tests.web.conftest import Shop


def test_a_client_s_text_is_announced_with_their_name_and_words(
    shop: Shop, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    business = session.merge(shop.business)
    number = session.scalars(select(SmsNumber).where(SmsNumber.business_id == business.id)).one()
    make_client(
        session, business, clock.now(), first_name="Maria", last_name="Lopez", cell_phone=MARIA
    )
    texted = text_from(session, number, MARIA, "Running 5 min late!", clock.now())
    quiet = text_from(session, number, JOHN, "hello", clock.now())
    maria = conversation_of(session, business, MARIA)
    ours = send_message(session, business, body="No problem", sender=Sender.automated(),
                        conversation=maria, at=clock.now() + timedelta(seconds=1))  # fmt: skip
    service.update_flags(
        session, business.id, conversation_of(session, business, JOHN).id, muted=True
    )
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    theirs = text_from(session, other.number, MARIA, "secret", clock.now())
    session.commit()

    notice = shop.clerk.get(f"/app/notices/{texted.message_id}").json()
    assert notice == {
        "show": True, "title": "Maria Lopez", "body": "Running 5 min late!",
        "url": f"/conversations/{maria.id}", "tag": f"conversation-{maria.id}",
    }  # fmt: skip
    assert shop.clerk.get(f"/app/notices/{quiet.message_id}").json() == {"show": False}  # muted
    assert shop.clerk.get(f"/app/notices/{ours.id}").json() == {"show": False}  # our own text
    assert shop.clerk.get(f"/app/notices/{theirs.message_id}").json() == {"show": False}

    # Assigned to a colleague: theirs to answer, not announced to the clerk; to the clerk, it is.
    owner = session.scalars(
        select(StaffMember).where(
            StaffMember.business_id == business.id, StaffMember.role == "owner"
        )
    ).one()
    assignment.assign(session, business.id, maria.id, owner.id, by=ChangedBy(staff_id=owner.id),
                      at=clock.now())  # fmt: skip
    session.commit()
    assert shop.clerk.get(f"/app/notices/{texted.message_id}").json() == {"show": False}
    assert shop.owner.get(f"/app/notices/{texted.message_id}").json()["show"] is True

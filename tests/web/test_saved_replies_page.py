"""Settings → Saved replies: added, changed, deleted; a refused one explained with what was
typed kept on its own form; owners only."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.models import Business, SmsNumber
from messagecenter.saved_replies import service
from tests.factories import MARIA, STRANGER, conversation_of, make_client, text_from
from tests.web.conftest import Shop, csrf_of

PATH = "/settings/saved-replies"


def names(session: Session, business: Business) -> list[tuple[str, str]]:
    session.expire_all()
    return [(r.name, r.body) for r in service.list_replies(session, business)]


def test_the_owner_adds_changes_and_deletes_a_saved_reply(shop: Shop, session: Session) -> None:
    assert f'href="{PATH}"' in shop.owner.get("/settings").text
    page = shop.owner.get(PATH)
    assert "No saved replies yet." in page.text
    token = csrf_of(page.text)
    added = shop.owner.post(
        PATH,
        data={"csrf": token, "name": "Parking", "body": "Park at the back, [Firstname]."},
        follow_redirects=False,
    )
    assert added.status_code == 303
    assert names(session, shop.business) == [("parking", "Park at the back, [Firstname].")]
    (reply,) = service.list_replies(session, shop.business)
    changed = shop.owner.post(
        f"{PATH}/{reply.id}",
        data={"csrf": token, "name": "parking", "body": "Use the side street."},
        follow_redirects=False,
    )
    assert changed.status_code == 303
    assert names(session, shop.business) == [("parking", "Use the side street.")]
    gone = shop.owner.post(
        f"{PATH}/{reply.id}", data={"csrf": token, "action": "delete"}, follow_redirects=False
    )
    assert gone.status_code == 303 and names(session, shop.business) == []


def test_a_refused_reply_keeps_what_was_typed_on_its_form(shop: Shop, session: Session) -> None:
    token = csrf_of(shop.owner.get(PATH).text)
    refused = shop.owner.post(
        PATH, data={"csrf": token, "name": "parking", "body": "On [BookingDate]"}
    )
    assert refused.status_code == 400
    assert "[BookingDate] is not available in a saved reply" in refused.text
    assert "On [BookingDate]</textarea>" in refused.text
    assert names(session, shop.business) == []


def test_staff_cannot_manage_saved_replies(shop: Shop) -> None:
    assert shop.clerk.get(PATH).status_code == 403


def test_the_composer_s_picker_gets_each_reply_filled_in_for_the_client(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    business = session.merge(shop.business)
    service.save_reply(session, business, name="hi", body="Hi [Firstname]!", at=clock.now())
    number = session.scalars(select(SmsNumber).where(SmsNumber.business_id == business.id)).one()
    make_client(session, business, clock.now(), first_name="Maria", cell_phone=MARIA)
    text_from(session, number, MARIA, "Hello", clock.now())
    text_from(session, number, STRANGER, "Who is this?", clock.now())
    session.commit()
    maria = conversation_of(session, business, MARIA)
    stranger = conversation_of(session, business, STRANGER)

    known = shop.clerk.get(f"/app/saved-replies/{maria.id}").json()["items"]
    assert known == [{"name": "hi", "text": "Hi Maria!", "problem": ""}]
    unknown = shop.clerk.get(f"/app/saved-replies/{stranger.id}").json()["items"]
    assert unknown[0]["text"] == "" and "[Firstname]" in unknown[0]["problem"]

"""A conversation's CSV and printable page: every message, consent change and note in order, in
the business's time zone; safe to open in a spreadsheet; this business's conversations only."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import Business, SmsNumber
from messagecenter.notes.service import add_note
from messagecenter.sending.compose import Sender, send_message
from messagecenter.staff.service import list_staff
from tests.factories import MARIA, conversation_of, make_business, make_client, text_from
from tests.web.conftest import Shop


def _number(session: Session, business: Business) -> SmsNumber:
    return session.scalars(select(SmsNumber).where(SmsNumber.business_id == business.id)).one()


def test_the_csv_holds_every_message_and_consent_change_in_order(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    business = session.merge(shop.business)
    number = _number(session, business)
    make_client(session, business, clock.now(), cell_phone=MARIA)
    at = clock.now()
    text_from(session, number, MARIA, '=HYPERLINK("http://evil")', at)
    conversation = conversation_of(session, business, MARIA)
    send_message(session, business, body="Hi Maria!", sender=Sender.automated(),
                 conversation=conversation, at=at + timedelta(minutes=1))  # fmt: skip
    text_from(session, number, MARIA, "STOP", at + timedelta(minutes=2))
    session.commit()

    answer = shop.clerk.get(f"/conversations/{conversation.id}/export.csv")

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert f'filename="conversation-{conversation.id}.csv"' in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["kind"], r["direction"], r["body"][:12]) for r in rows[:3]] == [
        ("message", "inbound", "'=HYPERLINK("),  # a formula is made plain text
        ("message", "outbound", "Hi Maria!"),
        ("message", "inbound", "STOP"),
    ]
    consent = [r for r in rows if r["kind"] == "consent"]
    assert len(consent) == 1 and consent[0]["body"].startswith("Unsubscribed (texted STOP)")
    local = (at + timedelta(minutes=2)).astimezone(ZoneInfo(business.timezone))
    assert consent[0]["date"] == local.strftime("%Y-%m-%d %H:%M:%S")


def test_the_printable_page_shows_the_thread_and_its_consent(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    business = session.merge(shop.business)
    text_from(session, _number(session, business), MARIA, "Can I come at 5?", clock.now())
    text_from(
        session, _number(session, business), MARIA, "STOP", clock.now() + timedelta(seconds=5)
    )
    session.commit()
    conversation = conversation_of(session, business, MARIA)

    page = shop.clerk.get(f"/conversations/{conversation.id}/print")

    assert page.status_code == 200
    assert "Can I come at 5?" in page.text and "unsubscribed" in page.text
    assert 'class="entry-consent"' in page.text
    assert f'href="/conversations/{conversation.id}/export.csv"' in page.text


def test_notes_are_in_the_csv_and_the_printable_page_with_their_author(
    shop: Shop, session: Session, clock: FrozenClock
) -> None:
    business = session.merge(shop.business)
    at = clock.now()
    text_from(session, _number(session, business), MARIA, "Can I come at 5?", at)
    conversation = conversation_of(session, business, MARIA)
    casey = next(m for m in list_staff(session, business.id) if m.name == "Casey")
    add_note(session, conversation, body="=call her back", at=at + timedelta(minutes=1),
             author=casey)  # fmt: skip
    text_from(session, _number(session, business), MARIA, "Or 6?", at + timedelta(minutes=2))
    session.commit()

    rows = list(
        csv.DictReader(
            io.StringIO(shop.clerk.get(f"/conversations/{conversation.id}/export.csv").text)
        )
    )
    assert [(r["kind"], r["sender"], r["body"]) for r in rows][1] == (
        "note",
        "Casey",
        "'=call her back",  # a note is made spreadsheet-safe like a message
    )
    assert [r["kind"] for r in rows] == ["message", "note", "message"]
    page = shop.clerk.get(f"/conversations/{conversation.id}/print").text
    assert 'class="entry-note"' in page and "Note by Casey (internal)" in page


def test_another_business_s_conversation_is_not_found(
    shop: Shop, session: Session, context: AppContext, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    text_from(session, other.number, MARIA, "their secret", clock.now())
    session.commit()
    theirs = conversation_of(session, other.business, MARIA)
    for path in (f"/conversations/{theirs.id}/export.csv", f"/conversations/{theirs.id}/print"):
        answer = shop.clerk.get(path)
        assert answer.status_code == 404 and "their secret" not in answer.text

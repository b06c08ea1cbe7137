"""The simulated client phone's routes: a refused text comes back on the page as typed, the
thread fragment the page refreshes from, and the newest texts shown (web/phone.py)."""

from __future__ import annotations

from html import unescape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.businesses.queries import active_number
from messagecenter.clock import FrozenClock
from messagecenter.models import Message
from tests.factories import text_from
from tests.web.conftest import Shop, csrf_of

MARIA = "+12125550142"


def _messages(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Message)) or 0


def test_a_bad_number_or_no_text_comes_back_in_the_page_as_typed(
    session: Session, shop: Shop
) -> None:
    token = csrf_of(shop.owner.get("/phone").text)
    before = _messages(session)
    for number, body, said in [
        ("12", "Can I come at 4?", "12 is not a valid phone number"),
        (MARIA, "   ", "Type the text to send."),
    ]:
        answer = shop.owner.post("/phone", data={"number": number, "body": body, "csrf": token})
        assert answer.status_code == 400
        page = unescape(answer.text)
        assert 'id="phone-error"' in page and said in page
        assert f">{body}</textarea>" in page  # what was typed, kept
    assert _messages(session) == before


def test_a_text_from_the_phone_is_recorded_and_shown(session: Session, shop: Shop) -> None:
    token = csrf_of(shop.owner.get("/phone").text)
    answer = shop.owner.post(
        "/phone", data={"number": "(212) 555-0142", "body": "On my way", "csrf": token},
        follow_redirects=False,
    )  # fmt: skip
    assert (answer.status_code, answer.headers["location"]) == (303, "/phone?number=%2B12125550142")
    assert "On my way" in shop.owner.get(answer.headers["location"]).text


def test_the_thread_fragment_shows_the_newest_texts_with_their_status(
    session: Session, shop: Shop, clock: FrozenClock
) -> None:
    number = active_number(session, shop.business.id)
    assert number is not None
    for n in range(205):
        text_from(session, number, MARIA, f"text number {n:03}", clock.now())
    session.commit()
    fragment = shop.owner.get("/phone/thread", params={"number": MARIA})
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<ol class="thread phone-thread" id="phone-thread"')
    assert "text number 204" in fragment.text and "text number 004" not in fragment.text
    assert fragment.text.count('data-status="received"') == 200

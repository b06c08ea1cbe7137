"""The conversation page's internal notes: written from the page, shown in the thread among
the messages in time order as notes (not bubbles), mentions highlighted; a refused note says
why and keeps nothing."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.models import Message, Note
from messagecenter.numbers import queries as numbers
from messagecenter.staff.service import list_staff
from tests.factories import MARIA, conversation_of, count, text_from
from tests.web.conftest import Shop, csrf_of


def thread_items(html: str) -> list[str]:
    """The kinds of the thread's items in order: msg or staff-note."""
    thread = html.split('id="thread"', 1)[1].split("</ol>", 1)[0]
    return re.findall(r'<li class="(msg|staff-note)[^"]*" id="(?:message|note)-\d+"', thread)


def receive(session: Session, shop: Shop, body: str, clock: FrozenClock) -> int:
    text_from(session, numbers.numbers_of(session, shop.business.id)[0], MARIA, body, clock.now())
    session.commit()
    return conversation_of(session, shop.business, MARIA).id


def write_note(shop: Shop, conversation_id: int, body: str) -> str:
    page = shop.clerk.get(f"/conversations/{conversation_id}")
    posted = shop.clerk.post(
        f"/conversations/{conversation_id}/notes",
        data={"body": body, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    return shop.clerk.get(f"/conversations/{conversation_id}").text


def test_a_note_shows_in_the_thread_among_the_messages_and_is_not_sent(
    session: Session, shop: Shop, clock: FrozenClock
) -> None:
    maria = receive(session, shop, "Can I move to 4pm?", clock)
    owner = next(m for m in list_staff(session, shop.business.id) if m.role == "owner")
    mention = "@" + owner.email.split("@")[0].upper()
    messages = count(session, Message)
    clock.advance(timedelta(minutes=1))
    write_note(shop, maria, f"She is a regular: {mention} can you fit her in? @nobody")
    clock.advance(timedelta(minutes=1))
    receive(session, shop, "Or 5pm?", clock)
    shown = shop.owner.get(f"/conversations/{maria}").text
    assert thread_items(shown) == ["msg", "staff-note", "msg"]
    assert 'aria-label="Internal note by Casey"' in shown and "Note by Casey" in shown
    assert f'<mark class="mention" data-staff-id="{owner.id}">{mention}</mark>' in shown
    assert "@nobody" in shown and 'data-staff-id">@nobody' not in shown
    assert count(session, Message) == messages + 1  # the client's 5pm text; the note is not sent
    # The live refresh's fragment (messages after the newest shown) brings the note too.
    (first,) = session.query(Message.id).filter(Message.body == "Can I move to 4pm?").one()
    fragment = shop.owner.get(f"/conversations/{maria}/thread", params={"after": first}).text
    assert thread_items(fragment) == ["staff-note", "msg"]


def test_an_empty_note_is_refused_saying_so_and_nothing_is_kept(
    session: Session, shop: Shop, clock: FrozenClock
) -> None:
    maria = receive(session, shop, "Can I move to 4pm?", clock)
    shown = write_note(shop, maria, "   ")
    assert "Write the note&#39;s text." in shown or "Write the note's text." in shown
    assert count(session, Note) == 0


def test_a_mention_waits_on_the_named_staffs_pages_until_they_open_the_conversation(
    session: Session, shop: Shop, clock: FrozenClock
) -> None:
    maria = receive(session, shop, "Can I move to 4pm?", clock)
    owner = next(m for m in list_staff(session, shop.business.id) if m.role == "owner")
    # Written while none of the owner's pages is open: no live notice reaches them.
    write_note(shop, maria, f"@{owner.email.split('@')[0]} can you call her?")

    inbox = shop.owner.get("/inbox").text
    assert 'id="mentions-waiting"' in inbox
    assert "Casey mentioned you in a note" in inbox and f"/conversations/{maria}#note-" in inbox
    assert 'id="mentions-waiting"' not in shop.clerk.get("/inbox").text  # Casey wrote it
    # On the conversation itself the note is in view: no reminder there.
    page = shop.owner.get(f"/conversations/{maria}").text
    assert 'id="mentions-waiting"' not in page
    read = shop.owner.post(f"/conversations/{maria}/read", data={"csrf": csrf_of(page)})
    assert read.status_code == 200
    assert 'id="mentions-waiting"' not in shop.owner.get("/inbox").text

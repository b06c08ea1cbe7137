"""Internal notes: kept in the conversation, never sent, counted or unread; checked when
written; @mentions found by name or email and told live to the staff member named."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import InvalidInput
from messagecenter.events import pending_events
from messagecenter.models import Message, Note, StaffMember
from messagecenter.models.note import MAX_NOTE_CHARACTERS
from messagecenter.notes import service
from messagecenter.staff.service import create_staff_member
from tests.factories import (
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
    text_from(session, setup.number, MARIA, "Can I move to 4pm?", clock.now())
    session.commit()
    return setup


def staff(session: Session, shop: SetUp, clock: FrozenClock, email: str, name: str) -> StaffMember:
    return create_staff_member(
        session, business_id=shop.business.id, email=email, name=name, role="staff",
        can_send_sms=True, password="password-123", at=clock.now(),
    )  # fmt: skip


def test_a_note_is_kept_and_never_sent_counted_or_unread(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    casey = staff(session, shop, clock, "casey@studio.example", "Casey")
    maria = conversation_of(session, shop.business, MARIA)
    messages, unread, units = (
        count(session, Message),
        badge(session, shop.business),
        used(session, shop.business, clock.now()),
    )
    note = service.add_note(session, maria, body="  She prefers mornings ", at=clock.now(),
                            author=casey)  # fmt: skip
    assert (note.body, note.author_id, note.author_label) == (
        "She prefers mornings",
        casey.id,
        "Casey",
    )
    assert service.notes_between(session, maria) == [note]
    assert count(session, Message) == messages  # nothing sent
    assert badge(session, shop.business) == unread
    assert used(session, shop.business, clock.now()) == units


@pytest.mark.parametrize(
    ("body", "says"),
    [("   ", "Write the note's text"), ("x" * (MAX_NOTE_CHARACTERS + 1), "the limit is 2,000")],
)
def test_an_empty_or_too_long_note_is_refused_and_nothing_is_kept(
    session: Session, shop: SetUp, clock: FrozenClock, body: str, says: str
) -> None:
    maria = conversation_of(session, shop.business, MARIA)
    with pytest.raises(InvalidInput, match=says) as refused:
        service.add_note(session, maria, body=body, at=clock.now(), author=None, author_label="API")
    assert refused.value.field == "body"
    assert count(session, Note) == 0
    assert pending_events(session) == []


def test_mentions_by_name_or_email_in_any_case_tell_those_named(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    casey = staff(session, shop, clock, "casey@studio.example", "Casey Jones")
    robin = staff(session, shop, clock, "rob.in@studio.example", "Robin")
    maria = conversation_of(session, shop.business, MARIA)
    session.commit()
    body = "@casey jones and @ROB.IN: call her. @Robin, @nobody @Caseyx"
    note = service.add_note(session, maria, body=body, at=clock.now(), author=casey)
    staff_list = service.staff_to_mention(session, shop.business.id)
    assert [s.id for s in service.mentioned(body, staff_list)] == [casey.id, robin.id]
    highlighted = [(s.text, s.staff.id) for s in service.segments(body, staff_list) if s.staff]
    assert highlighted == [("@casey jones", casey.id), ("@ROB.IN", robin.id), ("@Robin", robin.id)]
    assert "".join(s.text for s in service.segments(body, staff_list)) == body
    events = pending_events(session)
    assert [e.type for e in events] == [service.NOTE_CREATED, service.NOTE_MENTIONED]
    told = events[1].data  # the author mentioning themself is not told
    assert (told["staff_id"], told["conversation_id"], told["note_id"]) == (
        robin.id,
        maria.id,
        note.id,
    )
    assert told["author"] == "Casey Jones"


def test_notes_between_bounds_the_thread_s_window(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    from datetime import timedelta

    maria = conversation_of(session, shop.business, MARIA)
    first = service.add_note(session, maria, body="one", at=clock.now(), author=None)
    clock.advance(timedelta(minutes=1))
    second = service.add_note(session, maria, body="two", at=clock.now(), author=None)
    assert service.notes_between(session, maria, since=clock.now()) == [second]
    assert service.notes_between(session, maria, before=clock.now()) == [first]


def test_a_mention_waits_for_the_staff_named_until_they_open_the_conversation(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    casey = staff(session, shop, clock, "casey@studio.example", "Casey Jones")
    robin = staff(session, shop, clock, "robin@studio.example", "Robin")
    maria = conversation_of(session, shop.business, MARIA)
    business_id = shop.business.id
    first = service.add_note(session, maria, body="@Robin she paid", at=clock.now(), author=casey)
    second = service.add_note(
        session, maria, body="@robin @casey jones call her back", at=clock.now(), author=casey
    )
    session.commit()

    waiting = service.unseen_mentions(session, business_id, robin.id)
    assert [(m.note_id, m.author, m.preview) for m in waiting] == [
        (second.id, "Casey Jones", "@robin @casey jones call her back"),
        (first.id, "Casey Jones", "@Robin she paid"),
    ]
    assert service.unseen_mentions(session, business_id, casey.id) == []  # the author knows
    service.mentions_seen(session, casey.id, maria.id, clock.now())  # Casey opening it
    assert len(service.unseen_mentions(session, business_id, robin.id)) == 2
    service.mentions_seen(session, robin.id, maria.id, clock.now())
    assert service.unseen_mentions(session, business_id, robin.id) == []

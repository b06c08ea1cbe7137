"""The conversations service: unread, folders, flags and the badge."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations.service import (
    ConversationChanged,
    ensure_seen_through,
    mark_read,
    mark_unread,
    update_flags,
)
from messagecenter.db import session_scope
from messagecenter.models import (
    Business,
    Conversation,
    Message,
)
from messagecenter.sending.compose import Sender, send_message
from tests.factories import (
    JOHN,
    MARIA,
    STRANGER,
    api_sender,
    badge,
    conversation_of,
    make_business,
    make_client,
    staff_sender,
    text_from,
)

# ---------------------------------------------------------------------------- helpers


def expected_badge(session: Session, business: Business) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Conversation.unread_count), 0)).where(
            Conversation.business_id == business.id, Conversation.muted.is_(False)
        )
    )
    return int(total or 0)


def assert_badge_consistent(session: Session, business: Business) -> None:
    session.expire_all()
    assert badge(session, business) == expected_badge(session, business)


# ---------------------------------------------------------------------------- unread and folders


def test_unread_counts_client_messages_since_anyone_last_opened_the_conversation(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    biz = setup.business
    text_from(session, setup.number, MARIA, "one", clock.now())
    text_from(session, setup.number, MARIA, "two", clock.now())
    text_from(session, setup.number, JOHN, "hey", clock.now())

    maria = conversation_of(session, biz, MARIA)
    assert (maria.unread_count, maria.folder) == (2, "unread")
    assert badge(session, biz) == 3

    clock.advance(timedelta(minutes=5))
    mark_read(session, biz.id, maria.id, clock.now())
    maria = conversation_of(session, biz, MARIA)
    assert (maria.unread_count, maria.folder) == (0, "read")
    assert maria.last_read_at == clock.now()
    assert badge(session, biz) == 1

    mark_read(session, biz.id, maria.id, clock.now())  # opening again changes nothing
    assert badge(session, biz) == 1

    text_from(session, setup.number, MARIA, "three", clock.now())
    maria = conversation_of(session, biz, MARIA)
    assert (maria.unread_count, maria.folder) == (1, "unread")
    assert badge(session, biz) == 2
    assert_badge_consistent(session, biz)


def test_mark_unread_makes_the_count_at_least_one_and_never_adds_a_second(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    biz = setup.business
    text_from(session, setup.number, MARIA, "hello", clock.now())
    conversation = conversation_of(session, biz, MARIA)
    mark_read(session, biz.id, conversation.id, clock.now())
    assert badge(session, biz) == 0

    mark_unread(session, biz.id, conversation.id)
    conversation = conversation_of(session, biz, MARIA)
    assert (conversation.unread_count, conversation.folder) == (1, "unread")
    assert badge(session, biz) == 1

    mark_unread(session, biz.id, conversation.id)
    assert conversation_of(session, biz, MARIA).unread_count == 1
    assert badge(session, biz) == 1

    text_from(session, setup.number, MARIA, "again", clock.now())
    text_from(session, setup.number, MARIA, "and again", clock.now())
    mark_unread(session, biz.id, conversation.id)
    assert conversation_of(session, biz, MARIA).unread_count == 3
    assert badge(session, biz) == 3
    assert_badge_consistent(session, biz)


def test_muted_conversations_are_left_out_of_the_badge(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    biz = setup.business
    text_from(session, setup.number, MARIA, "a", clock.now())
    text_from(session, setup.number, MARIA, "b", clock.now())
    text_from(session, setup.number, JOHN, "c", clock.now())
    maria = conversation_of(session, biz, MARIA)
    assert badge(session, biz) == 3

    update_flags(session, biz.id, maria.id, muted=True)
    assert badge(session, biz) == 1
    assert conversation_of(session, biz, MARIA).unread_count == 2  # still unread, just quiet

    update_flags(session, biz.id, maria.id, muted=True)  # muting twice removes nothing more
    assert badge(session, biz) == 1

    text_from(session, setup.number, MARIA, "d", clock.now())
    assert conversation_of(session, biz, MARIA).unread_count == 3
    assert badge(session, biz) == 1

    mark_unread(session, biz.id, maria.id)
    assert badge(session, biz) == 1

    update_flags(session, biz.id, maria.id, muted=False)
    assert badge(session, biz) == 4

    update_flags(session, biz.id, maria.id, muted=True)
    mark_read(session, biz.id, maria.id, clock.now())
    update_flags(session, biz.id, maria.id, muted=False)
    assert badge(session, biz) == 1
    assert_badge_consistent(session, biz)


def test_archiving_keeps_the_badge_and_a_client_text_brings_it_back_to_unread(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    biz = setup.business
    text_from(session, setup.number, MARIA, "thanks!", clock.now())
    maria = conversation_of(session, biz, MARIA)
    mark_read(session, biz.id, maria.id, clock.now())

    update_flags(session, biz.id, maria.id, archived=True)
    assert conversation_of(session, biz, MARIA).folder == "archived"
    assert badge(session, biz) == 0

    text_from(session, setup.number, MARIA, "one more thing", clock.now())
    maria = conversation_of(session, biz, MARIA)
    assert (maria.folder, maria.unread_count) == ("unread", 1)
    assert badge(session, biz) == 1

    update_flags(session, biz.id, maria.id, archived=True)  # archived with an unread message
    assert badge(session, biz) == 1
    assert_badge_consistent(session, biz)
    update_flags(session, biz.id, maria.id, archived=False)
    assert conversation_of(session, biz, MARIA).folder == "unread"


@pytest.mark.parametrize("who", ["api_key", "staff"])
def test_a_reply_moves_the_conversation_to_replied_and_clears_its_unread(
    session: Session, context: AppContext, clock: FrozenClock, who: str
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    biz = setup.business
    make_client(session, biz, clock.now(), cell_phone=MARIA)
    text_from(session, setup.number, MARIA, "Is 5pm free?", clock.now())
    text_from(session, setup.number, MARIA, "or 6?", clock.now())
    text_from(session, setup.number, JOHN, "hi", clock.now())
    maria = conversation_of(session, biz, MARIA)
    sender = api_sender(session, biz) if who == "api_key" else staff_sender(session, biz)

    clock.advance(timedelta(minutes=2))
    message = send_message(
        session, biz, body="5pm works", sender=sender, conversation=maria, at=clock.now()
    )

    assert message.sender_type == who
    maria = conversation_of(session, biz, MARIA)
    assert (maria.folder, maria.unread_count) == ("replied", 0)
    assert badge(session, biz) == 1

    text_from(session, setup.number, MARIA, "great, thanks", clock.now())
    maria = conversation_of(session, biz, MARIA)
    assert (maria.folder, maria.unread_count) == ("unread", 1)
    assert badge(session, biz) == 2
    assert_badge_consistent(session, biz)


def test_an_automated_message_is_not_a_reply_and_leaves_the_unread_alone(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    biz = setup.business
    client = make_client(session, biz, clock.now(), cell_phone=MARIA)
    text_from(session, setup.number, MARIA, "question", clock.now())

    message = send_message(
        session,
        biz,
        body="Reminder: class at 5pm",
        sender=Sender.automated(),
        client=client,
        category="reminders",
        at=clock.now(),
    )

    assert message.sender_type == "automated"
    maria = conversation_of(session, biz, MARIA)
    assert (maria.folder, maria.unread_count) == ("unread", 1)
    assert badge(session, biz) == 1


OPERATIONS = ("inbound", "read", "unread", "mute", "unmute", "archive", "unarchive", "reply")


def test_the_badge_always_equals_the_unread_of_conversations_that_are_not_muted(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    biz = setup.business
    phones = [MARIA, JOHN, STRANGER]
    make_client(session, biz, clock.now(), cell_phone=MARIA)
    sender = api_sender(session, biz)
    for phone in phones:  # every conversation exists, read, before the random steps
        text_from(session, setup.number, phone, "hi", clock.now())
        mark_read(session, biz.id, conversation_of(session, biz, phone).id, clock.now())
    session.flush()

    @settings(max_examples=25, deadline=None, database=None)
    @given(
        steps=st.lists(
            st.tuples(st.sampled_from(OPERATIONS), st.integers(0, len(phones) - 1)),
            min_size=1,
            max_size=25,
        )
    )
    def run(steps: list[tuple[str, int]]) -> None:
        savepoint = session.begin_nested()
        try:
            for operation, which in steps:
                phone = phones[which]
                conversation = conversation_of(session, biz, phone)
                before = conversation.unread_count
                if operation == "inbound":
                    text_from(session, setup.number, phone, "ping", clock.now())
                elif operation == "read":
                    mark_read(session, biz.id, conversation.id, clock.now())
                elif operation == "unread":
                    mark_unread(session, biz.id, conversation.id)
                elif operation in ("mute", "unmute"):
                    update_flags(session, biz.id, conversation.id, muted=operation == "mute")
                elif operation in ("archive", "unarchive"):
                    update_flags(session, biz.id, conversation.id, archived=operation == "archive")
                else:
                    send_message(
                        session,
                        biz,
                        body="ok",
                        sender=sender,
                        conversation=conversation,
                        at=clock.now(),
                    )
                after = conversation_of(session, biz, phone)
                expected = {
                    "inbound": before + 1,
                    "read": 0,
                    "unread": max(before, 1),
                    "reply": 0,
                }.get(operation, before)
                assert after.unread_count == expected, (operation, steps)
                if operation in ("inbound", "unread"):
                    assert after.folder == "unread"
                if operation == "reply":
                    assert after.folder in ("replied", "archived")
                assert badge(session, biz) == expected_badge(session, biz), steps
        finally:
            savepoint.rollback()

    run()


def test_of_two_staff_answering_from_the_same_message_one_sends_and_one_is_refused(
    committed_context: AppContext, clock: FrozenClock
) -> None:
    """Released together by a barrier, each on its own connection: the conversation's lock
    lets one reply through, and the other finds it newer than what its sender saw."""
    context = committed_context
    with session_scope(context.sessions) as session:
        setup = make_business(session, context.carrier, clock.now())
        make_client(session, setup.business, clock.now(), cell_phone=MARIA)
        outcome = text_from(session, setup.number, MARIA, "Is 3pm free?", clock.now())
        assert outcome.message_id is not None
        seen, business_id = outcome.message_id, setup.business.id
        conversation_id = session.get_one(Message, seen).conversation_id
    barrier = threading.Barrier(2)
    sent: list[int] = []  # the message ids sent
    refused: list[list[int]] = []  # the newer messages each refusal named

    def answer(body: str) -> None:
        barrier.wait(timeout=30)
        with session_scope(context.sessions) as session:
            business = session.get_one(Business, business_id)
            conversation = session.get_one(Conversation, conversation_id)
            try:
                ensure_seen_through(session, conversation, seen)
            except ConversationChanged as changed:
                refused.append([m.id for m in changed.newer])
                return
            message = send_message(
                session,
                business,
                body=body,
                sender=Sender.automated(),
                conversation=conversation,
                at=clock.now(),
            )
            session.flush()
            sent.append(message.id)

    threads = [threading.Thread(target=answer, args=(b,)) for b in ("Yes!", "Sorry, no")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(sent) == 1 and len(refused) == 1
    assert refused[0] == sent  # the refusal named the reply that went
    with session_scope(context.sessions) as session:
        outbound = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.conversation_id == conversation_id, Message.direction == "outbound")
        )
    assert outbound == 1

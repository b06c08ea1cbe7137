"""The conversations service: inbound routing and storage, unread and folders, sending rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.businesses import usage
from messagecenter.carriers.base import InboundSms
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import queries
from messagecenter.conversations.service import (
    Sender,
    link_client,
    mark_read,
    mark_unread,
    record_inbound,
    record_inbound_batch,
    send_message,
    update_flags,
)
from messagecenter.errors import (
    AllowanceExhausted,
    ClientUnsubscribed,
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
)
from messagecenter.events import LiveEvent, pending_events
from messagecenter.models import (
    ApiKey,
    Business,
    Conversation,
    Message,
    StaffMember,
    UnroutedMessage,
)
from messagecenter.models.sms_number import NUMBER_RELEASED
from tests.factories import SetUp, make_business, make_client, text_from

MARIA = "+12125550142"
JOHN = "+12125550143"
STRANGER = "+12125550177"


# ---------------------------------------------------------------------------- helpers


def count(session: Session, model: type[object], *conditions: object) -> int:
    stmt = select(func.count()).select_from(model)
    for condition in conditions:
        stmt = stmt.where(condition)  # type: ignore[arg-type]
    return int(session.scalar(stmt) or 0)


def used(session: Session, business: Business, at: datetime) -> int:
    return usage.summarize(session, business, at).used


def badge(session: Session, business: Business) -> int:
    return queries.business_unread(session, business.id)


def conversation_of(session: Session, business: Business, phone: str) -> Conversation:
    conversation = queries.conversation_for_phone(session, business.id, phone)
    assert conversation is not None
    session.refresh(conversation)
    return conversation


def api_sender(session: Session, business: Business) -> Sender:
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.business_id == business.id))
    assert key_id is not None
    return Sender.api_key(key_id)


def staff_sender(session: Session, business: Business) -> Sender:
    staff_id = session.scalar(select(StaffMember.id).where(StaffMember.business_id == business.id))
    assert staff_id is not None
    return Sender.staff(staff_id)


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


def two_businesses(session: Session, context: AppContext, at: datetime) -> tuple[SetUp, SetUp]:
    a = make_business(session, context.carrier, at, business_phone="+12125550100")
    b = make_business(session, context.carrier, at, business_phone="+13125550100")
    assert a.number.phone_number != b.number.phone_number
    return a, b


# ---------------------------------------------------------------------------- inbound


def test_inbound_is_routed_to_the_business_whose_active_number_it_is(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    a, b = two_businesses(session, context, clock.now())

    outcome = text_from(session, b.number, MARIA, "Hi there", clock.now())

    assert outcome.business_id == b.business.id
    assert not outcome.unrouted and not outcome.duplicate
    message = session.get(Message, outcome.message_id)
    assert message is not None
    assert message.business_id == b.business.id
    assert (message.direction, message.sender_type, message.status) == (
        "inbound",
        "client",
        "received",
    )
    assert (message.from_phone, message.to_phone) == (MARIA, b.number.phone_number)
    conversation = session.get(Conversation, message.conversation_id)
    assert conversation is not None and conversation.business_id == b.business.id
    assert count(session, Conversation, Conversation.business_id == a.business.id) == 0
    assert count(session, Message, Message.business_id == a.business.id) == 0


def test_inbound_to_a_number_that_is_no_active_number_is_unrouted(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    make_business(session, context.carrier, clock.now())
    messages, conversations = count(session, Message), count(session, Conversation)
    to_nobody = "+12125550199"  # a number no business holds
    text = InboundSms("SMunrouted2", MARIA, to_nobody, "anyone there?", ["https://x.test/a.jpg"])

    unrouted = record_inbound(session, text, clock.now())

    assert unrouted.unrouted is True
    assert unrouted.business_id is None and unrouted.message_id is None
    assert not unrouted.duplicate
    row = session.scalar(
        select(UnroutedMessage).where(UnroutedMessage.carrier_sid == "SMunrouted2")
    )
    assert row is not None
    assert (row.from_phone, row.to_phone, row.body) == (MARIA, to_nobody, "anyone there?")
    assert row.media_urls == ["https://x.test/a.jpg"]
    assert count(session, Message) == messages
    assert count(session, Conversation) == conversations

    replay = record_inbound(session, text, clock.now())

    assert replay.unrouted is True and replay.duplicate is True
    assert count(session, UnroutedMessage, UnroutedMessage.carrier_sid == "SMunrouted2") == 1
    assert count(session, Message) == messages
    assert count(session, Conversation) == conversations


def test_inbound_to_a_released_number_is_unrouted_and_attached_to_no_business(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    text_from(session, setup.number, MARIA, "first", clock.now())
    before_used = used(session, setup.business, clock.now())
    before_messages = count(session, Message)
    setup.number.status = NUMBER_RELEASED
    setup.number.released_at = clock.now()
    session.flush()

    outcome = text_from(session, setup.number, MARIA, "late reply", clock.now())

    assert outcome.unrouted is True and outcome.business_id is None
    assert count(session, Message) == before_messages
    assert count(session, UnroutedMessage, UnroutedMessage.body == "late reply") == 1
    assert used(session, setup.business, clock.now()) == before_used
    assert conversation_of(session, setup.business, MARIA).unread_count == 1


def test_inbound_from_a_clients_cell_phone_is_attached_to_the_client(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    client = make_client(session, setup.business, clock.now(), cell_phone=MARIA)

    text_from(session, setup.number, MARIA, "Can I move my class?", clock.now())

    conversation = conversation_of(session, setup.business, MARIA)
    assert conversation.client_id == client.id


def test_unknown_sender_starts_an_unidentified_conversation_that_staff_can_link(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    a, b = two_businesses(session, context, clock.now())

    text_from(session, a.number, STRANGER, "Hi, is this the studio?", clock.now())

    conversation = conversation_of(session, a.business, STRANGER)
    assert conversation.client_id is None
    client = make_client(session, a.business, clock.now(), first_name="Sam", cell_phone=None)
    foreign = make_client(session, b.business, clock.now(), first_name="Other", cell_phone=None)

    with pytest.raises(NotFound):
        link_client(session, a.business.id, conversation.id, foreign)
    assert conversation_of(session, a.business, STRANGER).client_id is None

    link_client(session, a.business.id, conversation.id, client)
    assert conversation_of(session, a.business, STRANGER).client_id == client.id


def test_a_client_saved_later_with_the_senders_number_is_attached_on_the_next_text(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    text_from(session, setup.number, STRANGER, "hello", clock.now())
    client = make_client(session, setup.business, clock.now(), cell_phone=STRANGER)

    text_from(session, setup.number, STRANGER, "it's Sam", clock.now())

    assert conversation_of(session, setup.business, STRANGER).client_id == client.id
    assert count(session, Conversation, Conversation.business_id == setup.business.id) == 1


def test_a_retried_inbound_webhook_changes_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    first = text_from(session, setup.number, MARIA, "Running late", clock.now(), sid="SMretry1")
    used_once = used(session, setup.business, clock.now())
    unread_once = conversation_of(session, setup.business, MARIA).unread_count
    badge_once = badge(session, setup.business)

    clock.advance(timedelta(minutes=1))
    again = text_from(session, setup.number, MARIA, "Running late", clock.now(), sid="SMretry1")

    assert first.message_id is not None and not first.duplicate
    assert again.duplicate is True and again.message_id is None
    assert count(session, Message, Message.carrier_sid == "SMretry1") == 1
    assert count(session, Message, Message.business_id == setup.business.id) == 1
    assert (used_once, unread_once, badge_once) == (1, 1, 1)
    assert used(session, setup.business, clock.now()) == used_once
    assert conversation_of(session, setup.business, MARIA).unread_count == unread_once
    assert badge(session, setup.business) == badge_once


def test_a_picture_without_text_is_stored_and_counts_three_units(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    picture = "https://media.example.test/photo.jpg"

    outcome = text_from(session, setup.number, MARIA, "", clock.now(), media=[picture])

    message = session.get(Message, outcome.message_id)
    assert message is not None
    assert message.body == "" and message.media_urls == [picture]
    assert message.units == 3
    assert used(session, setup.business, clock.now()) == 3
    conversation = conversation_of(session, setup.business, MARIA)
    assert conversation.unread_count == 1
    assert conversation.last_message_preview != ""


def test_inbound_is_never_refused_past_the_allowance(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=2, policy="hard_stop")

    for n in range(3):
        text_from(session, setup.number, MARIA, f"message {n}", clock.now())
    text_from(session, setup.number, MARIA, "", clock.now(), media=["https://m.test/1.png"])

    assert count(session, Message, Message.business_id == setup.business.id) == 4
    summary = usage.summarize(session, setup.business, clock.now())
    assert summary.used == 6
    assert summary.inbound_units == 6
    assert summary.overage_units == 4


def test_crlf_in_an_inbound_body_is_stored_as_lf(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())

    outcome = text_from(session, setup.number, MARIA, "line one\r\nline two\r\n", clock.now())

    message = session.get(Message, outcome.message_id)
    assert message is not None
    assert message.body == "line one\nline two\n"
    assert "\r" not in message.body


# ---------------------------------------------------------------------------- unread and folders


def _intake_state(session: Session, businesses: list[Business]) -> object:
    """Everything the intake writes, without ids or times (which differ between two runs)."""
    session.expire_all()
    messages = session.execute(
        select(Message.business_id, Message.direction, Message.from_phone, Message.body)
        .where(Message.business_id.in_([b.id for b in businesses]))
        .order_by(Message.id)
    ).all()
    conversations = session.execute(
        select(
            Conversation.business_id,
            Conversation.phone,
            Conversation.unread_count,
            Conversation.folder,
            Conversation.client_id,
            Conversation.last_message_preview,
        ).order_by(Conversation.business_id, Conversation.phone)
    ).all()
    unrouted = session.scalars(select(UnroutedMessage.carrier_sid).order_by(UnroutedMessage.id))
    return (
        messages,
        conversations,
        list(unrouted),
        [
            (used(session, b, MONTH_END), used(session, b, MONTH_END + timedelta(days=1)))
            for b in businesses
        ],
        [badge(session, b) for b in businesses],
    )


BATCH_TEXTS = st.lists(
    st.tuples(
        st.integers(0, 2),  # to: business A, business B, or a number nobody has
        st.sampled_from([MARIA, JOHN, STRANGER]),
        st.sampled_from(["hi", "Can I come at 4?", "STOP", "START", "HELP", ""]),  # "": a picture
        st.integers(0, 7),  # the carrier sid: equal sids are the same text retried
        st.integers(0, 3),  # seconds past 23:59:58 on 30 November in New York
    ),
    min_size=1,
    max_size=12,
)
MONTH_END = datetime(2026, 12, 1, 4, 59, 58, tzinfo=UTC)  # 23:59:58 on 30 November, New York


def test_a_batch_of_texts_leaves_what_the_same_texts_one_by_one_leave(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """The intake writes texts that arrive together in one batch: usage (and its warnings, in
    small allowances, across a month's end), unread badges, conversations, keyword replies
    and replays must come out as if the texts came one by one."""
    a = make_business(session, context.carrier, clock.now(), allowance=6)
    b = make_business(
        session, context.carrier, clock.now(), business_phone="+13125550100", allowance=3
    )
    make_client(session, a.business, clock.now(), cell_phone=MARIA)
    conversation = conversation_of_new(session, context, a, JOHN, clock)
    update_flags(session, a.business.id, conversation.id, muted=True)
    session.flush()
    numbers = [a.number.phone_number, b.number.phone_number, "+15005550006"]

    @settings(max_examples=60, deadline=None, database=None)
    @given(texts=BATCH_TEXTS)
    def run(texts: list[tuple[int, str, str, int, int]]) -> None:
        seconds = sorted(t[4] for t in texts)  # arrival times never go back; some are equal
        inbound = [
            (
                InboundSms(
                    f"SMbatch{sid:026d}",
                    phone,
                    numbers[to],
                    body,
                    [] if body else ["https://m.test/p.png"],
                ),
                MONTH_END + timedelta(seconds=seconds[n]),
            )
            for n, (to, phone, body, sid, _) in enumerate(texts)
        ]
        results = []
        for batched in (False, True):
            savepoint = session.begin_nested()
            events_before = len(pending_events(session))
            try:
                if batched:
                    outcomes = record_inbound_batch(session, inbound)
                else:
                    outcomes = [record_inbound(session, text, when) for text, when in inbound]
                results.append(
                    (
                        [(o.duplicate, o.unrouted, len(o.replies)) for o in outcomes],
                        _intake_state(session, [a.business, b.business]),
                        _event_kinds(pending_events(session)[events_before:]),
                    )
                )
            finally:
                savepoint.rollback()
        one_by_one, batch = results
        assert batch == one_by_one, texts

    run()


def _event_kinds(events: list[LiveEvent]) -> list[str]:
    """The events, in any order, without ids or the badge's running total (a batch announces
    the total as it stands at commit; one by one, each text announces its own step)."""
    left_out = {"conversation_id", "message_id", "unread"}
    return sorted(
        f"{e.type} {sorted((k, v) for k, v in e.data.items() if k not in left_out)}" for e in events
    )


def conversation_of_new(
    session: Session, context: AppContext, setup: SetUp, phone: str, clock: FrozenClock
) -> Conversation:
    text_from(session, setup.number, phone, "first", clock.now())
    return conversation_of(session, setup.business, phone)


def test_a_batch_that_carries_usage_past_80_percent_warns_as_the_texts_one_by_one_would(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10)
    texts = [
        (InboundSms(f"SMwarn{n:027d}", MARIA, setup.number.phone_number, "hi"), clock.now())
        for n in range(9)
    ]
    record_inbound_batch(session, texts)
    warnings = [e.data for e in pending_events(session) if e.type == "usage.warning"]
    assert warnings == [{"percent": 80, "used": 8, "allowance": 10}]  # once, at the 8th text
    badges = {e.data["unread"] for e in pending_events(session) if e.type == "unread.changed"}
    assert badges == {9}  # every text's event carries the badge as it stands at commit


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


# ---------------------------------------------------------------------------- sending: validation


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    return make_business(session, context.carrier, clock.now(), allowance=100)


def snapshot(session: Session, business: Business, at: datetime) -> tuple[int, int, int, int]:
    session.expire_all()
    return (
        count(session, Message, Message.business_id == business.id),
        count(session, Conversation, Conversation.business_id == business.id),
        used(session, business, at),
        badge(session, business),
    )


@pytest.mark.parametrize("body", ["", "   ", " \n\t \r\n "])
def test_an_empty_or_blank_message_is_refused_and_nothing_is_written(
    session: Session, clock: FrozenClock, shop: SetUp, body: str
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    before = snapshot(session, shop.business, clock.now())

    with pytest.raises(InvalidInput) as refused:
        send_message(
            session,
            shop.business,
            body=body,
            sender=api_sender(session, shop.business),
            client=client,
            at=clock.now(),
        )

    assert refused.value.field == "body"
    assert refused.value.status_code == 400
    assert snapshot(session, shop.business, clock.now()) == before


def test_a_picture_without_text_may_be_sent_and_counts_three_units(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)

    message = send_message(
        session,
        shop.business,
        body="",
        media_urls=["https://media.example.test/class.png"],
        sender=api_sender(session, shop.business),
        client=client,
        at=clock.now(),
    )

    assert message.units == 3
    assert used(session, shop.business, clock.now()) == 3


def test_1600_characters_are_accepted_and_1601_refused_with_the_limit_in_words(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    sender = api_sender(session, shop.business)
    before = snapshot(session, shop.business, clock.now())

    with pytest.raises(InvalidInput) as refused:
        send_message(
            session, shop.business, body="a" * 1601, sender=sender, client=client, at=clock.now()
        )
    assert refused.value.field == "body"
    assert "1,600" in refused.value.message or "1600" in refused.value.message
    assert snapshot(session, shop.business, clock.now()) == before

    message = send_message(
        session, shop.business, body="a" * 1600, sender=sender, client=client, at=clock.now()
    )
    assert len(message.body) == 1600
    assert message.status == "queued"


def test_a_client_without_a_cell_phone_cannot_be_texted(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=None)
    before = snapshot(session, shop.business, clock.now())

    with pytest.raises(InvalidInput) as refused:
        send_message(
            session,
            shop.business,
            body="Hello",
            sender=api_sender(session, shop.business),
            client=client,
            at=clock.now(),
        )

    assert refused.value.field == "client_id"
    assert "cell phone" in refused.value.message
    assert snapshot(session, shop.business, clock.now()) == before


@pytest.mark.parametrize(
    ("body", "segments", "encoding"),
    [
        ("See you at 4!", 1, "GSM-7"),
        ("a" * 160, 1, "GSM-7"),
        ("a" * 161, 2, "GSM-7"),
        ("a" * 306, 2, "GSM-7"),
        ("a" * 307, 3, "GSM-7"),
        ("See you \U0001f600", 1, "UCS-2"),
        ("\u00e7" * 71, 2, "UCS-2"),  # c-cedilla (lower case) is not in GSM-7
        ("{" * 80, 1, "GSM-7"),  # extension characters take two septets: 160
        ("{" * 81, 2, "GSM-7"),
        ("a" * 159 + "\r\n", 1, "GSM-7"),  # CRLF counts as LF: 160 characters
    ],
)
def test_segments_encoding_and_units_are_stored_with_the_message(
    session: Session, clock: FrozenClock, shop: SetUp, body: str, segments: int, encoding: str
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)

    message = send_message(
        session,
        shop.business,
        body=body,
        sender=api_sender(session, shop.business),
        client=client,
        at=clock.now(),
    )

    session.expire_all()
    stored = session.get(Message, message.id)
    assert stored is not None
    assert (stored.segments, stored.encoding, stored.units) == (segments, encoding, 1)
    assert "\r" not in stored.body
    assert (stored.status, stored.dispatch_state, stored.direction) == (
        "queued",
        "pending",
        "outbound",
    )
    assert stored.to_phone == MARIA and stored.from_phone == shop.number.phone_number
    assert used(session, shop.business, clock.now()) == 1


def test_a_category_the_client_switched_off_is_refused(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    assert client.sms_marketing is False
    before = snapshot(session, shop.business, clock.now())

    with pytest.raises(Conflict) as refused:
        send_message(
            session,
            shop.business,
            body="20% off this week",
            sender=Sender.automated(),
            client=client,
            category="marketing",
            at=clock.now(),
        )
    assert refused.value.status_code == 409
    assert "marketing" in refused.value.message
    assert snapshot(session, shop.business, clock.now()) == before

    with pytest.raises(InvalidInput) as unknown:
        send_message(
            session,
            shop.business,
            body="?",
            sender=Sender.automated(),
            client=client,
            category="gossip",
            at=clock.now(),
        )
    assert unknown.value.field == "category"

    client.sms_marketing = True
    session.flush()
    message = send_message(
        session,
        shop.business,
        body="20% off this week",
        sender=Sender.automated(),
        client=client,
        category="marketing",
        at=clock.now(),
    )
    assert message.status == "queued"


def test_an_unsubscribed_client_is_refused_with_the_date_and_keyword(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    text_from(session, shop.number, MARIA, "Stop.", clock.now())
    clock.advance(timedelta(days=3))
    before = snapshot(session, shop.business, clock.now())

    with pytest.raises(ClientUnsubscribed) as refused:
        send_message(
            session,
            shop.business,
            body="We miss you!",
            sender=api_sender(session, shop.business),
            client=client,
            at=clock.now(),
        )

    assert refused.value.status_code == 409
    assert refused.value.code == "client_unsubscribed"
    assert "2026-11-16" in refused.value.message
    assert "STOP" in refused.value.message
    assert snapshot(session, shop.business, clock.now()) == before


def test_a_hard_stop_refuses_a_send_that_would_pass_the_allowance_and_writes_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=3, policy="hard_stop")
    maria = make_client(session, setup.business, clock.now(), cell_phone=MARIA)
    sender = api_sender(session, setup.business)
    send_message(session, setup.business, body="1", sender=sender, client=maria, at=clock.now())
    send_message(session, setup.business, body="2", sender=sender, client=maria, at=clock.now())
    before = snapshot(session, setup.business, clock.now())

    with pytest.raises(AllowanceExhausted) as refused:  # a picture needs 3 units, 1 is left
        send_message(
            session,
            setup.business,
            body="",
            media_urls=["https://m.test/a.png"],
            sender=sender,
            client=maria,
            at=clock.now(),
        )
    assert refused.value.status_code == 409
    assert snapshot(session, setup.business, clock.now()) == before


def test_a_send_refused_by_the_allowance_leaves_no_empty_conversation_behind(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """Refused "and nothing changed" (send_message's contract): a caller that goes on after a
    refusal (a bulk send to many clients) must not find a new, empty conversation."""
    setup = make_business(session, context.carrier, clock.now(), allowance=3, policy="hard_stop")
    maria = make_client(session, setup.business, clock.now(), cell_phone=MARIA)
    john = make_client(session, setup.business, clock.now(), first_name="John", cell_phone=JOHN)
    sender = api_sender(session, setup.business)
    for body in ("1", "2", "3"):
        send_message(
            session, setup.business, body=body, sender=sender, client=maria, at=clock.now()
        )
    before = snapshot(session, setup.business, clock.now())

    with pytest.raises(AllowanceExhausted):
        send_message(session, setup.business, body="4", sender=sender, client=john, at=clock.now())

    assert queries.conversation_for_phone(session, setup.business.id, JOHN) is None
    assert snapshot(session, setup.business, clock.now()) == before


def test_allow_overage_keeps_sending_and_counts_past_the_allowance(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(
        session, context.carrier, clock.now(), allowance=1, policy="allow_overage", price="0.10"
    )
    client = make_client(session, setup.business, clock.now(), cell_phone=MARIA)
    sender = api_sender(session, setup.business)

    for n in range(3):
        send_message(
            session, setup.business, body=f"#{n}", sender=sender, client=client, at=clock.now()
        )

    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.used, summary.overage_units) == (3, 2)
    assert str(summary.overage_cost) in ("0.20", "0.2000", "0.200")


def test_sending_into_an_unidentified_conversation_goes_to_its_phone(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    text_from(session, shop.number, STRANGER, "who is this?", clock.now())
    conversation = conversation_of(session, shop.business, STRANGER)

    message = send_message(
        session,
        shop.business,
        body="This is Studio!",
        sender=staff_sender(session, shop.business),
        conversation=conversation,
        at=clock.now(),
    )

    assert message.to_phone == STRANGER
    assert message.conversation_id == conversation.id
    assert count(session, Conversation, Conversation.business_id == shop.business.id) == 1


def test_send_message_needs_a_recipient(session: Session, clock: FrozenClock, shop: SetUp) -> None:
    with pytest.raises(DomainError) as refused:
        send_message(
            session,
            shop.business,
            body="Hello",
            sender=api_sender(session, shop.business),
            at=clock.now(),
        )
    assert refused.value.status_code == 400


def test_sending_to_a_client_reuses_the_conversation_for_their_phone(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    text_from(session, shop.number, MARIA, "hi", clock.now())
    sender = api_sender(session, shop.business)

    first = send_message(
        session, shop.business, body="a", sender=sender, client=client, at=clock.now()
    )
    second = send_message(
        session, shop.business, body="b", sender=sender, client=client, at=clock.now()
    )

    assert first.conversation_id == second.conversation_id
    assert count(session, Conversation, Conversation.business_id == shop.business.id) == 1

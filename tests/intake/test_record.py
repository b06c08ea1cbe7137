"""Recording client texts: routing, storage, usage, unread and keywords, alone and in batches."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from messagecenter.businesses import hours, usage
from messagecenter.carriers.base import InboundSms
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations.service import link_client, update_flags
from messagecenter.errors import (
    NotFound,
)
from messagecenter.events import LiveEvent, pending_events
from messagecenter.intake.record import record_inbound, record_inbound_batch
from messagecenter.integrations import service as integrations
from messagecenter.models import (
    Business,
    Conversation,
    Message,
    UnroutedMessage,
)
from messagecenter.models.sms_number import NUMBER_RELEASED
from tests.factories import (
    JOHN,
    MARIA,
    STRANGER,
    SetUp,
    badge,
    conversation_of,
    count,
    make_business,
    make_client,
    text_from,
    used,
)

# ---------------------------------------------------------------------------- helpers


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
        # "": a picture. "Arrêt" opts out only from B, which is Canadian: the batch cuts at
        # it for A too, where it is ordinary text.
        st.sampled_from(
            ["hi", "Can I come at 4?", "STOP", "START", "HELP", "Arrêt", "stop all", ""]
        ),
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
        session,
        context.carrier,
        clock.now(),
        country="CA",
        timezone="America/Toronto",  # New York's month end
        business_phone="+14165550100",
        allowance=3,
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


def test_a_batch_looks_up_hours_and_endpoints_only_for_businesses_that_have_them(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """The route says whether its business keeps opening hours and has a live outgoing
    webhook endpoint; a batch for businesses with neither makes no query for either, and
    one whose endpoint was deleted counts as having none."""
    plain, other = two_businesses(session, context, clock.now())
    endpoint, _ = integrations.create_endpoint(
        session,
        other.business.id,
        url="https://93.184.216.34/hooks",
        events=["message.received"],
        description="",
        at=clock.now(),
        allow_private=False,
    )
    integrations.delete_endpoint(session, other.business.id, endpoint.id, clock.now())
    texts = [
        (InboundSms(f"SM{n:032x}", MARIA, setup.number.phone_number, "hi", []), clock.now())
        for n, setup in enumerate([plain, other, plain])
    ]
    statements: list[str] = []

    def counted(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(context.engine, "before_cursor_execute", counted)
    try:
        outcomes = record_inbound_batch(session, texts)
    finally:
        event.remove(context.engine, "before_cursor_execute", counted)
    assert all(outcome.message_id for outcome in outcomes)
    assert not [s for s in statements if s.startswith("SELECT webhook_endpoints.")]
    assert not [s for s in statements if s.startswith("SELECT business_hours.")]

    hours.save_week(session, plain.business.id, {d: (time(9), time(17)) for d in range(7)})
    statements.clear()
    event.listen(context.engine, "before_cursor_execute", counted)
    try:
        record_inbound_batch(
            session,
            [
                (
                    InboundSms("SM" + "f" * 32, MARIA, plain.number.phone_number, "again", []),
                    clock.now(),
                )
            ],
        )
    finally:
        event.remove(context.engine, "before_cursor_execute", counted)
    assert len([s for s in statements if s.startswith("SELECT business_hours.")]) == 1

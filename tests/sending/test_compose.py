"""Composing a message: the sending rules (content, recipient, category, consent, allowance)
and the outbox row."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.businesses import usage
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.conversations import queries
from messagecenter.errors import (
    AllowanceExhausted,
    ClientUnsubscribed,
    Conflict,
    DomainError,
    InvalidInput,
)
from messagecenter.events import pending_events
from messagecenter.models import (
    Business,
    Client,
    Conversation,
    Message,
)
from messagecenter.sending.compose import Outgoing, Sender, send_message, send_messages
from messagecenter.sending.service import claim_due
from tests.factories import (
    JOHN,
    MARIA,
    STRANGER,
    SetUp,
    api_sender,
    badge,
    conversation_of,
    count,
    make_business,
    make_client,
    staff_sender,
    text_from,
    used,
)

# ---------------------------------------------------------------------------- helpers


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


# ---------------------------------------------------------------------------- batches


def clients(session: Session, setup: SetUp, at: datetime, count: int) -> list[Client]:
    """`count` clients with distinct cell phones (+1646555 01xx), all switches on."""
    return [
        make_client(
            session,
            setup.business,
            at,
            first_name=f"Client{i}",
            cell_phone=f"+1646555{100 + i:04d}",
            sms_marketing=True,
        )
        for i in range(count)
    ]


def test_a_batch_queues_each_message_in_order_into_its_conversation(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    maria = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    john = make_client(session, shop.business, clock.now(), first_name="John", cell_phone=JOHN)
    text_from(session, shop.number, STRANGER, "who is this?", clock.now())
    stranger = conversation_of(session, shop.business, STRANGER)
    batch = [
        Outgoing("First to Maria", client=maria),
        Outgoing("", client=john, media_urls=("https://m.test/a.png",)),
        Outgoing("To the stranger", conversation=stranger),
        Outgoing("Second to Maria \U0001f600", client=maria),
    ]

    results = send_messages(
        session, shop.business, batch, sender=Sender.automated(), at=clock.now()
    )

    assert all(isinstance(r, Message) for r in results)
    sent = [r for r in results if isinstance(r, Message)]
    assert [m.body for m in sent] == ["First to Maria", "", "To the stranger", batch[3].body]
    assert [m.to_phone for m in sent] == [MARIA, JOHN, STRANGER, MARIA]
    assert [m.units for m in sent] == [1, 3, 1, 1]
    assert [m.encoding for m in sent] == ["GSM-7", "GSM-7", "GSM-7", "UCS-2"]
    assert sent[0].id < sent[1].id < sent[2].id < sent[3].id
    assert sent[0].conversation_id == sent[3].conversation_id  # one conversation per phone
    assert sent[2].conversation_id == stranger.id
    assert {(m.status, m.dispatch_state, m.sender_type) for m in sent} == {
        ("queued", "pending", "automated")
    }
    session.expire_all()
    stored = session.scalars(
        select(Message).where(Message.id.in_([m.id for m in sent])).order_by(Message.id)
    ).all()
    assert [(m.body, m.to_phone, m.conversation_id) for m in stored] == [
        (m.body, m.to_phone, m.conversation_id) for m in sent
    ]
    assert count(session, Conversation, Conversation.business_id == shop.business.id) == 3
    assert used(session, shop.business, clock.now()) == 1 + 6  # the stranger's text, then ours
    maria_conversation = conversation_of(session, shop.business, MARIA)
    assert maria_conversation.client_id == maria.id
    assert maria_conversation.last_message_preview == batch[3].body  # the last one's
    assert conversation_of(session, shop.business, JOHN).last_message_preview == (
        "(picture message)"
    )


def test_every_rule_holds_per_message_and_a_refusal_stops_no_other(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    ok, no_phone, marketing_off, stopped, also_ok = (
        make_client(session, shop.business, clock.now(), first_name="Ok", cell_phone=MARIA),
        make_client(session, shop.business, clock.now(), first_name="Ana", cell_phone=None),
        make_client(session, shop.business, clock.now(), first_name="Off", cell_phone=JOHN),
        make_client(session, shop.business, clock.now(), first_name="Stop", cell_phone=STRANGER),
        make_client(
            session, shop.business, clock.now(), first_name="Yes", cell_phone="+12125550150"
        ),
    )
    text_from(session, shop.number, STRANGER, "STOP", clock.now())
    before = snapshot(session, shop.business, clock.now())
    batch = [
        Outgoing("Hello", client=ok),
        Outgoing(" \n ", client=also_ok),
        Outgoing("a" * 1601, client=also_ok),
        Outgoing("Hello", client=no_phone),
        Outgoing("Sale", client=marketing_off, category="marketing"),
        Outgoing("Hello", client=also_ok, category="gossip"),
        Outgoing("Hello"),
        Outgoing("Hello", client=stopped),
        Outgoing("Reminder", client=also_ok, category="reminders"),
    ]

    results = send_messages(
        session, shop.business, batch, sender=Sender.automated(), at=clock.now()
    )

    refusals = [
        (type(r).__name__, r.code, r.field) if isinstance(r, DomainError) else "queued"
        for r in results
    ]
    assert refusals == [
        "queued",
        ("InvalidInput", "invalid_input", "body"),
        ("InvalidInput", "invalid_input", "body"),
        ("InvalidInput", "invalid_input", "client_id"),
        ("Conflict", "category_off", None),
        ("InvalidInput", "invalid_input", "category"),
        ("InvalidInput", "invalid_input", "to"),
        ("ClientUnsubscribed", "client_unsubscribed", None),
        "queued",
    ]
    # Each refusal is in the single send's words.
    for item, result in zip(batch[1:8], results[1:8], strict=True):
        with pytest.raises(DomainError) as alone:
            send_message(
                session,
                shop.business,
                body=item.body,
                sender=Sender.automated(),
                at=clock.now(),
                client=item.client,
                media_urls=list(item.media_urls),
                category=item.category,
            )
        assert isinstance(result, DomainError)
        assert (alone.value.code, alone.value.message) == (result.code, result.message)
    # Only the two that passed were written: no conversation for a refused phone.
    messages, conversations, units, _ = snapshot(session, shop.business, clock.now())
    assert (messages, units) == (before[0] + 2, before[2] + 2)
    assert conversations == before[1] + 2
    assert queries.conversation_for_phone(session, shop.business.id, JOHN) is None


def test_opted_out_phones_among_many_are_refused_and_the_rest_go(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    many = clients(session, shop, clock.now(), 12)
    stopped = {many[i].cell_phone for i in (2, 5, 11)}
    for phone in stopped:
        assert phone is not None
        text_from(session, shop.number, phone, "Stop", clock.now())
    before = snapshot(session, shop.business, clock.now())

    results = send_messages(
        session,
        shop.business,
        [Outgoing(f"Hi {c.first_name}", client=c) for c in many],
        sender=Sender.automated(),
        at=clock.now(),
    )

    refused = [
        c.cell_phone for c, r in zip(many, results, strict=True) if not isinstance(r, Message)
    ]
    assert set(refused) == stopped and len(refused) == 3
    for result in results:
        if not isinstance(result, Message):
            assert isinstance(result, ClientUnsubscribed)
            assert "STOP" in result.message and "2026-11-16" in result.message
    after = snapshot(session, shop.business, clock.now())
    assert (after[0] - before[0], after[2] - before[2]) == (9, 9)


def test_a_batch_past_a_hard_stop_is_taken_in_order_while_each_message_fits(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    """As if sent one by one: text (1 of 4), text (2), a picture needing 3 is refused, text
    (3), text (4), then a text is refused: the refusals say what they saw."""
    setup = make_business(session, context.carrier, clock.now(), allowance=4, policy="hard_stop")
    six = clients(session, setup, clock.now(), 6)
    picture = ("https://m.test/a.png",)
    batch = [
        Outgoing("1", client=six[0]),
        Outgoing("2", client=six[1]),
        Outgoing("", client=six[2], media_urls=picture),
        Outgoing("3", client=six[3]),
        Outgoing("4", client=six[4]),
        Outgoing("5", client=six[5]),
    ]

    results = send_messages(
        session, setup.business, batch, sender=Sender.automated(), at=clock.now()
    )

    assert [isinstance(r, Message) for r in results] == [True, True, False, True, True, False]
    picture_refused, text_refused = results[2], results[5]
    assert isinstance(picture_refused, AllowanceExhausted)
    assert "2 of 4 units used this period and this message needs 3" in picture_refused.message
    assert isinstance(text_refused, AllowanceExhausted)
    assert "4 of 4 units used this period and this message needs 1" in text_refused.message
    assert used(session, setup.business, clock.now()) == 4
    for refused_client in (six[2], six[5]):
        assert refused_client.cell_phone is not None
        assert (
            queries.conversation_for_phone(session, setup.business.id, refused_client.cell_phone)
            is None
        )
    # The next single send is refused in the same words as the batch's last refusal.
    with pytest.raises(AllowanceExhausted) as alone:
        send_message(
            session,
            setup.business,
            body="6",
            sender=Sender.automated(),
            client=six[5],
            at=clock.now(),
        )
    assert alone.value.message == text_refused.message


def test_a_batch_refused_whole_writes_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=1, policy="hard_stop")
    two = clients(session, setup, clock.now(), 2)
    send_message(
        session, setup.business, body="x", sender=Sender.automated(), client=two[0], at=clock.now()
    )
    before = snapshot(session, setup.business, clock.now())
    events_before = pending_events(session)

    results = send_messages(
        session,
        setup.business,
        [Outgoing("", client=two[0]), Outgoing("late", client=two[1])],
        sender=Sender.automated(),
        at=clock.now(),
    )

    assert [type(r) for r in results] == [InvalidInput, AllowanceExhausted]
    assert snapshot(session, setup.business, clock.now()) == before
    assert pending_events(session) == events_before  # nothing announced either


def test_an_empty_batch_does_nothing(session: Session, clock: FrozenClock, shop: SetUp) -> None:
    before = snapshot(session, shop.business, clock.now())
    assert (
        send_messages(session, shop.business, [], sender=Sender.automated(), at=clock.now()) == []
    )
    assert snapshot(session, shop.business, clock.now()) == before


def test_a_business_without_a_number_refuses_each_message(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    maria = make_client(session, setup.business, clock.now(), cell_phone=MARIA)
    setup.number.status = "released"
    session.flush()

    results = send_messages(
        session,
        setup.business,
        [Outgoing("", client=maria), Outgoing("Hi", client=maria)],
        sender=Sender.automated(),
        at=clock.now(),
    )

    assert [(type(r), r.code) for r in results if isinstance(r, DomainError)] == [
        (InvalidInput, "invalid_input"),
        (Conflict, "no_sms_number"),
    ]


def test_a_batch_announces_each_message_and_answers_each_conversation_once(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    """A staff or API batch answers the conversations it writes into: each goes to Replied
    with no unread, the badge moves once for them all, and each message and each emptied
    conversation is announced (when the transaction commits)."""
    maria = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    john = make_client(session, shop.business, clock.now(), first_name="John", cell_phone=JOHN)
    text_from(session, shop.number, MARIA, "hi", clock.now())
    text_from(session, shop.number, MARIA, "are you there?", clock.now())
    text_from(session, shop.number, JOHN, "hello", clock.now())
    assert badge(session, shop.business) == 3
    session.commit()  # the texts' own events leave; only the batch's remain pending

    results = send_messages(
        session,
        shop.business,
        [Outgoing("a", client=maria), Outgoing("b", client=john), Outgoing("c", client=maria)],
        sender=api_sender(session, shop.business),
        at=clock.now(),
    )

    sent = [r for r in results if isinstance(r, Message)]
    assert len(sent) == 3
    events = pending_events(session)
    created = [e.data for e in events if e.type == "message.created"]
    assert created == [
        {"conversation_id": m.conversation_id, "message_id": m.id, "direction": "outbound"}
        for m in sent
    ]
    unread = [e.data for e in events if e.type == "unread.changed"]
    assert sorted(e["conversation_id"] for e in unread) == sorted({m.conversation_id for m in sent})
    assert {(e["unread"], e["conversation_unread"], e["folder"]) for e in unread} == {
        (0, 0, "replied")
    }
    assert badge(session, shop.business) == 0
    for phone, last in ((MARIA, "c"), (JOHN, "b")):
        conversation = conversation_of(session, shop.business, phone)
        assert (conversation.folder, conversation.unread_count) == ("replied", 0)
        assert conversation.last_message_preview == last


def test_an_automated_batch_leaves_the_clients_texts_unread(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    maria = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    text_from(session, shop.number, MARIA, "hi", clock.now())
    session.commit()  # the text's own events leave

    send_messages(
        session,
        shop.business,
        [Outgoing("Reminder", client=maria)],
        sender=Sender.automated(),
        at=clock.now(),
    )

    conversation = conversation_of(session, shop.business, MARIA)
    assert (conversation.folder, conversation.unread_count) == ("unread", 1)
    assert badge(session, shop.business) == 1
    assert [e for e in pending_events(session) if e.type == "unread.changed"] == []


def test_a_message_due_later_waits_in_the_outbox_until_its_time(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    """A scheduled message (a reminder for tomorrow) is queued now, counted now, and handed
    over only once it is due; one without a due time is due at once."""
    maria = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    tomorrow = clock.now() + timedelta(days=1)
    later, now = send_messages(
        session,
        shop.business,
        [Outgoing("See you tomorrow", client=maria, due_at=tomorrow), Outgoing("Hi", client=maria)],
        sender=Sender.automated(),
        at=clock.now(),
    )
    assert isinstance(later, Message) and isinstance(now, Message)
    assert (later.next_attempt_at, now.next_attempt_at) == (tomorrow, clock.now())
    assert used(session, shop.business, clock.now()) == 2

    def due(at: datetime) -> list[int]:
        return [c.message_id for c in claim_due(session, at, 10, lambda _id: None)]

    assert due(clock.now()) == [now.id]
    assert due(tomorrow - timedelta(seconds=1)) == []
    assert due(tomorrow) == [later.id]

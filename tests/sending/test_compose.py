"""Composing a message: the sending rules (content, recipient, category, consent, allowance)
and the outbox row."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
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

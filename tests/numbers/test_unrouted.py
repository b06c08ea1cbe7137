"""Texts to a released number: listed for the owner with the client's name where the number
is a client's, counted, and answered from the current number (numbers/unrouted.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from messagecenter.businesses.queries import active_number, unrouted_count
from messagecenter.carriers.base import InboundSms
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import Conflict, NotFound
from messagecenter.intake.record import record_inbound
from messagecenter.models.sms_number import NUMBER_RELEASED
from messagecenter.numbers.service import change_number, suggest_numbers
from messagecenter.numbers.unrouted import answer_from_current_number, unrouted_texts
from tests.factories import PUBLIC_URL, SetUp, make_business, make_client, text_from

MARIA, STRANGER = "+12125550142", "+12125550188"


def _moved(session: Session, context: AppContext, clock: FrozenClock) -> tuple[SetUp, str]:
    """A business that moved to another number; the old one."""
    setup = make_business(session, context.carrier, clock.now())
    old = setup.number.phone_number
    chosen = suggest_numbers(session, setup.business, context.carrier)[0]
    change_number(session, setup.business, context.carrier, chosen, PUBLIC_URL, clock.now(),
                  confirmed=True)  # fmt: skip
    return setup, old


def test_texts_to_the_old_number_are_listed_with_the_clients_name_and_counted(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup, old = _moved(session, context, clock)
    maria = make_client(session, setup.business, clock.now())
    text_from(session, setup.number, MARIA, "Still open Saturday?", clock.now())
    text_from(session, setup.number, STRANGER, "Hello?", clock.now() + timedelta(minutes=1))
    record_inbound(session, InboundSms("SMwa", "whatsapp:+447700900123", old, "Hi", []),
                   clock.now() + timedelta(minutes=2))  # fmt: skip

    listed = unrouted_texts(session, setup.business.id)
    assert [(t.message.from_phone, t.client, t.can_answer) for t in listed] == [
        ("whatsapp:+447700900123", None, False),  # newest first; no number to text back
        (STRANGER, None, True),
        (MARIA, maria, True),
    ]
    assert all(t.message.to_phone == old for t in listed)
    assert unrouted_count(session, setup.business.id) == 3
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    assert unrouted_count(session, other.business.id) == 0
    assert unrouted_texts(session, other.business.id) == []


def test_answering_opens_the_clients_conversation_on_the_current_number(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup, _ = _moved(session, context, clock)
    maria = make_client(session, setup.business, clock.now())
    text_from(session, setup.number, MARIA, "Still open Saturday?", clock.now())
    (text,) = unrouted_texts(session, setup.business.id)
    current = active_number(session, setup.business.id)
    assert current is not None

    conversation, answered, number = answer_from_current_number(
        session, setup.business, text.message.id, clock.now()
    )
    assert (conversation.phone, conversation.client_id) == (MARIA, maria.id)
    assert conversation.business_id == setup.business.id
    assert (answered.body, number) == ("Still open Saturday?", current.phone_number)
    again, _, _ = answer_from_current_number(session, setup.business, text.message.id, clock.now())
    assert again.id == conversation.id  # the same conversation, not a second one


def test_another_business_text_or_no_current_number_is_refused(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup, _ = _moved(session, context, clock)
    text_from(session, setup.number, MARIA, "Hi", clock.now())
    (text,) = unrouted_texts(session, setup.business.id)
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    with pytest.raises(NotFound):
        answer_from_current_number(session, other.business, text.message.id, clock.now())
    current = active_number(session, setup.business.id)
    assert current is not None
    current.status = NUMBER_RELEASED
    session.flush()
    with pytest.raises(Conflict, match="Choose an SMS number"):
        answer_from_current_number(session, setup.business, text.message.id, clock.now())

"""The after-hours answer: a client's text while the business is closed is answered once
every 12 hours, through the send path (counted; never to an opted-out client or a keyword)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.businesses import hours
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import Message
from messagecenter.models.message import DIRECTION_OUTBOUND, SENDER_AUTOMATED
from messagecenter.notifications import service as notifications
from tests.factories import MARIA, SetUp, make_business, make_client, text_from, used

SATURDAY_NIGHT = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)  # Fri 22:00 in New York
TUESDAY_NOON = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    setup = make_business(session, context.carrier, clock.now())
    make_client(session, setup.business, clock.now(), cell_phone=MARIA)
    hours.save_week(session, setup.business.id, {d: (time(9), time(17)) for d in range(5)})
    return setup


def answers(session: Session, setup: SetUp) -> list[Message]:
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.business_id == setup.business.id,
                Message.direction == DIRECTION_OUTBOUND,
                Message.sender_type == SENDER_AUTOMATED,
            )
            .order_by(Message.id)
        )
    )


def test_a_text_while_closed_is_answered_with_the_business_s_wording(
    session: Session, shop: SetUp
) -> None:
    outcome = text_from(session, shop.number, MARIA, "Can I book Saturday?", SATURDAY_NIGHT)

    (answer,) = answers(session, shop)
    assert outcome.replies == [answer.id]
    assert answer.body == (
        f"{shop.business.name}: Thanks for your text! We're closed right now and will answer "
        "when we open."
    )
    assert answer.to_phone == MARIA and answer.status == "queued"
    assert used(session, shop.business, SATURDAY_NIGHT) == 2  # the text, and the answer


def test_a_text_in_opening_hours_gets_no_answer(session: Session, shop: SetUp) -> None:
    outcome = text_from(session, shop.number, MARIA, "Can I book Saturday?", TUESDAY_NOON)
    assert outcome.replies == [] and answers(session, shop) == []


def test_one_answer_a_client_every_12_hours(session: Session, shop: SetUp) -> None:
    text_from(session, shop.number, MARIA, "Hello?", SATURDAY_NIGHT)
    again = text_from(session, shop.number, MARIA, "Anyone?", SATURDAY_NIGHT + timedelta(hours=11))
    assert again.replies == []
    later = text_from(session, shop.number, MARIA, "Hi", SATURDAY_NIGHT + timedelta(hours=12))
    assert len(later.replies) == 1
    assert len(answers(session, shop)) == 2


def test_a_keyword_is_never_given_the_after_hours_answer(session: Session, shop: SetUp) -> None:
    stop = text_from(session, shop.number, MARIA, "STOP", SATURDAY_NIGHT)
    assert all(
        m.sender_type != SENDER_AUTOMATED or "closed" not in m.body
        for m in session.scalars(select(Message).where(Message.id.in_(stop.replies)))
    )
    assert answers(session, shop) == []
    # ...and once she opted out, her later texts get none either.
    later = text_from(session, shop.number, MARIA, "Oops", SATURDAY_NIGHT + timedelta(hours=13))
    assert later.replies == [] and answers(session, shop) == []


def test_switched_off_or_without_hours_nothing_is_answered(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    notifications.save_template(
        session, shop.business, "after_hours", enabled=False, body=None, reset_body=False,
        at=clock.now(),
    )  # fmt: skip
    assert text_from(session, shop.number, MARIA, "Hello?", SATURDAY_NIGHT).replies == []
    notifications.save_template(
        session, shop.business, "after_hours", enabled=True, body=None, reset_body=False,
        at=clock.now(),
    )  # fmt: skip
    hours.save_week(session, shop.business.id, {})
    assert text_from(session, shop.number, MARIA, "Hi?", SATURDAY_NIGHT).replies == []
    assert answers(session, shop) == []

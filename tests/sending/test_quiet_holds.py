"""Quiet hours in the outbox: a flagged text is held when queued, a person's reply never is,
and the dispatcher judges again a message claimed after its window closed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import Client, Message
from messagecenter.models.message import DISPATCH_HELD, DISPATCH_PENDING
from messagecenter.sending.compose import Outgoing, Sender, send_messages
from messagecenter.sending.service import claim_due
from tests.factories import MARIA, SetUp, make_business, make_client, staff_sender, text_from

NEW_YORK = ZoneInfo("America/New_York")


def new_york(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    return make_business(session, context.carrier, clock.now(), allowance=100)


@pytest.fixture
def maria(session: Session, shop: SetUp, clock: FrozenClock) -> Client:
    return make_client(session, shop.business, clock.now())


def queue(
    session: Session,
    shop: SetUp,
    client: Client,
    at: datetime,
    *,
    quiet_hours: bool = True,
    sender: Sender | None = None,
) -> Message:
    (result,) = send_messages(
        session,
        shop.business,
        [Outgoing("Your class is tomorrow at 9", client=client, quiet_hours=quiet_hours)],
        sender=sender or Sender.automated(),
        at=at,
    )
    assert isinstance(result, Message), result
    return result


def claimed(session: Session, at: datetime) -> list[int]:
    return [c.message_id for c in claim_due(session, at, 10, lambda _id: None)]


def test_a_flagged_text_at_night_waits_for_eight_client_time(
    session: Session, shop: SetUp, maria: Client
) -> None:
    message = queue(session, shop, maria, new_york(16, 22, 0))
    assert message.quiet_hours and message.dispatch_state == DISPATCH_PENDING
    assert message.next_attempt_at == new_york(17, 8, 0) == message.quiet_until
    assert message.quiet_zone == "America/New_York"
    assert claimed(session, new_york(17, 7, 59)) == []
    assert claimed(session, new_york(17, 8, 0)) == [message.id]


def test_a_text_without_the_flag_goes_at_night(
    session: Session, shop: SetUp, maria: Client
) -> None:
    # A keyword answer or a reply: never held.
    at = new_york(16, 23, 30)
    message = queue(session, shop, maria, at, quiet_hours=False)
    assert message.next_attempt_at == at and message.quiet_until is None
    assert claimed(session, at) == [message.id]


def test_a_flagged_text_in_the_day_goes_at_once_and_keeps_when_its_window_closes(
    session: Session, shop: SetUp, maria: Client
) -> None:
    at = new_york(16, 10, 0)
    message = queue(session, shop, maria, at)
    assert message.next_attempt_at == at and message.quiet_until is None
    assert message.quiet_open_until == new_york(16, 21, 0)


def test_the_dispatcher_holds_a_text_due_before_21_00_but_claimed_after(
    session: Session, shop: SetUp, maria: Client
) -> None:
    message = queue(session, shop, maria, new_york(16, 20, 59))
    assert claimed(session, new_york(16, 21, 3)) == []
    session.refresh(message)
    assert message.dispatch_state == DISPATCH_PENDING
    assert message.next_attempt_at == new_york(17, 8, 0) == message.quiet_until
    assert message.quiet_zone == "America/New_York"
    assert claimed(session, new_york(17, 8, 0)) == [message.id]


def test_the_dispatcher_sends_a_text_claimed_while_its_window_is_open(
    session: Session, shop: SetUp, maria: Client
) -> None:
    message = queue(session, shop, maria, new_york(16, 20, 58))
    assert claimed(session, new_york(16, 20, 59)) == [message.id]
    session.refresh(message)
    assert message.dispatch_state == DISPATCH_HELD and message.quiet_until is None


def test_the_profile_zone_decides(
    session: Session, shop: SetUp, clock: FrozenClock, maria: Client
) -> None:
    # 22:00 in New York is 19:00 in Los Angeles, where this client lives.
    west = make_client(
        session, shop.business, clock.now(), first_name="Wes", cell_phone="+12125550150"
    )
    west.timezone = "America/Los_Angeles"
    session.flush()
    at = new_york(16, 22, 0)
    assert queue(session, shop, west, at).next_attempt_at == at
    assert queue(session, shop, maria, at).next_attempt_at == new_york(17, 8, 0)


def test_a_persons_text_after_the_client_wrote_within_24_hours_is_a_reply_never_held(
    session: Session, shop: SetUp, maria: Client
) -> None:
    text_from(session, shop.number, MARIA, "Can I move my class?", new_york(16, 20, 0))
    staff = staff_sender(session, shop.business)
    reply = queue(session, shop, maria, new_york(16, 23, 0), sender=staff)
    assert not reply.quiet_hours and reply.next_attempt_at == new_york(16, 23, 0)
    # The next night the client's text is 27 hours old: the same flagged text waits.
    later = queue(session, shop, maria, new_york(17, 23, 0), sender=staff)
    assert later.quiet_hours and later.next_attempt_at == new_york(18, 8, 0)


def test_automated_texts_wait_even_after_the_client_wrote(
    session: Session, shop: SetUp, maria: Client
) -> None:
    text_from(session, shop.number, MARIA, "Thanks", new_york(16, 22, 0))
    message = queue(session, shop, maria, new_york(16, 22, 5))
    assert message.next_attempt_at == new_york(17, 8, 0)


def test_the_stricter_state_window_applies_when_the_business_keeps_it(
    session: Session, shop: SetUp, clock: FrozenClock
) -> None:
    florida = make_client(
        session, shop.business, clock.now(), first_name="Flo", cell_phone="+13055550142"
    )
    at = new_york(16, 20, 30)
    assert queue(session, shop, florida, at).next_attempt_at == at
    shop.business.strict_state_hours = True
    session.flush()
    assert queue(session, shop, florida, at).next_attempt_at == new_york(17, 8, 0)


def test_a_scheduled_text_due_at_night_waits_for_the_morning(
    session: Session, shop: SetUp, maria: Client
) -> None:
    (result,) = send_messages(
        session,
        shop.business,
        [Outgoing("Reminder", client=maria, quiet_hours=True, due_at=new_york(16, 23, 0))],
        sender=Sender.automated(),
        at=new_york(16, 10, 0),
    )
    assert isinstance(result, Message)
    assert result.next_attempt_at == new_york(17, 8, 0) == result.quiet_until
    assert result.next_attempt_at - new_york(16, 23, 0) == timedelta(hours=9)

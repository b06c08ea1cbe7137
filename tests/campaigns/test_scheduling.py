"""Scheduled sends: nothing is written until the time, text, time and audience change until
then, consent and switches are checked when it goes, a cancel stops it, the worker sends it
within its pass, and a form's date and time are read as the business's wall clock (DST)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.campaigns import service
from messagecenter.campaigns.service import Audience
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import Conflict, InvalidInput
from messagecenter.models import BulkSend, Client, Message
from messagecenter.sending.compose import Sender
from tests.factories import SetUp, count, make_client, text_from

TEXT = "Hi [Firstname], your class moves to Studio B tomorrow."


@pytest.fixture
def ana(session: Session, shop: SetUp, clock: FrozenClock) -> Client:
    client = make_client(session, shop.business, clock.now(), first_name="Ana",
                         cell_phone="+12125550101")  # fmt: skip
    session.commit()
    return client


def schedule(session: Session, shop: SetUp, clock: FrozenClock, ana: Client,
             hours: float = 2, key: str = "s-1") -> BulkSend:  # fmt: skip
    bulk, _ = service.create(
        session, shop.business, request_key=key, body=TEXT, category="personal",
        audience=Audience(client_ids=(ana.id,)), sender=Sender.automated(), at=clock.now(),
        send_at=clock.now() + timedelta(hours=hours),
    )  # fmt: skip
    return bulk


def test_nothing_goes_before_its_time_and_it_goes_once_at_its_time(
    session: Session, shop: SetUp, clock: FrozenClock, ana: Client
) -> None:
    bulk = schedule(session, shop, clock, ana)
    assert bulk.status == "scheduled" and bulk.sent_at is None
    assert count(session, Message, Message.bulk_send_id == bulk.id) == 0
    assert service.send_due(session, clock.now()) == 0
    clock.advance(timedelta(hours=2))
    assert service.send_due(session, clock.now()) == 1
    assert service.send_due(session, clock.now()) == 0  # gone: not sent twice
    session.refresh(bulk)
    assert (bulk.status, bulk.sent_at, bulk.recipients) == ("sent", clock.now(), 1)
    (message,) = session.scalars(select(Message).where(Message.bulk_send_id == bulk.id))
    assert message.body == "Hi Ana, your class moves to Studio B tomorrow."
    assert message.category is None  # a personal text obeys no notification switch


def test_text_time_and_audience_change_until_it_goes(
    session: Session, shop: SetUp, clock: FrozenClock, ana: Client
) -> None:
    ben = make_client(session, shop.business, clock.now(), first_name="Ben",
                      cell_phone="+12125550102")  # fmt: skip
    bulk = schedule(session, shop, clock, ana)
    later = clock.now() + timedelta(hours=5)
    service.reschedule(
        session, shop.business, bulk.id, at=clock.now(), body="Hi [Firstname], see you soon.",
        audience=Audience(client_ids=(ben.id,)), send_at=later,
    )  # fmt: skip
    clock.advance(timedelta(hours=2))
    assert service.send_due(session, clock.now()) == 0  # the old time has passed: not due
    clock.advance(timedelta(hours=3))
    assert service.send_due(session, clock.now()) == 1
    bodies = session.scalars(select(Message.body).where(Message.bulk_send_id == bulk.id))
    assert list(bodies) == ["Hi Ben, see you soon."]
    with pytest.raises(Conflict) as gone:
        service.reschedule(session, shop.business, bulk.id, at=clock.now(), body="Too late")
    assert gone.value.code == "not_scheduled"


def test_consent_is_checked_again_when_it_goes(
    session: Session, shop: SetUp, clock: FrozenClock, ana: Client
) -> None:
    bulk = schedule(session, shop, clock, ana)
    text_from(session, shop.number, ana.cell_phone or "", "STOP", clock.now())
    clock.advance(timedelta(hours=2))
    assert service.send_due(session, clock.now()) == 1
    session.refresh(bulk)
    assert bulk.recipients == 0 and bulk.skipped == {"unsubscribed": 1}
    assert count(session, Message, Message.bulk_send_id == bulk.id) == 0


def test_a_cancelled_schedule_never_goes(
    session: Session, shop: SetUp, clock: FrozenClock, ana: Client
) -> None:
    bulk = schedule(session, shop, clock, ana)
    assert service.cancel(session, shop.business, bulk.id, clock.now()).status == "cancelled"
    clock.advance(timedelta(hours=3))
    assert service.send_due(session, clock.now()) == 0
    assert count(session, Message, Message.bulk_send_id == bulk.id) == 0


@pytest.mark.parametrize(
    ("send_at", "complaint"),
    [
        (datetime(2026, 11, 16, 9, 0), "needs a time zone"),
        (datetime(2000, 1, 1, tzinfo=UTC), "still to come"),
        (datetime(2030, 1, 1, tzinfo=UTC), "at most a year ahead"),
    ],
)
def test_a_time_that_cannot_be_is_refused(
    session: Session, shop: SetUp, clock: FrozenClock, ana: Client, send_at: datetime,
    complaint: str,
) -> None:  # fmt: skip
    with pytest.raises(InvalidInput) as refused:
        service.create(
            session, shop.business, request_key="bad", body=TEXT, category="personal",
            audience=Audience(client_ids=(ana.id,)), sender=Sender.automated(),
            at=clock.now(), send_at=send_at,
        )  # fmt: skip
    assert complaint in refused.value.message and refused.value.field == "send_at"
    assert count(session, BulkSend) == 0


def test_the_worker_sends_a_due_schedule_in_its_pass(
    session: Session, context: AppContext, shop: SetUp, clock: FrozenClock, ana: Client
) -> None:
    bulk = schedule(session, shop, clock, ana, hours=1)
    session.commit()
    clock.advance(timedelta(hours=1))
    assert context.worker.run_once() >= 1
    session.expire_all()
    assert session.get(BulkSend, bulk.id).status == "sent"  # type: ignore[union-attr]
    assert count(session, Message, Message.bulk_send_id == bulk.id) == 1


@pytest.mark.parametrize(
    ("day", "clock_time", "utc"),
    [
        # New York, the day before and the day after spring-forward (2026-03-08).
        (date(2026, 3, 7), time(9, 0), datetime(2026, 3, 7, 14, 0, tzinfo=UTC)),
        (date(2026, 3, 8), time(9, 0), datetime(2026, 3, 8, 13, 0, tzinfo=UTC)),
        # 02:30 does not exist that night: it is 03:30 by the new offset.
        (date(2026, 3, 8), time(2, 30), datetime(2026, 3, 8, 7, 30, tzinfo=UTC)),
        # Fall-back (2026-11-01): 01:30 happens twice; the first is meant.
        (date(2026, 11, 1), time(1, 30), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        (date(2026, 11, 1), time(9, 0), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),
    ],
)
def test_a_forms_date_and_time_are_the_business_wall_clock(
    shop: SetUp, day: date, clock_time: time, utc: datetime
) -> None:
    assert service.wall_clock_moment(shop.business, day, clock_time) == utc

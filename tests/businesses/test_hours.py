"""Business hours: which days open, from when to when on the business's own wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlalchemy.orm import Session

from messagecenter.businesses import hours
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import InvalidInput
from tests.factories import make_business

NY = "America/New_York"
WEEKDAYS_9_TO_5 = {day: (9 * 60, 17 * 60) for day in range(5)}


@pytest.mark.parametrize(
    ("at", "open_"),
    [
        (datetime(2026, 12, 1, 14, 0, tzinfo=UTC), True),  # Tue 09:00 in New York: opens
        (datetime(2026, 12, 1, 13, 59, tzinfo=UTC), False),  # Tue 08:59
        (datetime(2026, 12, 1, 21, 59, tzinfo=UTC), True),  # Tue 16:59
        (datetime(2026, 12, 1, 22, 0, tzinfo=UTC), False),  # Tue 17:00: closed
        (datetime(2026, 12, 5, 15, 0, tzinfo=UTC), False),  # Sat 10:00: a closed day
        # Across the spring DST change the wall clock decides: Mon 9 Mar 2026 09:30 is
        # 13:30 UTC (EDT), where the week before it was 14:30 UTC (EST).
        (datetime(2026, 3, 9, 13, 30, tzinfo=UTC), True),
        (datetime(2026, 3, 2, 13, 30, tzinfo=UTC), False),
    ],
)
def test_open_on_the_business_s_wall_clock(at: datetime, open_: bool) -> None:
    assert hours.is_open(WEEKDAYS_9_TO_5, NY, at) is open_


def test_a_business_without_hours_is_never_closed() -> None:
    assert hours.is_open({}, NY, datetime(2026, 12, 5, 8, 0, tzinfo=UTC))


def test_saved_hours_read_back_and_a_closing_at_midnight_is_the_day_s_end(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    business = make_business(session, context.carrier, clock.now()).business
    hours.save_week(session, business.id, {0: (time(9), time(17)), 5: (time(20), time(0)), 6: None})
    week = hours.week_of(session, business.id)
    assert week == {0: (540, 1020), 5: (1200, 1440)}
    assert hours.is_open(week, NY, datetime(2026, 12, 6, 4, 59, tzinfo=UTC))  # Sat 23:59

    hours.save_week(session, business.id, {day: None for day in range(7)})
    assert hours.week_of(session, business.id) == {}


def test_a_day_that_closes_before_it_opens_is_refused_and_changes_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    business = make_business(session, context.carrier, clock.now()).business
    hours.save_week(session, business.id, {0: (time(9), time(17))})
    with pytest.raises(InvalidInput) as refused:
        hours.save_week(session, business.id, {0: (time(9), time(17)), 2: (time(18), time(9))})
    assert refused.value.field == "wednesday"
    assert (
        "Wednesday" in refused.value.message and "before the closing time" in refused.value.message
    )
    session.rollback()

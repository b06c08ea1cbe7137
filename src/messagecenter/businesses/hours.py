"""A business's opening hours (Settings → Business hours): which days it opens, from when
to when in its own time zone, and so whether a client's text came in out of hours (answered
by intake/after_hours.py)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from messagecenter.businesses import queries
from messagecenter.errors import InvalidInput
from messagecenter.models.business_hours import MINUTES_A_DAY

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# weekday (0 is Monday) -> (opens, closes), minutes after midnight; a missing day is closed.
Week = dict[int, tuple[int, int]]


def week_of(session: Session, business_id: int) -> Week:
    return queries.business_hours(session, [business_id]).get(business_id, {})


def weeks_of(session: Session, business_ids: set[int]) -> dict[int, Week]:
    return queries.business_hours(session, business_ids)


def save_week(
    session: Session, business_id: int, days: Mapping[int, tuple[time, time] | None]
) -> Week:
    """The business's hours from each weekday's opening and closing time (None: closed that
    day). A day must open before it closes: a night that runs past midnight is two days'
    hours (until 24:00, and from 00:00). No open day at all clears the hours."""
    week: Week = {}
    for day, hours in sorted(days.items()):
        if not 0 <= day <= 6:
            raise InvalidInput("A weekday is 0 (Monday) to 6 (Sunday).", field="weekday")
        if hours is None:
            continue
        opens, closes = (_minute(t) for t in hours)
        if closes == 0:
            closes = MINUTES_A_DAY  # closing at 00:00 is closing at midnight
        if opens >= closes:
            raise InvalidInput(
                f"{WEEKDAYS[day]}: the opening time must come before the closing time "
                "(for hours past midnight, close at 00:00 and open the next day at 00:00).",
                field=WEEKDAYS[day].lower(),
            )
        week[day] = (opens, closes)
    queries.replace_business_hours(session, business_id, week)
    return week


def is_open(week: Week, timezone: str, at: datetime) -> bool:
    """Whether `at` falls in the business's hours, on its wall clock (so across a DST change
    too). A business that has not said its hours is never closed."""
    if not week:
        return True
    local = at.astimezone(ZoneInfo(timezone))
    day = week.get(local.weekday())
    return day is not None and day[0] <= local.hour * 60 + local.minute < day[1]


def _minute(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def as_time(minute: int) -> time:
    """A minute of the day as the form shows it (24:00 as 00:00)."""
    minute %= MINUTES_A_DAY
    return time(minute // 60, minute % 60)

"""SQL for businesses, plans and usage (all of the usage SQL: inbound and outbound)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, bindparam, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from messagecenter.db import insert_ignore
from messagecenter.models import (
    Business,
    BusinessHours,
    Message,
    Plan,
    PlanChange,
    SmsNumber,
    UnroutedMessage,
    UsagePeriod,
)
from messagecenter.models.message import DISPATCH_REJECTED
from messagecenter.models.sms_number import NUMBER_ACTIVE, NUMBER_RELEASED


def get_business(session: Session, business_id: int) -> Business | None:
    return session.get(Business, business_id)


def get_plan(session: Session, plan_id: int) -> Plan:
    plan = session.get(Plan, plan_id)
    assert plan is not None, "a business always has a plan"
    return plan


def lock_business(session: Session, business_id: int) -> None:
    """The business's row locked until the transaction ends (PostgreSQL; SQLite's writer
    already holds the database): its sends that must see each other's texts take turns."""
    session.execute(select(Business.id).where(Business.id == business_id).with_for_update())


def get_plan_for_update(session: Session, plan_id: int) -> Plan:
    """The plan, its row locked until the transaction ends (PostgreSQL; SQLite's writer
    already holds the database) and read afresh, not from the session's cache."""
    plan = session.scalar(
        select(Plan)
        .where(Plan.id == plan_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert plan is not None, "a business always has a plan"
    return plan


def businesses_on_plan(session: Session, plan_id: int) -> int:
    return session.scalar(select(func.count()).where(Business.plan_id == plan_id)) or 0


def plan_changes(session: Session, business_id: int, limit: int) -> list[PlanChange]:
    """Newest first."""
    return list(
        session.scalars(
            select(PlanChange)
            .where(PlanChange.business_id == business_id)
            .order_by(PlanChange.changed_at.desc(), PlanChange.id.desc())
            .limit(limit)
        )
    )


def active_number(session: Session, business_id: int) -> SmsNumber | None:
    return session.scalar(
        select(SmsNumber).where(
            SmsNumber.business_id == business_id, SmsNumber.status == NUMBER_ACTIVE
        )
    )


def ensure_usage_period(session: Session, business_id: int, start: date) -> None:
    insert_ignore(
        session,
        UsagePeriod.__table__,  # type: ignore[arg-type]
        {
            "business_id": business_id,
            "period_start": start,
            "units_used": 0,
            "inbound_units": 0,
            "outbound_units": 0,
        },
        ["business_id", "period_start"],
    )


def add_outbound_units(
    session: Session, business_id: int, start: date, units: int, *, ceiling: int | None = None
) -> int | None:
    """Atomically add outbound units to a period; with `ceiling`, only if the total stays
    within it. (Inbound units: add_inbound_units_many.)

    Returns the new total, or None when the ceiling refused the units. One conditional UPDATE,
    so concurrent sends cannot both squeeze past the limit.
    """
    stmt = (
        update(UsagePeriod)
        .where(UsagePeriod.business_id == business_id, UsagePeriod.period_start == start)
        .values(
            units_used=UsagePeriod.units_used + units,
            outbound_units=UsagePeriod.outbound_units + units,
        )
        .returning(UsagePeriod.units_used)
    )
    if ceiling is not None:
        stmt = stmt.where(UsagePeriod.units_used + units <= ceiling)
    return session.execute(stmt).scalar()


def units_used_locked(session: Session, business_id: int, start: date) -> int:
    """The period's units, its row locked until the transaction ends (PostgreSQL; SQLite's
    writer already holds the database): a batch that does not fit whole is then taken in
    order against a total no other send can move."""
    used = session.scalar(
        select(UsagePeriod.units_used)
        .where(UsagePeriod.business_id == business_id, UsagePeriod.period_start == start)
        .with_for_update()
    )
    return used or 0


def _inbound_usage_upsert(dialect_insert: Any) -> Any:
    table = UsagePeriod.__table__
    stmt = dialect_insert(table).values(
        business_id=bindparam("business_id"),
        period_start=bindparam("period_start"),
        units_used=bindparam("units"),
        inbound_units=bindparam("units"),
        outbound_units=0,
    )
    return stmt.on_conflict_do_update(
        index_elements=["business_id", "period_start"],
        set_={
            "units_used": table.c.units_used + stmt.excluded.units_used,
            "inbound_units": table.c.inbound_units + stmt.excluded.inbound_units,
        },
    ).returning(table.c.business_id, table.c.period_start, table.c.units_used)


# Built once per dialect: every batch of client texts runs it.
_INBOUND_USAGE = {
    "sqlite": _inbound_usage_upsert(sqlite.insert),
    "postgresql": _inbound_usage_upsert(postgresql.insert),
}


def add_inbound_units_many(
    session: Session, units: Sequence[tuple[int, date, int]]
) -> dict[tuple[int, date], int]:
    """Add each (business id, period start, units) to its usage period (creating it), in one
    statement; the new totals by (business id, period start). Each key at most once. Never
    refused: a client's text counts whatever the allowance. The rows are locked until
    commit, in (business, period) order, as the unread badges after them are in business
    order: concurrent batches take them in one order."""
    if not units:
        return {}
    params = [
        {"business_id": business_id, "period_start": start, "units": amount}
        for business_id, start, amount in sorted(units)
    ]
    rows = session.connection().execute(_INBOUND_USAGE[session.get_bind().dialect.name], params)
    return {(int(business_id), start): int(total) for business_id, start, total in rows}


def give_back_units(session: Session, business_id: int, start: date, units: int) -> None:
    session.execute(
        update(UsagePeriod)
        .where(UsagePeriod.business_id == business_id, UsagePeriod.period_start == start)
        .values(
            units_used=UsagePeriod.units_used - units,
            outbound_units=UsagePeriod.outbound_units - units,
        )
    )


def units_used(session: Session, business_id: int, start: date) -> int:
    used = session.scalar(
        select(UsagePeriod.units_used).where(
            UsagePeriod.business_id == business_id, UsagePeriod.period_start == start
        )
    )
    return used or 0


def usage_row(session: Session, business_id: int, start: date) -> UsagePeriod | None:
    return session.scalar(
        select(UsagePeriod).where(
            UsagePeriod.business_id == business_id, UsagePeriod.period_start == start
        )
    )


_PLAN_AND_USAGE = (  # built once: every staff page reads it
    select(Plan, UsagePeriod)
    .outerjoin(
        UsagePeriod,
        (UsagePeriod.business_id == bindparam("business_id"))
        & (UsagePeriod.period_start == bindparam("start")),
    )
    .where(Plan.id == bindparam("plan_id"))
)


def plan_and_usage(
    session: Session, plan_id: int, business_id: int, start: date
) -> tuple[Plan, UsagePeriod | None]:
    """The plan and the business's usage of the period from `start` (None before its first
    message), in one read: every staff page shows both."""
    row = session.execute(
        _PLAN_AND_USAGE, {"plan_id": plan_id, "business_id": business_id, "start": start}
    ).one_or_none()
    assert row is not None, "a business always has a plan"
    return row[0], row[1]


def daily_units(
    session: Session, business_id: int, since: datetime, until: datetime, timezone: str
) -> dict[date, tuple[int, int]]:
    """Units per local day in [since, until): (inbound, outbound). Grouped here, in the
    business's time zone, the same way on both databases."""
    zone = ZoneInfo(timezone)
    days: dict[date, tuple[int, int]] = {}
    rows = session.execute(
        select(Message.created_at, Message.direction, Message.units)
        .where(
            Message.business_id == business_id,
            Message.created_at >= since,
            Message.created_at < until,
            Message.units > 0,
            # Refused by the carrier before it took them: their units were given back.
            Message.dispatch_state != DISPATCH_REJECTED,
        )
        .execution_options(yield_per=2000)
    )
    for created_at, direction, units in rows:
        day = created_at.astimezone(zone).date()
        inbound, outbound = days.get(day, (0, 0))
        if direction == "inbound":
            inbound += units
        else:
            outbound += units
        days[day] = (inbound, outbound)
    return days


def _to_released_numbers(business_id: int) -> ColumnElement[bool]:
    """Unrouted texts sent to a number this business has released."""
    released = select(SmsNumber.phone_number).where(
        SmsNumber.business_id == business_id, SmsNumber.status == NUMBER_RELEASED
    )
    return UnroutedMessage.to_phone.in_(released)


def unrouted_for(session: Session, business_id: int, limit: int = 200) -> list[UnroutedMessage]:
    """Texts that reached a number this business has released (for its owner to see)."""
    return list(
        session.scalars(
            select(UnroutedMessage)
            .where(_to_released_numbers(business_id))
            .order_by(UnroutedMessage.received_at.desc(), UnroutedMessage.id.desc())
            .limit(limit)
        )
    )


def business_hours(
    session: Session, business_ids: Collection[int]
) -> dict[int, dict[int, tuple[int, int]]]:
    """Each of these businesses' open days: weekday -> (opens, closes) in minutes after
    midnight; a business that has not said its hours is absent."""
    found: dict[int, dict[int, tuple[int, int]]] = {}
    if not business_ids:
        return found
    rows = session.execute(
        select(
            BusinessHours.business_id,
            BusinessHours.weekday,
            BusinessHours.opens_minute,
            BusinessHours.closes_minute,
        ).where(BusinessHours.business_id.in_(sorted(business_ids)))
    )
    for business_id, weekday, opens, closes in rows:
        found.setdefault(business_id, {})[weekday] = (opens, closes)
    return found


def replace_business_hours(
    session: Session, business_id: int, week: Mapping[int, tuple[int, int]]
) -> None:
    session.execute(delete(BusinessHours).where(BusinessHours.business_id == business_id))
    session.add_all(
        BusinessHours(
            business_id=business_id, weekday=day, opens_minute=opens, closes_minute=closes
        )
        for day, (opens, closes) in sorted(week.items())
    )
    session.flush()


def unrouted_count(session: Session, business_id: int) -> int:
    """How many texts reached a number this business has released."""
    found = session.scalar(
        select(func.count()).select_from(UnroutedMessage).where(_to_released_numbers(business_id))
    )
    return int(found or 0)


def unrouted_of(session: Session, business_id: int, unrouted_id: int) -> UnroutedMessage | None:
    """One text to a number this business released; None for any other (another's)."""
    return session.scalar(
        select(UnroutedMessage).where(
            UnroutedMessage.id == unrouted_id, _to_released_numbers(business_id)
        )
    )

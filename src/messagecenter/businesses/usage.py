"""Allowance metering: each message counted exactly once, in the transaction that creates it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from messagecenter.businesses import billing, queries
from messagecenter.errors import AllowanceExhausted
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.models import Business
from messagecenter.models.business import OVERAGE_HARD_STOP


@dataclass(frozen=True)
class UsageSummary:
    period_start: date
    period_end: date  # exclusive: the first day of the next period
    allowance: int
    used: int
    inbound_units: int
    outbound_units: int
    remaining: int
    overage_units: int
    overage_cost: Decimal
    overage_policy: str
    warning: int | None  # 80 or 100 (percent) once reached


def reserve_outbound(
    session: Session, business: Business, units: int, at: datetime, *, force: bool = False
) -> None:
    """Count an outbound message as it is created, or refuse it under a hard stop.

    `force` counts it whatever the policy (the app's own keyword confirmations must go out).
    """
    plan = queries.get_plan(session, business.plan_id)
    start = billing.period_start(at, business.timezone)
    queries.ensure_usage_period(session, business.id, start)
    hard_stop = plan.overage_policy == OVERAGE_HARD_STOP and not force
    ceiling = plan.monthly_allowance if hard_stop else None
    total = queries.add_outbound_units(session, business.id, start, units, ceiling=ceiling)
    if total is None:
        used = queries.units_used(session, business.id, start)
        raise _exhausted(used, plan.monthly_allowance, units, start)
    warn_if_crossed(session, business.id, plan.monthly_allowance, total - units, total)


def reserve_outbound_many(
    session: Session, business: Business, units: Sequence[int], at: datetime
) -> list[AllowanceExhausted | None]:
    """Count a batch of outbound messages as they are created: for each, None (counted) or
    the refusal it gets under a hard stop.

    The batch is taken in order, each message while it fits, exactly as if its messages were
    sent one by one: under a hard stop a message that would pass the allowance is refused
    with reserve_outbound's words (the used units it saw, its own units), and a later, smaller
    one may still fit. One conditional UPDATE when the whole batch fits (the usual case);
    otherwise the period's row is locked and the messages that fit are added in one UPDATE.
    """
    if not units:
        return []
    plan = queries.get_plan(session, business.plan_id)
    start = billing.period_start(at, business.timezone)
    queries.ensure_usage_period(session, business.id, start)
    wanted = sum(units)
    hard_stop = plan.overage_policy == OVERAGE_HARD_STOP
    ceiling = plan.monthly_allowance if hard_stop else None
    total = queries.add_outbound_units(session, business.id, start, wanted, ceiling=ceiling)
    if total is not None:
        warn_if_crossed(session, business.id, plan.monthly_allowance, total - wanted, total)
        return [None] * len(units)
    # Only a hard stop refuses: the batch does not fit whole, so take it in order.
    used = queries.units_used_locked(session, business.id, start)
    taken = 0
    outcomes: list[AllowanceExhausted | None] = []
    for needs in units:
        if used + taken + needs <= plan.monthly_allowance:
            taken += needs
            outcomes.append(None)
        else:
            outcomes.append(_exhausted(used + taken, plan.monthly_allowance, needs, start))
    if taken:
        # Within the allowance by construction, against a total the lock holds still.
        queries.add_outbound_units(session, business.id, start, taken)
        warn_if_crossed(session, business.id, plan.monthly_allowance, used, used + taken)
    return outcomes


def _exhausted(used: int, allowance: int, units: int, start: date) -> AllowanceExhausted:
    return AllowanceExhausted(
        f"The monthly allowance is used up: {used} of {allowance} units used "
        f"this period and this message needs {units}. It renews on "
        f"{billing.next_period_start(start).isoformat()}, or the plan can be raised."
    )


def give_back(session: Session, business: Business, units: int, created_at: datetime) -> None:
    """The carrier refused a message before accepting it: its units return to its period."""
    start = billing.period_start(created_at, business.timezone)
    queries.give_back_units(session, business.id, start, units)


def summarize(session: Session, business: Business, at: datetime) -> UsageSummary:
    plan = queries.get_plan(session, business.plan_id)
    start = billing.period_start(at, business.timezone)
    row = queries.usage_row(session, business.id, start)
    used = row.units_used if row else 0
    return UsageSummary(
        period_start=start,
        period_end=billing.next_period_start(start),
        allowance=plan.monthly_allowance,
        used=used,
        inbound_units=row.inbound_units if row else 0,
        outbound_units=row.outbound_units if row else 0,
        remaining=max(0, plan.monthly_allowance - used),
        overage_units=billing.overage_units(used, plan.monthly_allowance),
        overage_cost=billing.overage_cost(
            used, plan.monthly_allowance, plan.overage_price_per_unit
        ),
        overage_policy=plan.overage_policy,
        warning=billing.warning_level(used, plan.monthly_allowance),
    )


def warn_if_crossed(
    session: Session, business_id: int, allowance: int, before: int, after: int
) -> None:
    """Raise a usage warning when this message carried usage past 80 % or 100 %."""
    old = billing.warning_level(before, allowance) if before > 0 else None
    new = billing.warning_level(after, allowance)
    if new is not None and new != old:
        queue_event_on_commit(
            session,
            LiveEvent(
                business_id,
                "usage.warning",
                {"percent": new, "used": after, "allowance": allowance},
            ),
        )

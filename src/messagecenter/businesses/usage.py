"""Allowance metering: each message counted exactly once, in the transaction that creates it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from messagecenter.businesses import billing, money, queries
from messagecenter.errors import AllowanceExhausted
from messagecenter.events import LiveEvent, queue_event_on_commit
from messagecenter.models import Business, Plan
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
    warning: int | None  # 80 or 100 (percent of warning_limit) once reached
    currency: str  # ISO 4217: overage_cost, the price and the cap are in it
    overage_price_per_unit: Decimal
    spending_cap: Decimal | None  # at most this much overage a month (allow_overage only)
    send_limit: int | None  # units past which sends are refused; None: never
    warning_limit: int  # the units the warnings measure against (the cap's, when it applies)
    # The amounts as the business's locale writes them, currency shown ("$0.05", "£12.40").
    price_text: str
    overage_cost_text: str
    spending_cap_text: str | None
    currency_name: str  # "US dollars", "British pounds"


def _terms(plan: Plan) -> tuple[int, str, Decimal, Decimal | None]:
    return (
        plan.monthly_allowance,
        plan.overage_policy,
        plan.overage_price_per_unit,
        plan.monthly_spending_cap,
    )


def reserve_outbound(
    session: Session, business: Business, units: int, at: datetime, *, force: bool = False
) -> None:
    """Count an outbound message as it is created, or refuse it under a hard stop or past
    the spending cap. The plan is read now: an operator's change holds from the next send.

    `force` counts it whatever the plan (the app's own keyword confirmations must go out).
    """
    plan = queries.get_plan(session, business.plan_id)
    start = billing.period_start(at, business.timezone)
    queries.ensure_usage_period(session, business.id, start)
    ceiling = None if force else billing.send_ceiling(*_terms(plan))
    total = queries.add_outbound_units(session, business.id, start, units, ceiling=ceiling)
    if total is None:
        used = queries.units_used(session, business.id, start)
        raise _exhausted(business, plan, used, units, start)
    warn_if_crossed(
        session,
        business.id,
        plan.monthly_allowance,
        total - units,
        total,
        limit=billing.capped_units(*_terms(plan)),
    )


def reserve_outbound_many(
    session: Session, business: Business, units: Sequence[int], at: datetime
) -> list[AllowanceExhausted | None]:
    """Count a batch of outbound messages as they are created: for each, None (counted) or
    the refusal it gets under a hard stop or past the spending cap.

    The batch is taken in order, each message while it fits, exactly as if its messages were
    sent one by one: a message that would pass the limit is refused with reserve_outbound's
    words (the used units it saw, its own units), and a later, smaller one may still fit. One
    conditional UPDATE when the whole batch fits (the usual case); otherwise the period's row
    is locked and the messages that fit are added in one UPDATE.
    """
    if not units:
        return []
    plan = queries.get_plan(session, business.plan_id)
    start = billing.period_start(at, business.timezone)
    queries.ensure_usage_period(session, business.id, start)
    wanted = sum(units)
    ceiling = billing.send_ceiling(*_terms(plan))
    capped = billing.capped_units(*_terms(plan))
    allowance = plan.monthly_allowance
    total = queries.add_outbound_units(session, business.id, start, wanted, ceiling=ceiling)
    if total is not None:
        warn_if_crossed(session, business.id, allowance, total - wanted, total, limit=capped)
        return [None] * len(units)
    # Only a ceiling refuses: the batch does not fit whole, so take it in order.
    assert ceiling is not None
    used = queries.units_used_locked(session, business.id, start)
    taken = 0
    outcomes: list[AllowanceExhausted | None] = []
    for needs in units:
        if used + taken + needs <= ceiling:
            taken += needs
            outcomes.append(None)
        else:
            outcomes.append(_exhausted(business, plan, used + taken, needs, start))
    if taken:
        # Within the ceiling by construction, against a total the lock holds still.
        queries.add_outbound_units(session, business.id, start, taken)
        warn_if_crossed(session, business.id, allowance, used, used + taken, limit=capped)
    return outcomes


def _exhausted(
    business: Business, plan: Plan, used: int, units: int, start: date
) -> AllowanceExhausted:
    renews = billing.next_period_start(start).isoformat()
    if plan.overage_policy == OVERAGE_HARD_STOP or plan.monthly_spending_cap is None:
        return AllowanceExhausted(
            f"The monthly allowance is used up: {used} of {plan.monthly_allowance} units used "
            f"this period and this message needs {units}. It renews on {renews}, or the plan "
            "can be raised."
        )

    # The spending cap stopped it: say so in money, as the business is billed.
    def money_text(amount: Decimal) -> str:
        return money.format_money(amount, plan.currency, business.country)

    spent = billing.overage_cost(used, plan.monthly_allowance, plan.overage_price_per_unit)
    return AllowanceExhausted(
        f"The monthly spending cap of {money_text(plan.monthly_spending_cap)} is reached: "
        f"{used} units used this period against an allowance of {plan.monthly_allowance}, "
        f"{money_text(spent)} of overage so far, and this message needs {units} more units at "
        f"{money_text(plan.overage_price_per_unit)} each. It renews on {renews}, or the cap "
        "can be raised."
    )


def give_back(session: Session, business: Business, units: int, created_at: datetime) -> None:
    """The carrier refused a message before accepting it: its units return to its period."""
    start = billing.period_start(created_at, business.timezone)
    queries.give_back_units(session, business.id, start, units)


def sends_left(session: Session, business: Business, at: datetime) -> int | None:
    """Units the business may still send this period before sends are refused (the hard
    stop, or the spending cap); None: no limit. summarize's send_limit less what is used,
    without the rest of the summary."""
    plan = queries.get_plan(session, business.plan_id)
    limit = billing.send_ceiling(*_terms(plan))
    if limit is None:
        return None
    row = queries.usage_row(session, business.id, billing.period_start(at, business.timezone))
    return max(0, limit - (row.units_used if row else 0))


def summarize(session: Session, business: Business, at: datetime) -> UsageSummary:
    start = billing.period_start(at, business.timezone)
    plan, row = queries.plan_and_usage(session, business.plan_id, business.id, start)
    used = row.units_used if row else 0
    allowance, price, cap = (
        plan.monthly_allowance,
        plan.overage_price_per_unit,
        plan.monthly_spending_cap,
    )
    limit = billing.warning_limit(*_terms(plan))
    cost = billing.overage_cost(used, allowance, price)

    def money_text(amount: Decimal) -> str:
        return money.format_money(amount, plan.currency, business.country)

    return UsageSummary(
        period_start=start,
        period_end=billing.next_period_start(start),
        allowance=allowance,
        used=used,
        inbound_units=row.inbound_units if row else 0,
        outbound_units=row.outbound_units if row else 0,
        remaining=max(0, allowance - used),
        overage_units=billing.overage_units(used, allowance),
        overage_cost=cost,
        overage_policy=plan.overage_policy,
        warning=billing.warning_level(used, limit),
        currency=plan.currency,
        overage_price_per_unit=price,
        spending_cap=cap,
        send_limit=billing.send_ceiling(*_terms(plan)),
        warning_limit=limit,
        price_text=money_text(price),
        overage_cost_text=money_text(cost),
        spending_cap_text=None if cap is None else money_text(cap),
        currency_name=money.currency_name(plan.currency, business.country),
    )


def warn_if_crossed(
    session: Session,
    business_id: int,
    allowance: int,
    before: int,
    after: int,
    *,
    limit: int | None = None,
) -> None:
    """Raise a usage warning when this message carried usage past 80 % or 100 % of the
    allowance, or of `limit` (the units a spending cap allows) when one is given."""
    measure = allowance if limit is None else limit
    old = billing.warning_level(before, measure) if before > 0 else None
    new = billing.warning_level(after, measure)
    if new is not None and new != old:
        data: dict[str, int] = {"percent": new, "used": after, "allowance": allowance}
        if limit is not None:
            data["limit"] = limit
        queue_event_on_commit(session, LiveEvent(business_id, "usage.warning", data))

"""Plans that change (issue 14): an operator's change holds from the next send, is recorded,
and a spending cap stops overage exactly where its cost would pass it."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.businesses import plans, usage
from messagecenter.businesses.plans import ChangedBy, PlanEdit, change_plan
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import AllowanceExhausted, InvalidInput
from messagecenter.events import LiveEvent, pending_events
from messagecenter.models import Business, Plan, PlanChange
from messagecenter.models.business import CHANGED_VIA_API, CHANGED_VIA_CLI
from tests.factories import MARIA, SetUp, make_business, text_from

ALICE = ChangedBy("alice@ops", CHANGED_VIA_CLI)


def _reserve(session: Session, setup: SetUp, clock: FrozenClock, units: int = 1) -> None:
    usage.reserve_outbound(session, setup.business, units, clock.now())


def _plan(session: Session, business: Business) -> Plan:
    plan = session.get(Plan, business.plan_id)
    assert plan is not None
    return plan


def _warnings(session: Session) -> list[LiveEvent]:
    return [e for e in pending_events(session) if e.type == "usage.warning"]


def _history_count(session: Session, business: Business) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(PlanChange)
            .where(PlanChange.business_id == business.id)
        )
        or 0
    )


# ---------------------------------------------------------------------------- taking effect


def test_a_lowered_allowance_stops_the_next_send_under_a_hard_stop(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10)
    for _ in range(4):
        _reserve(session, setup, clock)

    change_plan(session, setup.business, PlanEdit(monthly_allowance=4), ALICE, clock.now())

    with pytest.raises(AllowanceExhausted) as refused:
        _reserve(session, setup, clock)
    assert "4 of 4 units used this period" in refused.value.message
    assert usage.summarize(session, setup.business, clock.now()).used == 4


def test_a_raised_allowance_lets_the_next_send_go_in_the_same_period(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=2)
    _reserve(session, setup, clock, 2)
    with pytest.raises(AllowanceExhausted):
        _reserve(session, setup, clock)

    change_plan(session, setup.business, PlanEdit(monthly_allowance=3), ALICE, clock.now())

    _reserve(session, setup, clock)
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.used, summary.allowance, summary.remaining) == (3, 3, 0)


def test_switching_to_overage_lets_sends_go_past_and_bills_at_the_new_price(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=1)
    _reserve(session, setup, clock)

    edit = PlanEdit(overage_policy="allow_overage", overage_price_per_unit=Decimal("0.25"))
    change_plan(session, setup.business, edit, ALICE, clock.now())

    _reserve(session, setup, clock, 3)
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.overage_units, summary.overage_cost) == (3, Decimal("0.75"))
    assert summary.overage_cost_text == "$0.75"


def test_switching_back_to_a_hard_stop_refuses_at_once(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(
        session, context.carrier, clock.now(), allowance=1, policy="allow_overage"
    )
    _reserve(session, setup, clock, 2)

    change_plan(session, setup.business, PlanEdit(overage_policy="hard_stop"), ALICE, clock.now())

    with pytest.raises(AllowanceExhausted):
        _reserve(session, setup, clock)


def test_a_lowered_allowance_warns_at_once_when_usage_is_now_past_a_threshold(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=100)
    _reserve(session, setup, clock, 9)
    assert _warnings(session) == []

    change_plan(session, setup.business, PlanEdit(monthly_allowance=10), ALICE, clock.now())

    assert [w.data for w in _warnings(session)] == [{"percent": 80, "used": 9, "allowance": 10}]
    assert usage.summarize(session, setup.business, clock.now()).warning == 80


def test_a_raised_allowance_raises_no_warning(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=10)
    _reserve(session, setup, clock, 9)
    before = len(_warnings(session))

    change_plan(session, setup.business, PlanEdit(monthly_allowance=100), ALICE, clock.now())

    assert len(_warnings(session)) == before
    assert usage.summarize(session, setup.business, clock.now()).warning is None


# ---------------------------------------------------------------------------- history


def test_each_change_is_recorded_with_who_when_how_before_and_after(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=500)
    first_at = clock.now()
    change_plan(
        session,
        setup.business,
        PlanEdit(monthly_allowance=1000),
        ChangedBy("  alice@ops ", CHANGED_VIA_CLI, note="upgraded, ticket 42"),
        first_at,
    )
    clock.advance(timedelta(hours=1))
    change_plan(
        session,
        setup.business,
        PlanEdit(
            overage_policy="allow_overage",
            overage_price_per_unit=Decimal("0.04"),
            monthly_spending_cap=Decimal("25"),
        ),
        ChangedBy("operator-token", CHANGED_VIA_API),
        clock.now(),
    )

    newest, oldest = plans.plan_history(session, setup.business.id)
    assert (oldest.changed_by, oldest.changed_via, oldest.note) == (
        "alice@ops",
        "cli",
        "upgraded, ticket 42",
    )
    assert oldest.changed_at == first_at
    assert oldest.before == {
        "monthly_allowance": 500,
        "overage_policy": "hard_stop",
        "overage_price_per_unit": "0.0500",
        "currency": "USD",
        "monthly_spending_cap": None,
    }
    assert oldest.after == {**oldest.before, "monthly_allowance": 1000}
    assert (newest.changed_by, newest.changed_via) == ("operator-token", "api")
    assert newest.changed_at == clock.now()
    assert newest.before == oldest.after  # each change starts where the last one ended
    assert newest.after == {
        "monthly_allowance": 1000,
        "overage_policy": "allow_overage",
        "overage_price_per_unit": "0.0400",
        "currency": "USD",
        "monthly_spending_cap": "25.0000",
    }


def test_a_change_to_the_same_terms_records_nothing(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=500, price="0.05")
    edit = PlanEdit(monthly_allowance=500, overage_price_per_unit=Decimal("0.050"))
    assert change_plan(session, setup.business, edit, ALICE, clock.now()) is None
    assert _history_count(session, setup.business) == 0


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (PlanEdit(monthly_allowance=-1), "monthly_allowance"),
        (PlanEdit(monthly_allowance=2**31), "monthly_allowance"),
        (PlanEdit(overage_policy="bill_later"), "overage_policy"),
        (PlanEdit(overage_price_per_unit=Decimal("-0.01")), "overage_price_per_unit"),
        (PlanEdit(overage_price_per_unit=Decimal("0.00001")), "overage_price_per_unit"),
        (PlanEdit(overage_price_per_unit=Decimal("NaN")), "overage_price_per_unit"),
        (PlanEdit(currency="XYZ"), "currency"),
        (PlanEdit(currency="dollars"), "currency"),
        (PlanEdit(monthly_spending_cap=Decimal("-5")), "monthly_spending_cap"),
        (PlanEdit(monthly_spending_cap=Decimal("1e20")), "monthly_spending_cap"),
        (PlanEdit(), "plan"),
    ],
)
def test_bad_terms_are_refused_naming_the_field_and_change_nothing(
    session: Session, context: AppContext, clock: FrozenClock, edit: PlanEdit, field: str
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=500)
    # With a good term beside the bad one: that one must not land either.
    if edit.monthly_allowance is None and not edit.is_empty():
        edit = replace(edit, monthly_allowance=7)
    with pytest.raises(InvalidInput) as refused:
        change_plan(session, setup.business, edit, ALICE, clock.now())
    assert refused.value.field == field
    session.expire_all()
    plan = _plan(session, setup.business)
    assert (plan.monthly_allowance, plan.overage_policy, plan.currency) == (
        500,
        "hard_stop",
        "USD",
    )
    assert _history_count(session, setup.business) == 0


@pytest.mark.parametrize(
    ("changed_by", "field"),
    [
        (ChangedBy("  ", CHANGED_VIA_CLI), "by"),
        (ChangedBy("x" * 101, CHANGED_VIA_CLI), "by"),
        (ChangedBy("ali\x07ce", CHANGED_VIA_CLI), "by"),
        (ChangedBy("alice", CHANGED_VIA_CLI, note="n" * 501), "note"),
    ],
)
def test_an_unnamed_or_unprintable_operator_is_refused(
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    changed_by: ChangedBy,
    field: str,
) -> None:
    setup = make_business(session, context.carrier, clock.now(), allowance=500)
    with pytest.raises(InvalidInput) as refused:
        change_plan(session, setup.business, PlanEdit(monthly_allowance=9), changed_by, clock.now())
    assert refused.value.field == field
    assert _plan(session, setup.business).monthly_allowance == 500


def test_a_plan_shared_with_another_business_is_copied_not_changed_for_both(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    first = make_business(session, context.carrier, clock.now(), allowance=500)
    second = make_business(session, context.carrier, clock.now(), allowance=500)
    shared = first.business.plan_id
    second.business.plan_id = shared
    session.flush()

    change = change_plan(
        session, second.business, PlanEdit(monthly_allowance=50), ALICE, clock.now()
    )

    assert change is not None
    assert second.business.plan_id != shared
    assert change.plan_id == second.business.plan_id
    assert _plan(session, second.business).monthly_allowance == 50
    assert _plan(session, first.business).monthly_allowance == 500


# ---------------------------------------------------------------------------- spending cap


def _capped(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    """10 units a month, then overage at 0.10 a unit up to a cap of 0.50: 15 units in all."""
    return make_business(
        session,
        context.carrier,
        clock.now(),
        allowance=10,
        policy="allow_overage",
        price="0.10",
        spending_cap="0.50",
    )


def test_the_cap_stops_overage_at_the_exact_unit_its_cost_would_pass(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _capped(session, context, clock)
    _reserve(session, setup, clock, 15)  # 5 units of overage cost exactly the cap

    with pytest.raises(AllowanceExhausted) as refused:
        _reserve(session, setup, clock)

    message = refused.value.message
    assert "spending cap of $0.50 is reached" in message
    assert "$0.50 of overage so far" in message
    assert "needs 1 more units at $0.10 each" in message
    assert "renews on 2026-12-01" in message
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.used, summary.overage_cost, summary.send_limit) == (15, Decimal("0.5"), 15)


def test_under_the_cap_a_picture_that_would_pass_it_is_refused_and_a_text_still_fits(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _capped(session, context, clock)
    _reserve(session, setup, clock, 13)

    refusals = usage.reserve_outbound_many(session, setup.business, [3, 1, 1, 1], clock.now())

    assert [r is None for r in refusals] == [False, True, True, False]
    assert usage.summarize(session, setup.business, clock.now()).used == 15


def test_a_cap_that_buys_no_whole_unit_stops_sends_at_the_allowance(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _capped(session, context, clock)
    change_plan(
        session,
        setup.business,
        PlanEdit(monthly_spending_cap=Decimal("0.09")),
        ALICE,
        clock.now(),
    )
    _reserve(session, setup, clock, 10)
    with pytest.raises(AllowanceExhausted, match=re.escape("spending cap of $0.09")):
        _reserve(session, setup, clock)


def test_removing_the_cap_lets_overage_go_on(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _capped(session, context, clock)
    _reserve(session, setup, clock, 15)

    change_plan(session, setup.business, PlanEdit(remove_spending_cap=True), ALICE, clock.now())

    _reserve(session, setup, clock, 5)
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.used, summary.send_limit, summary.spending_cap) == (20, None, None)


def test_a_lowered_cap_stops_the_next_send(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _capped(session, context, clock)
    _reserve(session, setup, clock, 12)
    change_plan(
        session, setup.business, PlanEdit(monthly_spending_cap=Decimal("0.20")), ALICE, clock.now()
    )
    with pytest.raises(AllowanceExhausted, match=re.escape("spending cap of $0.20")):
        _reserve(session, setup, clock)


def test_a_cap_on_a_hard_stop_plan_changes_nothing_there(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(
        session, context.carrier, clock.now(), allowance=2, price="0.10", spending_cap="5"
    )
    _reserve(session, setup, clock, 2)
    with pytest.raises(AllowanceExhausted, match="monthly allowance is used up"):
        _reserve(session, setup, clock)
    assert usage.summarize(session, setup.business, clock.now()).send_limit == 2


def test_with_a_cap_the_warnings_count_toward_it(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _capped(session, context, clock)  # sends stop at 15 units
    _reserve(session, setup, clock, 11)  # past the allowance, 73 % of the cap's 15
    assert _warnings(session) == []

    _reserve(session, setup, clock)  # 12 of 15: 80 %
    _reserve(session, setup, clock, 3)  # 15 of 15: 100 %

    assert [w.data for w in _warnings(session)] == [
        {"percent": 80, "used": 12, "allowance": 10, "limit": 15},
        {"percent": 100, "used": 15, "allowance": 10, "limit": 15},
    ]
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.warning, summary.warning_limit) == (100, 15)


def test_inbound_texts_count_toward_the_cap_and_are_never_refused(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = _capped(session, context, clock)
    _reserve(session, setup, clock, 11)
    text_from(session, setup.number, MARIA, "hello", clock.now())  # 12 of 15
    assert [w.data["percent"] for w in _warnings(session)] == [80]

    for n in range(5):  # 17: past the cap, and every text kept
        outcome = text_from(session, setup.number, MARIA, f"again {n}", clock.now())
        assert outcome.message_id is not None

    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.used, summary.inbound_units, summary.warning) == (17, 6, 100)
    assert [w.data["percent"] for w in _warnings(session)] == [80, 100]
    with pytest.raises(AllowanceExhausted, match="spending cap"):
        _reserve(session, setup, clock)


# ---------------------------------------------------------------------------- currency


@pytest.mark.parametrize(
    ("country", "timezone", "phone", "currency", "price_text"),
    [
        ("US", "America/New_York", "+12125550100", "USD", "$0.05"),
        ("CA", "America/Toronto", "+14165550100", "CAD", "$0.05"),
        ("GB", "Europe/London", "+442071838750", "GBP", "£0.05"),
        ("AU", "Australia/Sydney", "+61291234567", "AUD", "$0.05"),
        ("IE", "Europe/Dublin", "+35312345678", "EUR", "€0.05"),
        ("JE", "Europe/Jersey", "+441534123456", "GBP", "£0.05"),
    ],
)
def test_a_new_plan_is_priced_in_its_countrys_currency(
    session: Session,
    context: AppContext,
    clock: FrozenClock,
    country: str,
    timezone: str,
    phone: str,
    currency: str,
    price_text: str,
) -> None:
    setup = make_business(
        session,
        context.carrier,
        clock.now(),
        country=country,
        timezone=timezone,
        business_phone=phone,
    )
    assert _plan(session, setup.business).currency == currency
    assert usage.summarize(session, setup.business, clock.now()).price_text == price_text


def test_a_plan_in_another_currency_shows_which_in_the_business_locale(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(
        session,
        context.carrier,
        clock.now(),
        country="CA",
        timezone="America/Toronto",
        business_phone="+14165550100",
        currency="usd",
        spending_cap="1234.5",
        policy="allow_overage",
    )
    summary = usage.summarize(session, setup.business, clock.now())
    assert (summary.currency, summary.price_text) == ("USD", "US$0.05")
    assert summary.spending_cap_text == "US$1,234.50"

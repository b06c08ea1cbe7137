"""Creating a business: who is served, and input checked before anything is written."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.apikeys.service import authenticate
from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.clock import FrozenClock
from messagecenter.errors import InvalidInput
from messagecenter.models import Business, Plan

NEW = NewBusiness(
    name="  Harbor Yoga  ",
    country="US",
    timezone="America/New_York",
    business_phone="(212) 555-0100",
    monthly_allowance=500,
    overage_policy="hard_stop",
    overage_price_per_unit=Decimal("0.04"),
    owner_email="owner@harbor.example",
)


def _counts(session: Session) -> tuple[int, int]:
    businesses = session.scalar(select(func.count()).select_from(Business)) or 0
    plans = session.scalar(select(func.count()).select_from(Plan)) or 0
    return businesses, plans


def test_create_business_stores_the_plan_and_an_e164_business_phone(
    session: Session, clock: FrozenClock
) -> None:
    created = create_business(session, NEW, clock.now())
    business = created.business
    assert business.id is not None
    assert business.name == "Harbor Yoga"
    assert business.country == "US"
    assert business.timezone == "America/New_York"
    assert business.business_phone == "+12125550100"
    plan = session.get(Plan, business.plan_id)
    assert plan is not None
    assert plan.monthly_allowance == 500
    assert plan.overage_policy == "hard_stop"
    assert plan.overage_price_per_unit == Decimal("0.04")
    assert created.owner_password
    assert authenticate(session, created.api_key).business_id == business.id


def test_a_business_outside_the_served_countries_is_refused(
    session: Session, clock: FrozenClock
) -> None:
    before = _counts(session)
    with pytest.raises(InvalidInput) as refused:
        create_business(
            session,
            replace(NEW, country="FR", business_phone="+33 1 42 68 53 00", timezone="Europe/Paris"),
            clock.now(),
        )
    assert refused.value.field == "country"
    message = refused.value.message
    for served in ("United States", "Canada", "Australia", "United Kingdom"):
        assert served in message
    assert "FR" in message
    assert _counts(session) == before


@pytest.mark.parametrize(
    ("country", "phone", "timezone"),
    [
        ("IE", "+353 1 234 5678", "Europe/Dublin"),
        ("IM", "+44 1624 756789", "Europe/Isle_of_Man"),
        ("JE", "+44 1534 456789", "Europe/Jersey"),
        ("GG", "+44 1481 256789", "Europe/Guernsey"),
    ],
)
def test_the_rest_of_the_british_isles_is_accepted(
    session: Session, clock: FrozenClock, country: str, phone: str, timezone: str
) -> None:
    created = create_business(
        session,
        replace(NEW, country=country.lower(), business_phone=phone, timezone=timezone),
        clock.now(),
    )
    assert created.business.country == country
    assert created.business.business_phone == phone.replace(" ", "")


@pytest.mark.parametrize(
    ("country", "phone", "timezone"),
    [
        ("CA", "+1 416 555 0100", "America/Toronto"),
        ("AU", "02 5550 1234", "Australia/Sydney"),
        ("GB", "020 7946 0000", "Europe/London"),
    ],
)
def test_the_served_countries_are_accepted(
    session: Session, clock: FrozenClock, country: str, phone: str, timezone: str
) -> None:
    created = create_business(
        session,
        replace(NEW, country=country, business_phone=phone, timezone=timezone),
        clock.now(),
    )
    assert created.business.country == country
    assert created.business.business_phone.startswith("+")


@pytest.mark.parametrize("timezone", ["Mars/Olympus_Mons", "", "EST5EDT/../etc"])
def test_a_bad_time_zone_is_refused(session: Session, clock: FrozenClock, timezone: str) -> None:
    before = _counts(session)
    with pytest.raises(InvalidInput) as refused:
        create_business(session, replace(NEW, timezone=timezone), clock.now())
    assert refused.value.field == "timezone"
    assert "time zone" in refused.value.message
    assert _counts(session) == before


def test_a_negative_allowance_is_refused(session: Session, clock: FrozenClock) -> None:
    before = _counts(session)
    with pytest.raises(InvalidInput) as refused:
        create_business(session, replace(NEW, monthly_allowance=-1), clock.now())
    assert refused.value.field == "monthly_allowance"
    assert "negative" in refused.value.message
    assert _counts(session) == before


def test_an_allowance_of_zero_is_allowed(session: Session, clock: FrozenClock) -> None:
    created = create_business(session, replace(NEW, monthly_allowance=0), clock.now())
    plan = session.get(Plan, created.business.plan_id)
    assert plan is not None and plan.monthly_allowance == 0


def test_an_unknown_overage_policy_is_refused(session: Session, clock: FrozenClock) -> None:
    before = _counts(session)
    with pytest.raises(InvalidInput) as refused:
        create_business(session, replace(NEW, overage_policy="unlimited"), clock.now())
    assert refused.value.field == "overage_policy"
    assert "hard_stop" in refused.value.message
    assert "allow_overage" in refused.value.message
    assert _counts(session) == before


def test_a_negative_overage_price_is_refused(session: Session, clock: FrozenClock) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_business(session, replace(NEW, overage_price_per_unit=Decimal("-0.01")), clock.now())
    assert refused.value.field == "overage_price_per_unit"
    assert "negative" in refused.value.message


def test_a_blank_name_is_refused(session: Session, clock: FrozenClock) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_business(session, replace(NEW, name="   "), clock.now())
    assert refused.value.field == "name"


@pytest.mark.parametrize("phone", ["", "not a phone", "212 555 010"])
def test_a_bad_business_phone_is_refused_and_nothing_is_written(
    session: Session, clock: FrozenClock, phone: str
) -> None:
    before = _counts(session)
    with pytest.raises(InvalidInput) as refused:
        create_business(session, replace(NEW, business_phone=phone), clock.now())
    assert refused.value.field == "business_phone"
    assert _counts(session) == before

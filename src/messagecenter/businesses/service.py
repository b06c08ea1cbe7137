"""Creating businesses (the operator's `business create` and the demo)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from messagecenter.apikeys.service import create_api_key
from messagecenter.businesses import money, plans
from messagecenter.clients.phone import parse_phone
from messagecenter.errors import InvalidInput
from messagecenter.models import Business
from messagecenter.models.staff import ROLE_OWNER
from messagecenter.numbers.countries import number_country
from messagecenter.staff.service import create_staff_member, generate_password


@dataclass(frozen=True)
class NewBusiness:
    name: str
    country: str
    timezone: str
    business_phone: str
    monthly_allowance: int
    overage_policy: str
    overage_price_per_unit: Decimal
    owner_email: str
    owner_name: str = ""
    currency: str | None = None  # ISO 4217; None: the country's (money.CURRENCY_OF_COUNTRY)
    monthly_spending_cap: Decimal | None = None  # bounds overage (allow_overage plans)


@dataclass(frozen=True)
class CreatedBusiness:
    business: Business
    owner_password: str
    api_key: str


def create_business(
    session: Session, new: NewBusiness, at: datetime, *, owner_password: str | None = None
) -> CreatedBusiness:
    name = new.name.strip()
    if not name:
        raise InvalidInput("Give the business a name.", field="name")
    country = new.country.strip().upper()
    number_country(country)  # refuses countries Message Center does not serve
    try:
        ZoneInfo(new.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"{new.timezone!r} is not a time zone: use an IANA name like America/New_York.",
            field="timezone",
        ) from None
    terms = plans.check_terms(
        plans.PlanTerms(
            monthly_allowance=new.monthly_allowance,
            overage_policy=new.overage_policy,
            overage_price_per_unit=new.overage_price_per_unit,
            currency=new.currency or money.default_currency(country),
            monthly_spending_cap=new.monthly_spending_cap,
        )
    )
    phone = parse_phone(new.business_phone, country, field="business_phone")
    plan = plans.new_plan(terms, at)
    session.add(plan)
    session.flush()
    business = Business(
        name=name,
        country=country,
        timezone=new.timezone,
        business_phone=phone,
        plan_id=plan.id,
        unread_messages=0,
        created_at=at,
    )
    session.add(business)
    session.flush()
    password = owner_password or generate_password()
    create_staff_member(
        session,
        business_id=business.id,
        email=new.owner_email,
        name=new.owner_name or new.owner_email,
        role=ROLE_OWNER,
        can_send_sms=True,
        password=password,
        at=at,
    )
    _, secret = create_api_key(session, business.id, "Owner's key", at)
    return CreatedBusiness(business, password, secret)


def set_strict_state_hours(business: Business, keep: bool) -> None:
    """Whether quiet hours follow the stricter windows of some US states (Settings)."""
    business.strict_state_hours = keep

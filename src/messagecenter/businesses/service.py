"""Creating businesses (the operator's `business create` and the demo)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from messagecenter.apikeys.service import create_api_key
from messagecenter.clients.phone import parse_phone
from messagecenter.errors import InvalidInput
from messagecenter.models import Business, Plan
from messagecenter.models.business import OVERAGE_POLICIES
from messagecenter.models.staff import ROLE_OWNER
from messagecenter.numbers.countries import number_country
from messagecenter.staff.service import create_staff_member, generate_password

MAX_ALLOWANCE = 2**31 - 1  # the plans column is a 32-bit INTEGER
MAX_PRICE = Decimal("999999.9999")  # the plans column is NUMERIC(10, 4)


def check_price(price: Decimal) -> None:
    """A price the plans column holds exactly: finite, 0 to MAX_PRICE, at most 4 decimals
    (NaN would otherwise fail every comparison, and 1e30 the column)."""
    if not price.is_finite():
        raise InvalidInput(
            "Give the overage price as a number such as 0.05.", field="overage_price"
        )
    if price < 0:
        raise InvalidInput("The overage price cannot be negative.", field="overage_price")
    if price > MAX_PRICE or price != price.quantize(Decimal("0.0001")):
        raise InvalidInput(
            f"The overage price must be at most {MAX_PRICE}, with at most 4 decimal places.",
            field="overage_price",
        )


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
    if new.monthly_allowance < 0:
        raise InvalidInput("The allowance cannot be negative.", field="monthly_allowance")
    if new.monthly_allowance > MAX_ALLOWANCE:
        raise InvalidInput(
            f"The allowance can be at most {MAX_ALLOWANCE} messages a month.",
            field="monthly_allowance",
        )
    if new.overage_policy not in OVERAGE_POLICIES:
        raise InvalidInput(
            "The overage policy must be one of: " + ", ".join(OVERAGE_POLICIES),
            field="overage_policy",
        )
    check_price(new.overage_price_per_unit)
    phone = parse_phone(new.business_phone, country, field="business_phone")
    plan = Plan(
        name=f"{new.monthly_allowance} messages a month",
        monthly_allowance=new.monthly_allowance,
        overage_policy=new.overage_policy,
        overage_price_per_unit=new.overage_price_per_unit,
        created_at=at,
    )
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

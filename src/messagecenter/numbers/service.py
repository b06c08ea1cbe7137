"""Choosing the business's SMS number from the carrier's suggestions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.businesses import queries as business_queries
from messagecenter.carriers.base import Carrier
from messagecenter.errors import InvalidInput
from messagecenter.models import Business, SmsNumber
from messagecenter.models.sms_number import NUMBER_ACTIVE
from messagecenter.numbers.countries import number_country

SUGGESTION_COUNT = 5
SMS_WEBHOOK_PATH = "/webhooks/twilio/sms"


def suggest_numbers(session: Session, business: Business, carrier: Carrier) -> list[str]:
    """Numbers near the business phone that no business holds, as the carrier offers them."""
    country = number_country(business.country)
    offered = carrier.suggest_numbers(country, business.business_phone, SUGGESTION_COUNT * 4)
    taken = set(
        session.scalars(
            select(SmsNumber.phone_number).where(
                SmsNumber.phone_number.in_([n.phone_number for n in offered]),
                SmsNumber.status == NUMBER_ACTIVE,
            )
        )
    )
    taken.add(business.business_phone)  # never the business's own phone
    return [n.phone_number for n in offered if n.phone_number not in taken][:SUGGESTION_COUNT]


def enable_messaging(
    session: Session,
    business: Business,
    carrier: Carrier,
    chosen: str,
    public_url: str,
    at: datetime,
) -> SmsNumber:
    """Give the business the number it chose; only a number just suggested is accepted.

    A business that already has an active number keeps it.
    """
    existing = business_queries.active_number(session, business.id)
    if existing is not None:
        return existing
    if chosen not in suggest_numbers(session, business, carrier):
        raise InvalidInput(
            f"{chosen} is not one of the numbers offered: choose one of the suggested numbers "
            "(the business phone or a personal number cannot be used).",
            field="phone_number",
        )
    carrier_sid = carrier.acquire_number(chosen, public_url.rstrip("/") + SMS_WEBHOOK_PATH)
    number = SmsNumber(
        business_id=business.id,
        phone_number=chosen,
        country=number_country(business.country),
        carrier=carrier.name,
        carrier_sid=carrier_sid,
        status=NUMBER_ACTIVE,
        carrier_handles_keywords=True,
        acquired_at=at,
    )
    session.add(number)
    session.flush()
    return number

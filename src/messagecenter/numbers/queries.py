"""SQL for SMS numbers."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.models import SmsNumber
from messagecenter.models.sms_number import NUMBER_ACTIVE


def carrier_handles_keywords(session: Session, phone_number: str) -> bool:
    """Whether the carrier answers STOP/START/HELP itself on this number (True if unknown)."""
    setting = session.scalar(
        select(SmsNumber.carrier_handles_keywords).where(
            SmsNumber.phone_number == phone_number, SmsNumber.status == NUMBER_ACTIVE
        )
    )
    return setting is not False


def held_here(session: Session, phone_numbers: Iterable[str]) -> set[str]:
    """Which of these numbers a business here holds or once held."""
    return set(
        session.scalars(
            select(SmsNumber.phone_number).where(SmsNumber.phone_number.in_(list(phone_numbers)))
        )
    )


def numbers_of(session: Session, business_id: int) -> list[SmsNumber]:
    """Every number the business has had, the active one first."""
    return list(
        session.scalars(
            select(SmsNumber)
            .where(SmsNumber.business_id == business_id)
            .order_by((SmsNumber.status == NUMBER_ACTIVE).desc(), SmsNumber.acquired_at.desc())
        )
    )

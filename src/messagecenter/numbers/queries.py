"""SQL for SMS numbers."""

from __future__ import annotations

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

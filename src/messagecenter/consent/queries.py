"""SQL for consent state and records."""

from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from messagecenter.models import ConsentRecord, PhoneConsent


def consent_for(session: Session, business_id: int, phone: str) -> PhoneConsent | None:
    return session.scalar(
        select(PhoneConsent).where(
            PhoneConsent.business_id == business_id, PhoneConsent.phone == phone
        )
    )


_CONSENTS = select(PhoneConsent).where(  # built once: the inbox list reads it on every page
    PhoneConsent.business_id == bindparam("business_id"),
    PhoneConsent.phone.in_(bindparam("phones", expanding=True)),
)


def consents_for(session: Session, business_id: int, phones: list[str]) -> dict[str, PhoneConsent]:
    if not phones:
        return {}
    rows = session.scalars(_CONSENTS, {"business_id": business_id, "phones": phones})
    return {row.phone: row for row in rows}


def consent_history(session: Session, business_id: int, phone: str) -> list[ConsentRecord]:
    return list(
        session.scalars(
            select(ConsentRecord)
            .where(ConsentRecord.business_id == business_id, ConsentRecord.phone == phone)
            .order_by(ConsentRecord.created_at, ConsentRecord.id)
        )
    )

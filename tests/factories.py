"""Builders for test data, through the real services."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.businesses import usage
from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.carriers.base import Carrier, InboundSms
from messagecenter.clients.service import ClientChanges, create_client
from messagecenter.conversations import queries
from messagecenter.intake.record import InboundOutcome, record_inbound
from messagecenter.models import ApiKey, Business, Client, Conversation, SmsNumber, StaffMember
from messagecenter.numbers.service import enable_messaging, suggest_numbers
from messagecenter.sending.compose import Sender

_sequence = itertools.count(1)

PUBLIC_URL = "https://mc.example.test"


@dataclass
class SetUp:
    business: Business
    number: SmsNumber
    owner_password: str
    api_key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


def make_business(
    session: Session,
    carrier: Carrier,
    at: datetime,
    *,
    country: str = "US",
    timezone: str = "America/New_York",
    business_phone: str = "+12125550100",
    allowance: int = 100,
    policy: str = "hard_stop",
    price: str = "0.05",
    spending_cap: str | None = None,
    currency: str | None = None,
) -> SetUp:
    n = next(_sequence)
    created = create_business(
        session,
        NewBusiness(
            name=f"Studio {n}",
            country=country,
            timezone=timezone,
            business_phone=business_phone,
            monthly_allowance=allowance,
            overage_policy=policy,
            overage_price_per_unit=Decimal(price),
            owner_email=f"owner{n}@studio.example",
            currency=currency,
            monthly_spending_cap=None if spending_cap is None else Decimal(spending_cap),
        ),
        at,
    )
    chosen = suggest_numbers(session, created.business, carrier)[0]
    number = enable_messaging(session, created.business, carrier, chosen, PUBLIC_URL, at)
    return SetUp(created.business, number, created.owner_password, created.api_key)


def make_client(
    session: Session,
    business: Business,
    at: datetime,
    *,
    first_name: str = "Maria",
    last_name: str = "Lopez",
    cell_phone: str | None = "+12125550142",
    **switches: bool,
) -> Client:
    return create_client(
        session,
        business,
        ClientChanges(
            first_name=first_name, last_name=last_name, cell_phone=cell_phone, **switches
        ),
        at,
    )


def text_from(
    session: Session,
    number: SmsNumber,
    from_phone: str,
    body: str,
    at: datetime,
    *,
    media: list[str] | None = None,
    sid: str | None = None,
) -> InboundOutcome:
    """A client's text arriving at the business's number (as a webhook would deliver it)."""
    return record_inbound(
        session,
        InboundSms(
            sid or f"SM{next(_sequence):032x}", from_phone, number.phone_number, body, media or []
        ),
        at,
    )


# Clients' phones and steps the service tests of intake, sending and conversations share.
MARIA = "+12125550142"
JOHN = "+12125550143"
STRANGER = "+12125550177"


def count(session: Session, model: type[object], *conditions: object) -> int:
    stmt = select(func.count()).select_from(model)
    for condition in conditions:
        stmt = stmt.where(condition)  # type: ignore[arg-type]
    return int(session.scalar(stmt) or 0)


def used(session: Session, business: Business, at: datetime) -> int:
    return usage.summarize(session, business, at).used


def badge(session: Session, business: Business) -> int:
    return queries.business_unread(session, business.id)


def conversation_of(session: Session, business: Business, phone: str) -> Conversation:
    conversation = queries.conversation_for_phone(session, business.id, phone)
    assert conversation is not None
    session.refresh(conversation)
    return conversation


def api_sender(session: Session, business: Business) -> Sender:
    key_id = session.scalar(select(ApiKey.id).where(ApiKey.business_id == business.id))
    assert key_id is not None
    return Sender.api_key(key_id)


def staff_sender(session: Session, business: Business) -> Sender:
    staff_id = session.scalar(select(StaffMember.id).where(StaffMember.business_id == business.id))
    assert staff_id is not None
    return Sender.staff(staff_id)

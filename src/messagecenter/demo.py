"""Demo data for `make run`: a salon on the simulated carrier with a few clients.

Running it again changes nothing. Its credentials are fixed and printed every time: they are
for a laptop demo only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.apikeys.service import key_digest
from messagecenter.businesses.queries import active_number
from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.carriers.base import Carrier, InboundSms
from messagecenter.clients.service import ClientChanges, create_client
from messagecenter.intake.record import record_inbound
from messagecenter.models import ApiKey, Business, StaffMember
from messagecenter.numbers.service import enable_messaging, suggest_numbers

DEMO_OWNER_EMAIL = "owner@demo.example"
DEMO_PASSWORD = "demo-password"
DEMO_API_KEY = "mc_demo_key_for_local_use_only"
DEMO_CLIENTS = [
    ("Maria", "Lopez", "maria@example.com", "+12125550142"),
    ("James", "Chen", "james@example.com", "+12125550143"),
    ("Aisha", "Khan", "aisha@example.com", "+12125550144"),
    ("Tom", "Baker", None, None),
]


@dataclass(frozen=True)
class DemoBusiness:
    business_id: int
    sms_number: str
    created: bool


def ensure_demo(session: Session, carrier: Carrier, public_url: str, at: datetime) -> DemoBusiness:
    owner = session.scalar(select(StaffMember).where(StaffMember.email == DEMO_OWNER_EMAIL))
    if owner is not None:
        business = session.get(Business, owner.business_id)
        assert business is not None
        active = active_number(session, business.id)
        return DemoBusiness(business.id, active.phone_number if active else "", created=False)

    created = create_business(
        session,
        NewBusiness(
            name="Sunrise Yoga & Spa",
            country="US",
            timezone="America/New_York",
            business_phone="+12125550100",
            monthly_allowance=500,
            overage_policy="allow_overage",
            overage_price_per_unit=Decimal("0.05"),
            owner_email=DEMO_OWNER_EMAIL,
            owner_name="Sam Rivera (owner)",
        ),
        at,
        owner_password=DEMO_PASSWORD,
    )
    business = created.business
    session.add(
        ApiKey(
            business_id=business.id,
            name="Demo key",
            prefix=DEMO_API_KEY[:10],
            key_hash=key_digest(DEMO_API_KEY),
            created_at=at,
        )
    )
    chosen = suggest_numbers(session, business, carrier)[0]
    number = enable_messaging(session, business, carrier, chosen, public_url, at)
    for first, last, email, phone in DEMO_CLIENTS:
        create_client(
            session,
            business,
            ClientChanges(first_name=first, last_name=last, email=email, cell_phone=phone),
            at,
        )
    # Two clients have written in, so the inbox is not empty on first sight.
    record_inbound(
        session,
        InboundSms(
            "SMdemo0001", "+12125550142", number.phone_number, "Hi! Can I move my 3pm massage to 4?"
        ),
        at,
    )
    record_inbound(
        session,
        InboundSms(
            "SMdemo0002", "+12125550199", number.phone_number, "Do you have yoga classes on Sunday?"
        ),
        at,
    )
    return DemoBusiness(business.id, number.phone_number, created=True)

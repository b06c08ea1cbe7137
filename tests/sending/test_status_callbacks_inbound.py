"""A status callback naming a client's text changes nothing: callbacks report only what we
sent. A 21610 ("unsubscribed") on an inbound message once opted the business's own number
out, as if its SMS number had texted STOP to itself."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from messagecenter.clock import FrozenClock
from messagecenter.consent import queries as consent_queries
from messagecenter.context import AppContext
from messagecenter.models import Message, MessageStatusEvent, PhoneConsent
from tests.conftest import PUBLIC_URL, TWILIO_AUTH_TOKEN
from tests.factories import make_business, text_from

CLIENT = "+12125550142"


@pytest.mark.parametrize("names_it_by", ["our id", "its MessageSid"])
def test_a_21610_callback_for_an_inbound_text_opts_nobody_out(
    api: TestClient,
    context: AppContext,
    session: Session,
    clock: FrozenClock,
    names_it_by: str,
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    outcome = text_from(session, setup.number, CLIENT, "Hi there", clock.now())
    session.commit()
    inbound = session.get(Message, outcome.message_id)
    assert inbound is not None and inbound.carrier_sid is not None
    before = (inbound.status, inbound.error_code)
    path = "/webhooks/twilio/status" + (f"?message={inbound.id}" if names_it_by == "our id" else "")
    form = {
        "MessageSid": inbound.carrier_sid,
        "MessageStatus": "undelivered",
        "ErrorCode": "21610",
        "From": setup.number.phone_number,
        "To": CLIENT,
    }
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_URL + path, form)

    answer = api.post(
        path,
        content=urlencode(form),
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )

    assert answer.status_code == 204  # answered as for an unknown message: Twilio stops
    session.expire_all()
    business_id = setup.business.id
    assert consent_queries.consent_for(session, business_id, setup.number.phone_number) is None
    assert consent_queries.consent_for(session, business_id, CLIENT) is None
    assert session.scalar(select(func.count()).select_from(PhoneConsent)) == 0
    assert session.scalar(select(func.count()).select_from(MessageStatusEvent)) == 0
    stored = session.get(Message, inbound.id)
    assert stored is not None and (stored.status, stored.error_code) == before

"""Choosing, reusing and changing the SMS number; country rules; unrouted replies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.businesses.service import NewBusiness, create_business
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import Conflict, InvalidInput
from messagecenter.models import Business, Message, SmsNumber, UnroutedMessage
from messagecenter.numbers import service
from messagecenter.numbers.countries import number_country
from messagecenter.sending.compose import Sender, send_message
from tests.factories import PUBLIC_URL, make_business, make_client, text_from


def _business(session: Session, clock: FrozenClock, country: str, phone: str, tz: str) -> Business:
    return create_business(
        session,
        NewBusiness(
            name="Glow", country=country, timezone=tz, business_phone=phone,
            monthly_allowance=100, overage_policy="hard_stop",
            overage_price_per_unit=Decimal(0), owner_email=f"o-{country}@glow.example",
        ),
        clock.now(),
    ).business  # fmt: skip


@pytest.mark.parametrize(
    ("country", "expected"),
    [("US", "US"), ("CA", "CA"), ("AU", "AU"), ("GB", "GB"), ("IE", "GB"), ("IM", "GB"),
     ("JE", "GB"), ("GG", "GB"), ("gb", "GB")],
)  # fmt: skip
def test_served_countries_and_the_british_isles(country: str, expected: str) -> None:
    assert number_country(country) == expected


@pytest.mark.parametrize("country", ["FR", "DE", "NZ", "MX", "XX"])
def test_other_countries_are_refused_naming_those_served(country: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        number_country(country)
    assert "United States, Canada, Australia" in refused.value.message
    assert country in refused.value.message


def test_us_and_canada_get_local_numbers_in_the_business_phone_area_code(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    us = _business(session, clock, "US", "+13125550100", "America/Chicago")
    ca = _business(session, clock, "CA", "+16045550100", "America/Vancouver")
    us_numbers = service.suggest_numbers(session, us, context.carrier)
    ca_numbers = service.suggest_numbers(session, ca, context.carrier)
    assert len(us_numbers) == service.SUGGESTION_COUNT
    assert all(n.startswith("+1312") for n in us_numbers)
    assert all(n.startswith("+1604") for n in ca_numbers)
    assert us.business_phone not in us_numbers


def test_uk_australia_and_ireland_get_mobile_numbers(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    gb = _business(session, clock, "GB", "020 7946 0000", "Europe/London")
    au = _business(session, clock, "AU", "02 5550 1234", "Australia/Sydney")
    ie = _business(session, clock, "IE", "+35312345678", "Europe/Dublin")
    assert all(n.startswith("+447") for n in service.suggest_numbers(session, gb, context.carrier))
    assert all(n.startswith("+614") for n in service.suggest_numbers(session, au, context.carrier))
    assert all(n.startswith("+447") for n in service.suggest_numbers(session, ie, context.carrier))


@pytest.mark.parametrize("chosen", ["+12125550100", "+12125559999", "+12125550150", ""])
def test_only_a_suggested_number_can_be_chosen(
    session: Session, context: AppContext, clock: FrozenClock, chosen: str
) -> None:
    """Not the business phone (+12125550100), not a personal number, nothing not offered."""
    business = _business(session, clock, "US", "+12125550100", "America/New_York")
    with pytest.raises(InvalidInput) as refused:
        service.enable_messaging(
            session, business, context.carrier, chosen, PUBLIC_URL, clock.now()
        )
    assert refused.value.field == "phone_number"
    assert "suggested" in refused.value.message
    assert session.scalar(select(func.count()).select_from(SmsNumber)) == 0


def test_a_business_with_a_number_keeps_and_reuses_it(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    again = service.enable_messaging(
        session, setup.business, context.carrier, "+19999999999", PUBLIC_URL, clock.now()
    )
    assert again.id == setup.number.id


def test_a_number_held_by_another_business_is_not_offered(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    first = make_business(session, context.carrier, clock.now())
    second = _business(session, clock, "US", "+12125550100", "America/New_York")
    offered = service.suggest_numbers(session, second, context.carrier)
    assert first.number.phone_number not in offered


def test_changing_needs_confirmation_and_changes_nothing_without_it(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    new = service.suggest_numbers(session, setup.business, context.carrier)[0]
    with pytest.raises(Conflict) as warned:
        service.change_number(
            session, setup.business, context.carrier, new, PUBLIC_URL, clock.now(),
            confirmed=False,
        )  # fmt: skip
    assert warned.value.code == "confirmation_required"
    assert setup.number.phone_number in warned.value.message
    assert "will not reach you" in warned.value.message
    session.refresh(setup.number)
    assert setup.number.status == "active"


def test_a_changed_number_is_released_and_its_late_replies_are_unrouted(
    session: Session, context: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    client = make_client(session, setup.business, clock.now())
    first = text_from(session, setup.number, client.cell_phone or "", "Hi", clock.now())
    released: list[str] = []
    monkeypatch.setattr(context.carrier, "release_number", released.append)
    old = setup.number.phone_number
    new_phone = service.suggest_numbers(session, setup.business, context.carrier)[0]
    new = service.change_number(
        session, setup.business, context.carrier, new_phone, PUBLIC_URL, clock.now(),
        confirmed=True,
    )  # fmt: skip
    session.refresh(setup.number)
    assert (setup.number.status, setup.number.released_at) == ("released", clock.now())
    assert released == [setup.number.carrier_sid]
    assert (new.phone_number, new.status) == (new_phone, "active")

    # A late reply to the old number reaches no business; one to the new number does.
    late = text_from(session, setup.number, client.cell_phone or "", "Still there?", clock.now())
    assert late.unrouted and late.business_id is None
    assert session.scalar(select(UnroutedMessage.to_phone)) == old
    current = text_from(session, new, client.cell_phone or "", "New number?", clock.now())
    assert current.business_id == setup.business.id

    # The conversation continues from the new number.
    reply = send_message(
        session, setup.business, body="Yes!", sender=Sender.automated(), at=clock.now(),
        client=client,
    )  # fmt: skip
    assert reply.from_phone == new_phone
    message = session.get(Message, first.message_id)
    assert message is not None and reply.conversation_id == message.conversation_id
    assert old not in service.suggest_numbers(session, setup.business, context.carrier)

"""Client profiles: create, update, and bad input that changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from messagecenter.clients.service import (
    ClientChanges,
    create_client,
    get_client,
    shared_cell_phone,
    update_client,
)
from messagecenter.clock import FrozenClock
from messagecenter.consent.service import set_consent
from messagecenter.context import AppContext
from messagecenter.errors import InvalidInput, NotFound
from tests.factories import SetUp, make_business, make_client


@pytest.fixture
def setup(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    return make_business(session, context.carrier, clock.now())


def test_create_client_cleans_and_stores_the_profile(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = create_client(
        session,
        setup.business,
        ClientChanges(
            first_name="  Maria ",
            last_name=" Lopez ",
            email=" Maria.Lopez@Example.COM ",
            cell_phone="(212) 555-0142",
            sms_marketing=True,
        ),
        clock.now(),
    )
    session.expire_all()
    stored = get_client(session, setup.business.id, client.id)
    assert (stored.first_name, stored.last_name) == ("Maria", "Lopez")
    assert stored.email == "maria.lopez@example.com"
    assert stored.cell_phone == "+12125550142"
    assert stored.cell_phone_error is None
    assert (stored.sms_reminders, stored.sms_account, stored.sms_marketing) == (True, True, True)
    assert stored.business_id == setup.business.id
    assert stored.created_at == stored.updated_at == clock.now()


def test_new_clients_get_the_default_switches(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = create_client(session, setup.business, ClientChanges(first_name="Ann"), clock.now())
    assert (client.sms_reminders, client.sms_account, client.sms_marketing) == (True, True, False)
    assert client.cell_phone is None
    assert client.last_name == ""


@pytest.mark.parametrize("first_name", [None, "", "   "])
def test_a_first_name_is_required(
    session: Session, setup: SetUp, clock: FrozenClock, first_name: str | None
) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_client(session, setup.business, ClientChanges(first_name=first_name), clock.now())
    assert refused.value.field == "first_name"


@pytest.mark.parametrize("email", ["maria", "maria@", "@example.com", "maria@example", "a b@c.de"])
def test_a_bad_email_is_refused(
    session: Session, setup: SetUp, clock: FrozenClock, email: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_client(
            session, setup.business, ClientChanges(first_name="Ann", email=email), clock.now()
        )
    assert refused.value.field == "email"


def test_a_landline_is_refused_on_create(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_client(
            session,
            setup.business,
            ClientChanges(first_name="Ann", cell_phone="+44 20 7946 0000"),
            clock.now(),
        )
    assert refused.value.field == "cell_phone"
    assert "landline" in refused.value.message


def test_cell_phone_is_parsed_in_the_business_country(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    uk = make_business(
        session,
        context.carrier,
        clock.now(),
        country="GB",
        timezone="Europe/London",
        business_phone="+442079460000",
    )
    client = make_client(session, uk.business, clock.now(), cell_phone="07400 123456")
    assert client.cell_phone == "+447400123456"
    with pytest.raises(InvalidInput) as refused:
        make_client(session, uk.business, clock.now(), cell_phone="020 7946 0001")
    assert "landline" in refused.value.message


def test_update_changes_only_the_given_fields(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    later = clock.now() + timedelta(hours=1)
    updated = update_client(
        session,
        setup.business,
        client.id,
        ClientChanges(last_name="Lopez-Garcia", sms_reminders=False),
        later,
    )
    assert updated.id == client.id
    assert (updated.first_name, updated.last_name) == ("Maria", "Lopez-Garcia")
    assert updated.cell_phone == "+12125550142"
    assert updated.sms_reminders is False
    assert updated.sms_account is True
    assert updated.updated_at == later
    assert updated.created_at == clock.now()


def test_a_bad_field_in_an_update_changes_nothing(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    session.commit()

    with pytest.raises(InvalidInput) as refused:
        update_client(
            session,
            setup.business,
            client.id,
            ClientChanges(first_name="Marisol", email="m@example.com", cell_phone="020 7946 0000"),
            clock.now() + timedelta(hours=1),
        )

    assert refused.value.field == "cell_phone"
    # Not even the object in memory took the good fields.
    assert (client.first_name, client.email, client.cell_phone) == ("Maria", None, "+12125550142")
    assert client.updated_at == clock.now()
    session.rollback()
    session.refresh(client)
    assert (client.first_name, client.email, client.cell_phone) == ("Maria", None, "+12125550142")


def test_a_bad_email_in_an_update_keeps_the_new_phone_out_too(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    with pytest.raises(InvalidInput):
        update_client(
            session,
            setup.business,
            client.id,
            ClientChanges(cell_phone="(212) 555-0199", email="nope"),
            clock.now(),
        )
    assert client.cell_phone == "+12125550142"


def test_an_empty_cell_phone_clears_the_number(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    update_client(session, setup.business, client.id, ClientChanges(cell_phone=""), clock.now())
    session.expire_all()
    assert get_client(session, setup.business.id, client.id).cell_phone is None


def test_an_empty_email_clears_the_email(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    update_client(
        session, setup.business, client.id, ClientChanges(email="a@b.example"), clock.now()
    )
    assert client.email == "a@b.example"
    update_client(session, setup.business, client.id, ClientChanges(email=" "), clock.now())
    assert client.email is None


def test_a_changed_number_clears_the_carriers_error(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    client.cell_phone_error = "The carrier says this number cannot receive texts."
    session.flush()

    # The same number written differently is not a change: the carrier's verdict stands.
    update_client(
        session, setup.business, client.id, ClientChanges(cell_phone="(212) 555-0142"), clock.now()
    )
    assert client.cell_phone_error is not None

    update_client(
        session, setup.business, client.id, ClientChanges(cell_phone="(212) 555-0199"), clock.now()
    )
    session.expire_all()
    stored = get_client(session, setup.business.id, client.id)
    assert stored.cell_phone == "+12125550199"
    assert stored.cell_phone_error is None


def test_another_business_cannot_read_or_update_the_client(
    session: Session, context: AppContext, setup: SetUp, clock: FrozenClock
) -> None:
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    client = make_client(session, setup.business, clock.now())

    with pytest.raises(NotFound):
        get_client(session, other.business.id, client.id)
    with pytest.raises(NotFound):
        update_client(
            session, other.business, client.id, ClientChanges(first_name="Hacked"), clock.now()
        )
    session.expire_all()
    assert get_client(session, setup.business.id, client.id).first_name == "Maria"


def test_a_time_zone_must_be_an_iana_name_and_a_bad_one_changes_nothing(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    client = make_client(session, setup.business, clock.now())
    update_client(
        session, setup.business, client.id, ClientChanges(timezone=" Europe/London "), clock.now()
    )
    assert client.timezone == "Europe/London"
    with pytest.raises(InvalidInput) as refused:
        update_client(
            session,
            setup.business,
            client.id,
            ClientChanges(first_name="Mary", timezone="EST5EDT/Nowhere"),
            clock.now(),
        )
    assert refused.value.field == "timezone"
    assert (client.first_name, client.timezone) == ("Maria", "Europe/London")
    update_client(session, setup.business, client.id, ClientChanges(timezone=""), clock.now())
    assert client.timezone is None


# ---------------------------------------------------------------------------- shared numbers


def test_a_cell_phone_another_client_has_is_found_with_its_consent(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    maria = make_client(session, setup.business, clock.now())  # +12125550142
    shared = shared_cell_phone(session, setup.business, "(212) 555-0142")
    assert shared is not None
    assert (shared.cell_phone, shared.holders, shared.consent) == ("+12125550142", [maria], None)

    set_consent(
        session, business_id=setup.business.id, phone="+12125550142", opted_out=True,
        source="keyword", keyword="STOP", sms_number=None, message_id=None, at=clock.now(),
    )  # fmt: skip
    shared = shared_cell_phone(session, setup.business, "+1 212 555 0142")
    assert shared is not None and shared.consent is not None and shared.consent.opted_out


def test_no_warning_for_a_new_number_a_bad_one_or_the_clients_own(
    session: Session, setup: SetUp, context: AppContext, clock: FrozenClock
) -> None:
    maria = make_client(session, setup.business, clock.now())
    assert shared_cell_phone(session, setup.business, "(212) 555-0199") is None
    assert shared_cell_phone(session, setup.business, "12") is None  # the save says why
    assert shared_cell_phone(session, setup.business, "") is None
    assert shared_cell_phone(session, setup.business, "(212) 555-0142", maria.id) is None
    # Another business's client with the number is none of this business's concern.
    other = make_business(session, context.carrier, clock.now(), business_phone="+13125550100")
    make_client(session, other.business, clock.now(), cell_phone="+12125550177")
    assert shared_cell_phone(session, setup.business, "(212) 555-0177") is None


def test_an_existing_client_moving_to_a_held_number_is_warned(
    session: Session, setup: SetUp, clock: FrozenClock
) -> None:
    maria = make_client(session, setup.business, clock.now())
    james = make_client(session, setup.business, clock.now(), first_name="James",
                        cell_phone="+12125550143")  # fmt: skip
    shared = shared_cell_phone(session, setup.business, "+12125550142", james.id)
    assert shared is not None and shared.holders == [maria]
